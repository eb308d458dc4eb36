"""PACE Generic Mapping against the ICAO 9303 Part 11 Appendix G.1 worked example (vectors and source in
pace_vectors.py): key derivation, nonce, mapping, key agreement, session keys, tokens, the APDU transcript of our
reader against our virtual chip, and AES secure messaging with the session keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kiosk.card import pace
from kiosk.card.access import PlainChannel
from kiosk.card.apdu import CommandAPDU, ResponseAPDU
from kiosk.card.card_access import PaceInfo
from kiosk.card.emulator import DirectConnection, EmrtdApplet
from kiosk.card.mrz import KeyedMrzSource, MrzKey
from kiosk.card.passwords import CanSource, PasswordRef, pace_password
from kiosk.card.personalisation import EmrtdProfile
from kiosk.card.secure_messaging import AesSecureMessaging, CardSideAesSecureMessaging

from . import pace_vectors as v

SUITE = pace.SUITES[pace.ECDH_GM + ".2"]  # id-PACE-ECDH-GM-AES-CBC-CMAC-128
CURVE = pace.CURVES[pace.BRAINPOOL_P256R1]
INFO = PaceInfo(SUITE.oid, 2, pace.BRAINPOOL_P256R1)
SOURCE = KeyedMrzSource(v.DOCUMENT_NUMBER, v.BIRTH, v.EXPIRY)


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


def test_password_and_password_key():
    password = pace_password(SOURCE)
    assert (password.ref, password.secret) == (PasswordRef.MRZ, v.K)
    assert pace.password_key(SUITE, password) == v.K_PI
    assert pace_password(CanSource("123456")).secret == b"123456"


def test_nonce_decryption():
    assert SUITE.decrypt_nonce(v.K_PI, v.NONCE_Z) == v.NONCE_S
    assert SUITE.encrypt_nonce(v.K_PI, v.NONCE_S) == v.NONCE_Z


def test_generic_mapping():
    assert pace.encode_point(CURVE, CURVE.generator * _int(v.SK_MAP_IFD)) == v.PK_MAP_IFD
    chip_map = pace.decode_point(CURVE, v.PK_MAP_IC)
    assert pace.encode_point(CURVE, chip_map * _int(v.SK_MAP_IFD)) == v.H_POINT
    mapped = pace.map_generator(CURVE, v.NONCE_S, _int(v.SK_MAP_IFD), chip_map)
    assert pace.encode_point(CURVE, mapped) == v.MAPPED_G
    # The chip computes the same generator from its side.
    terminal_map = pace.decode_point(CURVE, v.PK_MAP_IFD)
    assert pace.encode_point(CURVE, pace.map_generator(CURVE, v.NONCE_S, _int(v.SK_MAP_IC), terminal_map)) == v.MAPPED_G


def test_key_agreement_session_keys_and_tokens():
    mapped = pace.decode_point(CURVE, v.MAPPED_G)
    assert pace.encode_point(CURVE, mapped * _int(v.SK_DH_IFD)) == v.PK_DH_IFD
    k = pace.shared_secret(CURVE, _int(v.SK_DH_IFD), pace.decode_point(CURVE, v.PK_DH_IC))
    assert k == v.SHARED_SECRET == pace.shared_secret(CURVE, _int(v.SK_DH_IC), pace.decode_point(CURVE, v.PK_DH_IFD))
    assert (SUITE.kdf(k, 1), SUITE.kdf(k, 2)) == (v.KS_ENC, v.KS_MAC)
    assert SUITE.token(v.KS_MAC, v.PK_DH_IC) == v.T_IFD
    assert SUITE.token(v.KS_MAC, v.PK_DH_IFD) == v.T_IC


def test_points_off_the_curve_are_refused():
    bad = v.PK_DH_IC[:-1] + bytes([v.PK_DH_IC[-1] ^ 1])
    with pytest.raises(pace.PaceError, match="not on the curve"):
        pace.decode_point(CURVE, bad)
    with pytest.raises(pace.PaceError, match="uncompressed"):
        pace.decode_point(CURVE, b"\x02" + v.PK_DH_IC[1:33])


def test_aes_secure_messaging_cross_check():
    terminal = AesSecureMessaging(v.KS_ENC, v.KS_MAC)
    protected = terminal.protect(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001")))
    assert protected.to_bytes() == v.AES_SELECT_COMMAND
    assert terminal.unprotect(ResponseAPDU.from_bytes(v.AES_SELECT_ANSWER)) == ResponseAPDU(b"", 0x9000)
    chip = CardSideAesSecureMessaging(v.KS_ENC, v.KS_MAC)
    inner = chip.open_command(CommandAPDU.from_bytes(v.AES_SELECT_COMMAND))
    assert inner.data == bytes.fromhex("A0000002471001")
    assert chip.protect_response(ResponseAPDU(b"", 0x9000)).to_bytes() == v.AES_SELECT_ANSWER


def _sequence(*chunks: bytes) -> Callable[[int], bytes]:
    remaining = list(chunks)

    def random(n: int) -> bytes:
        chunk = remaining.pop(0)
        assert len(chunk) == n
        return chunk

    return random


def test_reader_and_virtual_chip_run_the_worked_example_end_to_end():
    """Our PACE against our chip, each fed the example's random numbers: the transcript is the published one, byte for
    byte, and the first protected APDU is the cross-checked one."""
    key = MrzKey(v.DOCUMENT_NUMBER, v.BIRTH, v.EXPIRY)
    applet = EmrtdApplet(
        EmrtdProfile(key, {0x011E: bytes.fromhex("60035C0161")}),
        access="pace",
        pace_infos=[INFO],
        random=_sequence(v.NONCE_S, v.SK_MAP_IC, v.SK_DH_IC),
    )
    connection = DirectConnection(applet)
    channel = PlainChannel(connection)
    secure = pace.PaceAccess(INFO, random=_sequence(v.SK_MAP_IFD, v.SK_DH_IFD)).establish(channel, SOURCE)
    assert connection.log == [(v.MSE_SET_AT, bytes.fromhex("9000")), v.GA_NONCE, v.GA_MAP, v.GA_AGREE, v.GA_TOKEN]
    assert secure.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))).sw == 0x9000
    assert connection.log[-1] == (v.AES_SELECT_COMMAND, v.AES_SELECT_ANSWER)
    assert applet.pace is not None and (applet.pace.attempts, applet.pace.failures) == (1, 0)
