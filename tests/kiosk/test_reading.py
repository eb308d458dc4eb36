"""Reading virtual eMRTDs through the real pcscd + vpcd stack: the good path, every bad input, and the faults."""

from __future__ import annotations

import pytest

from kiosk.card.access import PlainChannel
from kiosk.card.apdu import CommandAPDU
from kiosk.card.datagroups import DG_FILES, EF_SOD, build_dg2
from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import EMRTD_ATR, ForeignApplet
from kiosk.card.errors import AccessDenied, CardRemoved, DataGroupError, UnsupportedCard
from kiosk.card.mrz import FullMrzSource, KeyedMrzSource, compose_td3
from kiosk.card.pki import create_test_pki

from .conftest import TD3_FIELDS

RIGHT = KeyedMrzSource("L898902C3", "740812", "340415")


def read(reader, source=RIGHT, trust_store=None):
    connection = reader.wait_for_card(10)
    try:
        return EmrtdSession(connection, trust_store=trust_store).read(source)
    finally:
        connection.close()


def test_full_read_td3_with_valid_passive_authentication(emrtd, reader, trust_store, face):
    emrtd()
    result = read(reader, trust_store=trust_store)
    assert result.to_json() | {"timings_ms": None} == {
        "document_type": "P",
        "issuing_state": "UTO",
        "document_number": "L898902C3",
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "nationality": "UTO",
        "birth_date": "1974-08-12",
        "expiry_date": "2034-04-15",
        "sex": "F",
        "expired": False,
        "photo_format": "jpeg2000",
        "passive_auth": {"status": "valid", "reason": None, "crl": "missing"},
        "apdus": result.apdus,
        "timings_ms": None,
        "access": "bac",
        "chip_auth": {"status": "absent", "reason": result.chip_auth.reason, "method": None},
    }
    assert result.photo.data == face and (result.photo.width, result.photo.height) == (320, 400)
    assert result.data_groups == [1, 2]
    # select + BAC (2) + 4 files x (select + header + chunks); the 15 KB photo dominates
    assert 75 < result.apdus < 100
    assert set(result.timings_ms) >= {"access", "read", "passive_auth", "total"}


def test_td1_identity_card(emrtd, reader, trust_store, td1):
    emrtd(td1)
    result = read(reader, KeyedMrzSource("D23145890", "740812", "340415"), trust_store)
    assert (result.mrz_format, result.document_type, result.document_number) == ("TD1", "ID", "D23145890")
    assert result.passive_auth.status == "valid"


def test_expired_document_is_flagged(emrtd, reader, trust_store):
    expired = compose_td3(**(TD3_FIELDS | {"expiry_date": "200101"}))
    emrtd(expired)
    result = read(reader, FullMrzSource(expired), trust_store)
    assert result.expired and result.expiry_date.isoformat() == "2020-01-01"


def test_without_trust_store_no_trust_anchor(emrtd, reader):
    emrtd()
    assert read(reader).passive_auth.status == "no_trust_anchor"


def test_sod_from_unknown_csca(emrtd, reader, trust_store):
    emrtd(pki_=create_test_pki("UT", label="unknown country"))
    pa = read(reader, trust_store=trust_store).passive_auth
    assert pa.status == "no_trust_anchor"


def test_ds_certificate_not_issued_by_the_trusted_csca_of_that_name(emrtd, reader, trust_store):
    emrtd(pki_=create_test_pki("UT"))  # same CSCA name as the trusted one, different key: a forgery
    pa = read(reader, trust_store=trust_store).passive_auth
    assert (pa.status, pa.reason) == ("invalid", "Document Signer certificate not signed by the trusted CSCA")


def test_tampered_data_group_hash_mismatch(emrtd, reader, trust_store, face):
    _, applet = emrtd()
    # Swap the photo after the SOD was signed, as a forger replacing the face would.
    applet.profile.files[DG_FILES[2]] = build_dg2(face[:-200] + bytes(200), 320, 400)
    pa = read(reader, trust_store=trust_store).passive_auth
    assert (pa.status, pa.reason) == ("invalid", "DG2 hash mismatch")


def test_tampered_sod_signature(emrtd, reader, trust_store):
    _, applet = emrtd()
    sod = bytearray(applet.profile.files[EF_SOD])
    sod[-10] ^= 0x01  # inside the signature, the last field of the SignerInfo
    applet.profile.files[EF_SOD] = bytes(sod)
    pa = read(reader, trust_store=trust_store).passive_auth
    assert pa.status == "invalid" and "signature" in pa.reason


def test_no_sod_is_absent(emrtd, reader, trust_store):
    emrtd(pki_=None)
    assert read(reader, trust_store=trust_store).passive_auth.status == "absent"


def test_corrupt_dg1_check_digits(emrtd, reader, trust_store, td3):
    broken = td3[:53] + str((int(td3[53]) + 1) % 10) + td3[54:]
    emrtd(broken, validate=False)
    with pytest.raises(DataGroupError, match="check digit wrong for document number"):
        read(reader, trust_store=trust_store)


def test_dg2_not_an_image(emrtd, reader):
    emrtd(dg2=build_dg2(b"\x89PNG\r\n\x1a\n" + bytes(3000), 320, 400))
    with pytest.raises(DataGroupError, match="no JPEG or JPEG 2000 image"):
        read(reader)


def test_wrong_mrz_is_refused_once_then_the_right_one_works(emrtd, reader):
    _, applet = emrtd()
    with pytest.raises(AccessDenied) as refused:
        read(reader, KeyedMrzSource("L898902C4", "740812", "340415"))
    assert "check the document number" in refused.value.visitor_message
    assert refused.value.exit_code == 2
    assert applet.external_authenticate_count == 1  # one attempt per presentation: no retry storm
    assert read(reader).surname == "ERIKSSON"


def test_card_pulled_mid_read_then_next_card_reads(emrtd, reader, pcscd):
    card, _ = emrtd()
    card.pull_after = 30  # during DG2
    with pytest.raises(CardRemoved):
        read(reader)
    assert reader.wait_until_empty(10)
    card.remove()
    card.pull_after = None
    card.insert()
    assert read(reader).document_number == "L898902C3"


def test_non_emrtd_card_is_unsupported(insert, reader):
    insert(ForeignApplet())
    with pytest.raises(UnsupportedCard) as err:
        read(reader)
    assert err.value.exit_code == 4


def test_chip_enforces_bac_and_secure_messaging(emrtd, reader):
    emrtd()
    connection = reader.wait_for_card(10)
    try:
        assert connection.atr == EMRTD_ATR
        channel = PlainChannel(connection)
        assert channel.transmit(CommandAPDU(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))).sw == 0x9000
        assert channel.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("0101"))).sw == 0x6982
        assert channel.transmit(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)).sw == 0x6982
        # A forged EXTERNAL AUTHENTICATE without a challenge first is refused too.
        assert channel.transmit(CommandAPDU(0x00, 0x82, 0x00, 0x00, bytes(40), le=40)).sw == 0x6985
    finally:
        connection.close()


def test_secure_messaging_errors_are_protected_and_sessions_end_on_plain_commands(emrtd, reader):
    from kiosk.card.bac import BasicAccessControl
    from kiosk.card.emrtd import select_application

    emrtd()
    connection = reader.wait_for_card(10)
    try:
        plain = PlainChannel(connection)
        select_application(plain)
        secure = BasicAccessControl().establish(plain, RIGHT)
        # File not found comes back inside secure messaging (DO'99' + MAC), as ICAO asks.
        assert secure.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("0105"))).sw == 0x6A82
        # A plain command in the middle of the session ends it: the next protected command fails.
        assert plain.transmit(CommandAPDU(0x00, 0xB0, 0x00, 0x00, le=4)).sw == 0x6982
        with pytest.raises(Exception, match="secure messaging"):
            secure.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E")))
    finally:
        connection.close()
