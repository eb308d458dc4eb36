"""Conformance through pcscd + vpcd: TD2 and partial-date documents, chips answering errors in plain after BAC,
and the Document Signer certificate's validity dates in passive authentication."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.card.access import PlainChannel, ReopeningChannel
from kiosk.card.apdu import CommandAPDU
from kiosk.card.bac import BasicAccessControl
from kiosk.card.emrtd import EmrtdSession, read_file, select_application
from kiosk.card.emulator import DirectConnection, EmrtdApplet
from kiosk.card.errors import CardError, SecureMessagingError
from kiosk.card.mrz import FullMrzSource, KeyedMrzSource, compose_td3
from kiosk.card.personalisation import personalise
from kiosk.card.pki import create_test_pki

from .conftest import TD3_FIELDS
from .test_mrz import PART11_TD2

RIGHT = KeyedMrzSource("L898902C3", "740812", "340415")
SELECT_DG5 = CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("0105"))


def read(reader, source=RIGHT, trust_store=None):
    connection = reader.wait_for_card(10)
    try:
        return EmrtdSession(connection, trust_store=trust_store).read(source)
    finally:
        connection.close()


# -- MRZ dates and TD2 on a chip ---------------------------------------------------------------------------------------
def test_part11_td2_document_reads_and_is_expired_since_1995(emrtd, reader, trust_store):
    emrtd(PART11_TD2)
    result = read(reader, FullMrzSource(PART11_TD2), trust_store)
    assert (result.mrz_format, result.document_type, result.document_number) == ("TD2", "I", "D23145890734")
    assert (result.birth_date, result.expiry_date) == (dt.date(1934, 7, 12), dt.date(1995, 7, 12))
    assert result.expired and result.to_json()["expired"] is True
    assert result.passive_auth.status == "valid"


def test_td2_long_number_keyed_in_opens_bac(emrtd, reader):
    emrtd(PART11_TD2)
    assert read(reader, KeyedMrzSource("D23145890734", "340712", "950712")).surname == "STEVENSON"


def test_birth_date_with_unknown_parts_opens_bac(emrtd, reader, trust_store):
    mrz = compose_td3(**(TD3_FIELDS | {"birth_date": "74<<<<"}))
    emrtd(mrz)
    result = read(reader, KeyedMrzSource("L898902C3", "74<<<<", "340415"), trust_store)
    assert result.birth_date is None and result.to_json()["birth_date"] is None
    assert result.passive_auth.status == "valid"
    assert read(reader, FullMrzSource(mrz)).surname == "ERIKSSON"


# -- errors answered in plain after BAC --------------------------------------------------------------------------------
def test_missing_sod_answered_in_plain_is_absent_and_access_reopens(insert, reader, face, td3, trust_store):
    applet = EmrtdApplet(personalise(td3, face, None), plain_errors=True)
    insert(applet)
    result = read(reader, trust_store=trust_store)
    assert result.passive_auth.status == "absent"
    assert (result.surname, result.photo.data) == ("ERIKSSON", face)
    assert applet.external_authenticate_count == 2  # BAC again after the chip ended its session


def test_plain_errors_chip_with_everything_present_needs_one_bac(insert, reader, face, td3, pki, trust_store):
    applet = EmrtdApplet(personalise(td3, face, pki), plain_errors=True)
    insert(applet)
    assert read(reader, trust_store=trust_store).passive_auth.status == "valid"
    assert applet.external_authenticate_count == 1


def test_plain_error_is_that_status_unauthenticated_and_ends_the_session(emrtd, reader):
    _, applet = emrtd()
    applet.plain_errors = True
    connection = reader.wait_for_card(10)
    try:
        plain = PlainChannel(connection)
        select_application(plain)
        secure = BasicAccessControl().establish(plain, RIGHT)
        answer = secure.transmit(SELECT_DG5)
        assert (answer.sw, answer.authenticated) == (0x6A82, False)
        with pytest.raises(SecureMessagingError, match="open access again"):
            secure.transmit(CommandAPDU(0x00, 0xA4, 0x02, 0x0C, bytes.fromhex("011E")))
    finally:
        connection.close()


def test_protected_answers_are_marked_authenticated(emrtd, reader):
    emrtd()
    connection = reader.wait_for_card(10)
    try:
        plain = PlainChannel(connection)
        select_application(plain)
        secure = BasicAccessControl().establish(plain, RIGHT)
        answer = secure.transmit(SELECT_DG5)
        assert (answer.sw, answer.authenticated) == (0x6A82, True)
    finally:
        connection.close()


def test_a_chip_ending_every_session_is_not_followed_for_ever(face, td3):
    applet = EmrtdApplet(personalise(td3, face, None), plain_errors=True)
    channel = PlainChannel(DirectConnection(applet))

    def open_access():
        select_application(channel)
        return BasicAccessControl().establish(channel, RIGHT)

    secure = ReopeningChannel(open_access)
    with pytest.raises(SecureMessagingError, match="keeps ending"):
        for fid in range(0x0105, 0x0115):  # all missing
            try:
                read_file(secure, fid)
            except SecureMessagingError:
                raise
            except CardError:  # file not found, as expected
                continue
    assert secure.reopened == ReopeningChannel.MAX_REOPENS


# -- the Document Signer certificate's validity dates -------------------------------------------------------------------
def test_expired_document_signer_is_invalid(emrtd, reader):
    now = dt.datetime.now(dt.UTC)
    pki = create_test_pki("UT", ds_not_before=now - dt.timedelta(days=400), ds_not_after=now - dt.timedelta(days=2))
    emrtd(pki_=pki)
    from kiosk.card.trust_store import TrustStore

    pa = read(reader, trust_store=TrustStore([pki.csca_cert])).passive_auth
    assert pa.status == "invalid" and pa.reason.startswith("Document Signer certificate expired on ")


def test_document_signer_not_yet_valid_is_invalid(emrtd, reader):
    now = dt.datetime.now(dt.UTC)
    pki = create_test_pki("UT", ds_not_before=now + dt.timedelta(days=3))
    emrtd(pki_=pki)
    from kiosk.card.trust_store import TrustStore

    pa = read(reader, trust_store=TrustStore([pki.csca_cert])).passive_auth
    assert pa.status == "invalid" and pa.reason.startswith("Document Signer certificate not valid before ")
