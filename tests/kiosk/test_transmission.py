"""Transmission habits of chips and readers, through pcscd + vpcd: answers handed out in parts (61xx, fetched with
GET RESPONSE), answers given only for the exact Le (6Cxx, the command sent again), and chips or reader drivers that
announce extended length but refuse extended APDUs (6700, or a failed transmission): the read goes on in short
APDUs with chained reads and keeps to them for the rest of the session."""

from __future__ import annotations

import pytest

from kiosk.card.emrtd import EmrtdSession
from kiosk.card.emulator import Chaining, EmrtdApplet, ExtendedRefusal
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.passwords import CanSource
from kiosk.card.personalisation import personalise

SOURCE = KeyedMrzSource("L898902C3", "740812", "340415")
CAN = "123456"


def _read(reader, source=SOURCE, trust_store=None):
    connection = reader.wait_for_card(10)
    try:
        session = EmrtdSession(connection, trust_store=trust_store)
        return session, session.read(source)
    finally:
        connection.close()


def _chip(td3, photo, pki, **kwargs):
    return EmrtdApplet(personalise(td3, photo, pki), **kwargs)


# -- response chaining ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", [0, 64])
def test_answers_in_parts_are_gathered_with_get_response(insert, reader, td3, pki, face, trust_store, part):
    """A chip answering 61xx (with no data first, or 64 bytes at a time): every part is fetched with GET RESPONSE,
    secure messaging checks the whole answer, the photo arrives byte for byte and passive authentication holds."""
    applet = insert(_chip(td3, face, pki, chaining=Chaining.GET_RESPONSE, chain_part=part)).applet
    session, result = _read(reader, trust_store=trust_store)
    assert result.photo.data == face and result.passive_auth.status == "valid"
    assert applet.get_responses > 50 and session.channel.get_responses == applet.get_responses


def test_get_response_under_pace_with_a_can(insert, reader, td3, pki, face):
    applet = insert(_chip(td3, face, pki, access="pace", can=CAN, chaining=Chaining.GET_RESPONSE, chain_part=32)).applet
    session, result = _read(reader, CanSource(CAN))
    assert result.access == "pace" and result.photo.data == face
    assert session.channel.get_responses == applet.get_responses > 50


def test_wrong_le_is_sent_again_with_the_length_the_chip_names(insert, reader, td3, pki, face, trust_store):
    """A chip answering 6Cxx unless Le is exactly the answer's length: each such command goes again with Le xx, once,
    and the chip's answer to it (kept, not run twice: secure messaging counters moved) is the one checked."""
    applet = insert(_chip(td3, face, pki, chaining=Chaining.EXACT_LE)).applet
    session, result = _read(reader, trust_store=trust_store)
    assert result.photo.data == face and result.passive_auth.status == "valid"
    assert applet.wrong_le_answers > 50 and session.channel.le_corrections == applet.wrong_le_answers


def test_a_chip_that_never_stops_chaining_is_refused_not_followed(insert, reader):
    """61xx for ever (a broken or hostile card): the reader gives up with a CardError instead of looping."""
    from kiosk.card.access import PlainChannel
    from kiosk.card.apdu import CommandAPDU
    from kiosk.card.emulator import EMRTD_ATR
    from kiosk.card.errors import CardError

    class Endless:
        atr = EMRTD_ATR

        def reset(self) -> None:
            pass

        def process(self, command: bytes) -> bytes:
            return b"\x00" * 16 + b"\x61\x10"

    insert(Endless())
    connection = reader.wait_for_card(10)
    try:
        channel = PlainChannel(connection)
        with pytest.raises(CardError, match="without end"):
            channel.transmit(CommandAPDU(0x00, 0xB0, 0, 0, le=256))
    finally:
        connection.close()


# -- extended length announced but refused --------------------------------------------------------------------------


@pytest.mark.parametrize("refusal", [ExtendedRefusal.WRONG_LENGTH, ExtendedRefusal.TRANSPORT])
@pytest.mark.parametrize("access", ["bac", "pace"])
def test_extended_length_refused_falls_back_to_short_apdus_for_the_session(
    insert, reader, td3, pki, face, trust_store, refusal, access
):
    applet = insert(_chip(td3, face, pki, extended_length=True, refuse_extended=refusal, access=access, can=CAN)).applet
    session, result = _read(reader, CanSource(CAN) if access == "pace" else SOURCE, trust_store)
    assert result.photo.data == face and result.passive_auth.status == "valid"
    assert session.length.announced.extended_length and not session.capabilities.extended_length
    assert session.length.fell_back is not None
    assert ("6700" in session.length.fell_back) is (refusal == ExtendedRefusal.WRONG_LENGTH)
    assert applet.extended_apdus == 1  # tried once; the choice is kept for every later file of the session
