"""Extended-length APDUs: pcscd + vpcd carry them (measured here), the reader uses them when the chip announces them
(EF.ATR/INFO or the ATR's historical bytes) with secure messaging over extended length, and falls back to short
chained reads (READ BINARY odd INS past offset 32767) otherwise. A 60 KB JPEG 2000 DG2 is read end to end through
pcscd both ways, under BAC and PACE."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.card.apdu import CommandAPDU
from kiosk.card.capabilities import (
    READER_MAX_RESPONSE,
    SHORT_ONLY,
    build_atr_info,
    extended_historical_bytes,
    from_atr_info,
    from_historical_bytes,
    historical_bytes,
)
from kiosk.card.emrtd import EmrtdSession, chunk_for, protected_size
from kiosk.card.emulator import EMRTD_ATR, EmrtdApplet, contactless_atr
from kiosk.card.mrz import KeyedMrzSource
from kiosk.card.personalisation import personalise

from .conftest import FACE

SOURCE = KeyedMrzSource("L898902C3", "740812", "340415")


def _photo(rate: int) -> bytes:
    """The test face enlarged to 640x800 and encoded as JPEG 2000 at this rate (x1000): 40 gives ~60 KB."""
    face = cv2.imdecode(np.frombuffer(FACE.read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    big = cv2.resize(face, (640, 800), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jp2", big, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, rate])
    assert ok
    return encoded.tobytes()


@pytest.fixture(scope="module")
def photo_60k() -> bytes:
    photo = _photo(40)
    assert 55_000 < len(photo) < 64_000
    return photo


@pytest.fixture(scope="module")
def photo_75k() -> bytes:
    photo = _photo(50)
    assert len(photo) > 65_536  # DG2 length on 3 bytes: 83 xx xx xx
    return photo


def read(reader):
    connection = reader.wait_for_card(10)
    try:
        session = EmrtdSession(connection, trust_store=None)
        return session, session.read(SOURCE)
    finally:
        connection.close()


# -- the transport ------------------------------------------------------------------------------------------------


class _Echo:
    """A card that answers any APDU with as many bytes as its last two bytes ask for (Le), recording what it got."""

    atr = EMRTD_ATR

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def reset(self) -> None:
        pass

    def process(self, command: bytes) -> bytes:
        self.received.append(command)
        wanted = int.from_bytes(command[-2:], "big") or 65536
        return (bytes(range(256)) * 257)[: min(wanted, READER_MAX_RESPONSE)] + b"\x90\x00"


def test_pcscd_and_vpcd_carry_extended_apdus_up_to_vpcds_frame(insert, reader):
    """Debian's pcscd 1.9.9 + vpcd pass extended commands and answers; vpcd frames each with a 2-byte length, so an
    answer holds at most 65535 bytes with its status word (65533 of data): the reader never asks for more."""
    echo = _Echo()
    insert(echo)
    connection = reader.wait_for_card(10)
    try:
        big_command = CommandAPDU(0x00, 0xB0, 0, 0, bytes(range(256)) * 234, le=0x8000).to_bytes()
        answer = connection.transmit(big_command)
        assert echo.received[-1] == big_command and len(big_command) == 4 + 3 + 59_904 + 2
        assert len(answer) == 0x8000 + 2 and answer[-2:] == b"\x90\x00"
        answer = connection.transmit(CommandAPDU(0x00, 0xB0, 0, 0, le=65536).to_bytes())
        assert len(answer) == READER_MAX_RESPONSE + 2 == 65535
    finally:
        connection.close()


# -- encodings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "raw"),
    [
        (CommandAPDU(0, 0xB0, 0, 0, le=65536), "00B00000000000"),
        (CommandAPDU(0, 0xB0, 0, 0, le=300), "00B0000000012C"),
        (CommandAPDU(0, 0xD6, 0, 0, bytes(300)), "00D6000000012C" + "00" * 300),
        (CommandAPDU(0, 0xB1, 0, 0, bytes.fromhex("540100"), 65536, extended=True), "00B10000000003540100" + "0000"),
        (CommandAPDU(0, 0xB0, 0, 0, le=256), "00B0000000"),
    ],
)
def test_extended_encodings(command, raw):
    assert command.to_bytes().hex().upper() == raw.upper()
    parsed = CommandAPDU.from_bytes(bytes.fromhex(raw))
    assert (parsed.data, parsed.le, parsed.is_extended) == (command.data, command.le, command.is_extended)


@given(
    data=st.binary(max_size=600),
    le=st.none() | st.integers(1, 65536),
    extended=st.booleans(),
)
def test_any_command_round_trips(data, le, extended):
    command = CommandAPDU(0x0C, 0xB0, 1, 2, data, le, extended and (bool(data) or le is not None))
    parsed = CommandAPDU.from_bytes(command.to_bytes())
    assert (parsed.data, parsed.le, parsed.is_extended) == (data, le, command.is_extended)


def test_capabilities_from_atr_info_and_historical_bytes():
    caps = from_atr_info(build_atr_info(0x1000, 40_000))
    assert caps is not None and (caps.extended_length, caps.max_command, caps.max_response) == (True, 0x1000, 40_000)
    atr = contactless_atr(extended_historical_bytes())
    assert from_historical_bytes(historical_bytes(atr))
    assert not from_historical_bytes(historical_bytes(EMRTD_ATR))
    assert from_atr_info(b"\x47\x03\x00\x00\x00") is None and from_atr_info(b"\xff\xff") is None
    assert SHORT_ONLY.max_response == 256


def test_chunks_fit_the_response_size():
    assert chunk_for(256, odd=False) == 0xDF  # the short chunk the reader always used
    for limit in (256, 1000, 65533):
        for odd in (False, True):
            chunk = chunk_for(limit, odd)
            assert protected_size(chunk, odd) <= limit < protected_size(chunk + 1, odd)


# -- reads through pcscd ------------------------------------------------------------------------------------------


def _chip(td3, photo, pki, **kwargs):
    return EmrtdApplet(personalise(td3, photo, pki), **kwargs)


def test_60k_dg2_with_extended_length_through_pcscd(insert, reader, td3, pki, trust_store, photo_60k):
    applet = insert(_chip(td3, photo_60k, pki, extended_length=True)).applet
    connection = reader.wait_for_card(10)
    try:
        session = EmrtdSession(connection, trust_store=trust_store)
        result = session.read(SOURCE)
    finally:
        connection.close()
    assert result.photo.data == photo_60k and (result.photo.width, result.photo.height) == (640, 800)
    assert result.passive_auth.status == "valid"
    assert session.capabilities.extended_length and session.capabilities.announced_in == "EF.ATR/INFO"
    # DG2 in two READ BINARY: the 5-byte header, then the rest in one extended answer
    assert applet.extended_apdus >= 1 and applet.secured_commands[0xB0] <= 10
    assert applet.secured_commands[0xB1] == 0


def test_60k_dg2_on_a_short_only_chip_is_read_in_short_chained_reads(insert, reader, td3, pki, trust_store, photo_60k):
    applet = insert(_chip(td3, photo_60k, pki)).applet
    session, result = read(reader)
    assert result.photo.data == photo_60k
    assert not session.capabilities.extended_length and applet.extended_apdus == 0
    # past offset 32767 the reader switches to READ BINARY odd INS (DO'54' offset, DO'53' data)
    assert applet.secured_commands[0xB1] > 100 and applet.secured_commands[0xB0] > 140


@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
def test_dg2_beyond_64k_reads_both_ways(insert, reader, td3, pki, photo_75k, extended):
    applet = insert(_chip(td3, photo_75k, pki, extended_length=extended)).applet
    session, result = read(reader)
    assert result.photo.data == photo_75k
    assert session.capabilities.extended_length is extended and (applet.extended_apdus > 0) is extended


@pytest.mark.parametrize("announce", [("atr",), ("atr_info",)])
def test_either_announcement_is_enough(insert, reader, td3, pki, face, announce):
    applet = insert(_chip(td3, face, pki, extended_length=True, announce=announce)).applet
    session, result = read(reader)
    assert session.capabilities.extended_length and applet.extended_apdus > 0
    assert session.capabilities.announced_in == ("historical bytes" if announce == ("atr",) else "EF.ATR/INFO")
    assert result.photo.data == face


def test_pace_aes_secure_messaging_over_extended_length(insert, reader, td3, pki, photo_60k):
    applet = insert(_chip(td3, photo_60k, pki, extended_length=True, access="pace")).applet
    session, result = read(reader)
    assert result.access == "pace" and result.photo.data == photo_60k and session.capabilities.extended_length
    assert applet.extended_apdus >= 1 and applet.secured_commands[0xB1] == 0


def test_a_short_only_chip_refuses_an_extended_apdu_with_6700(insert, reader, td3, pki, face):
    applet = insert(_chip(td3, face, pki)).applet
    connection = reader.wait_for_card(10)
    try:
        answer = connection.transmit(CommandAPDU(0x00, 0xB0, 0, 0, le=1000).to_bytes())
    finally:
        connection.close()
    assert answer == b"\x67\x00" and applet.extended_apdus == 1


def test_rsa_2048_active_authentication_asks_with_extended_le(insert, reader, td3, pki, face):
    """A 2048-bit RSA AA signature under secure messaging is ~290 bytes: more than a short answer carries."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    profile = personalise(td3, face, pki, aa_key=rsa.generate_private_key(65537, 2048))
    applet = insert(EmrtdApplet(profile, extended_length=True)).applet
    _session, result = read(reader)
    assert (result.chip_auth.status, result.chip_auth.method) == ("valid", "active_authentication")
    assert applet.secured_commands[0x88] == 1 and applet.extended_apdus >= 2


def test_the_read_reports_its_progress_by_stage_and_by_the_photos_bytes(insert, reader, td3, pki, photo_60k):
    """The kiosk's progress bar: never backwards, through the photo in many steps (a short-only chip: ~270 reads),
    ending at 1 once passive authentication is done."""
    from kiosk.card.emrtd import PHOTO_FROM, PHOTO_TO

    insert(_chip(td3, photo_60k, pki))
    heard: list[float] = []
    connection = reader.wait_for_card(10)
    try:
        EmrtdSession(connection, trust_store=None, progress=heard.append).read(SOURCE)
    finally:
        connection.close()
    assert heard == sorted(heard) and heard[0] > 0 and heard[-1] == 1.0
    through_photo = [d for d in heard if PHOTO_FROM < d <= PHOTO_TO]
    assert len(through_photo) > 50 and through_photo[-1] == PHOTO_TO
