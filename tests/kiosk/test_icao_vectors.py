"""BAC key derivation, mutual authentication and secure messaging against the ICAO 9303 Part 11 worked example."""

from __future__ import annotations

from kiosk.card import icao_crypto as ic
from kiosk.card.access import PlainChannel
from kiosk.card.apdu import CommandAPDU, ResponseAPDU
from kiosk.card.bac import BacKeys, BasicAccessControl, external_authenticate_data, session_keys
from kiosk.card.emulator import DirectConnection, EmrtdApplet
from kiosk.card.mrz import KeyedMrzSource, MrzKey
from kiosk.card.personalisation import EmrtdProfile
from kiosk.card.secure_messaging import CardSideSecureMessaging, TripleDesSecureMessaging

H = bytes.fromhex
KEY = MrzKey("L898902C", "690806", "940623")
RND_IC, RND_IFD = H("4608F91988702212"), H("781723860C06C226")
K_IFD, K_IC = H("0B795240CB7049B01C19B33E32804F0B"), H("0B4F80323EB3191CB04970CB4052790B")
KS_ENC, KS_MAC = H("979EC13B1CBFE9DCD01AB0FED307EAE5"), H("F1CB1F1FB5ADF208806B89DC579DC1F8")
SSC = H("887022120C06C226")
PROTECTED_SELECT = H("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
PROTECTED_ANSWER = H("990290008E08FA855A5D4C50A8ED9000")


def test_key_derivation():
    assert KEY.information() == "L898902C<369080619406236"
    seed = ic.key_seed(KEY.information())
    assert seed == H("239AB9CB282DAF66231DC5A4DF6BFBAE")
    keys = BacKeys.from_mrz(KEY)
    assert keys.k_enc == H("AB94FDECF2674FDFB9B391F85D7F76F2")
    assert keys.k_mac == H("7962D9ECE03D1ACD4C76089DCE131543")


def test_mutual_authentication_cryptogram():
    data = external_authenticate_data(BacKeys.from_mrz(KEY), RND_IFD, RND_IC, K_IFD)
    assert data[:32] == H("72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F2")
    assert data[32:] == H("5F1448EEA8AD90A7")


def test_session_keys_and_ssc():
    keys = session_keys(K_IFD, K_IC, RND_IC, RND_IFD)
    assert (keys.ks_enc, keys.ks_mac, keys.ssc) == (KS_ENC, KS_MAC, SSC)


def test_protected_select_and_response_mac():
    sm = TripleDesSecureMessaging(KS_ENC, KS_MAC, SSC)
    protected = sm.protect(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, H("011E")))
    assert sm.ssc == H("887022120C06C227")
    assert protected.to_bytes() == PROTECTED_SELECT
    answer = sm.unprotect(ResponseAPDU.from_bytes(PROTECTED_ANSWER))
    assert sm.ssc == H("887022120C06C228")
    assert answer == ResponseAPDU(b"", 0x9000)


def test_card_side_opens_the_worked_example_and_answers_it():
    card = CardSideSecureMessaging(KS_ENC, KS_MAC, SSC)
    inner = card.open_command(CommandAPDU.from_bytes(PROTECTED_SELECT))
    assert (inner.cla, inner.ins, inner.p1, inner.p2, inner.data) == (0x00, 0xA4, 0x02, 0x0C, H("011E"))
    assert card.protect_response(ResponseAPDU(b"", 0x9000)).to_bytes() == PROTECTED_ANSWER


def _sequence(*chunks: bytes):
    remaining = list(chunks)

    def random(n: int) -> bytes:
        chunk = remaining.pop(0)
        assert len(chunk) == n
        return chunk

    return random


def test_reader_and_virtual_chip_run_the_worked_example_end_to_end():
    """Our BAC against our chip, both fed the example's random numbers: the same keys, SSC and first protected APDU."""
    applet = EmrtdApplet(EmrtdProfile(KEY, {0x011E: H("60035C0161")}), random=_sequence(RND_IC, K_IC))
    connection = DirectConnection(applet)
    channel = PlainChannel(connection)
    channel.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, H("A0000002471001")))
    source = KeyedMrzSource("L898902C", "690806", "940623")
    secure = BasicAccessControl(random=_sequence(RND_IFD, K_IFD)).establish(channel, source)
    external_authenticate = connection.log[-1][0]
    assert external_authenticate[5:45].hex().upper() == (
        "72C29C2371CC9BDB65B779B8E8D37B29ECC154AA56A8799FAE2F498F76ED92F25F1448EEA8AD90A7"
    )
    assert secure.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, H("011E"))).sw == 0x9000
    assert connection.log[-1] == (PROTECTED_SELECT, PROTECTED_ANSWER)
