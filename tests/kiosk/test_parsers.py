"""TLV, MRZ, data-group and EF.SOD parsers: known documents, bad check digits, and hypothesis fuzzing."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.card import tlv
from kiosk.card.apdu import ApduFormatError, ResponseAPDU
from kiosk.card.datagroups import build_dg1, build_dg2, parse_com, parse_dg1, parse_dg2
from kiosk.card.errors import DataGroupError
from kiosk.card.mrz import MrzError, MrzKey, check_digit, compose_td1, compose_td3, parse_mrz, yymmdd_to_date
from kiosk.card.passive_auth import passive_authentication
from kiosk.card.secure_messaging import SecureMessagingFault, TripleDesSecureMessaging
from kiosk.card.sod import SodError, parse_sod

# ICAO 9303 Part 4 and Part 5 specimens, exactly as printed there.
ICAO_TD3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F1204159ZE184226B<<<<<10"
ICAO_TD1 = "I<UTOD231458907<<<<<<<<<<<<<<<7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<"


def test_icao_td3_specimen():
    m = parse_mrz(ICAO_TD3)
    assert (m.format, m.document_code, m.issuing_state, m.document_number) == ("TD3", "P", "UTO", "L898902C3")
    assert (m.surname, m.given_names, m.nationality, m.sex) == ("ERIKSSON", "ANNA MARIA", "UTO", "F")
    assert m.birth_date == dt.date(1974, 8, 12) and m.expiry_date == dt.date(2012, 4, 15)
    assert m.optional_data == "ZE184226B"


def test_icao_td1_specimen_with_newlines():
    m = parse_mrz(ICAO_TD1[:30] + "\n" + ICAO_TD1[30:60] + "\n" + ICAO_TD1[60:])
    assert (m.format, m.document_code, m.document_number, m.surname, m.given_names) == (
        "TD1",
        "I",
        "D23145890",
        "ERIKSSON",
        "ANNA MARIA",
    )


def test_td1_long_document_number_round_trip():
    mrz = compose_td1(
        issuing_state="UTO",
        surname="NG",
        given_names="LI",
        document_number="D23145890123",
        nationality="UTO",
        birth_date="990101",
        sex="M",
        expiry_date="300101",
    )
    assert parse_mrz(mrz).document_number == "D23145890123"


@pytest.mark.parametrize(
    "position,name", [(53, "document number"), (63, "date of birth"), (71, "date of expiry"), (87, "composite")]
)
def test_wrong_check_digit_is_named(position, name):
    broken = ICAO_TD3[:position] + str((int(ICAO_TD3[position]) + 1) % 10) + ICAO_TD3[position + 1 :]
    with pytest.raises(MrzError, match=name):
        parse_mrz(broken)


def test_check_digit_and_bac_information():
    assert check_digit("L898902C3") == "6" and check_digit("740812") == "2"
    assert MrzKey("l898902c3", "740812", "120415").information() == "L898902C3674081221204159"
    with pytest.raises(MrzError):
        MrzKey("L898902C3", "741312", "120415")
    assert "L898902C3" not in repr(MrzKey("L898902C3", "740812", "120415"))


def test_century_of_birth_dates():
    today = dt.date(2026, 11, 23)
    assert yymmdd_to_date("740812", past=True, today=today) == dt.date(1974, 8, 12)
    assert yymmdd_to_date("100101", past=True, today=today) == dt.date(2010, 1, 1)
    assert yymmdd_to_date("<<<<<<", past=True, today=today) is None


def test_dg1_with_corrupt_check_digit_is_a_data_group_error():
    broken = ICAO_TD3[:53] + "7" + ICAO_TD3[54:]
    with pytest.raises(DataGroupError, match="check digit"):
        parse_dg1(build_dg1(broken))


def test_dg2_that_is_not_an_image():
    with pytest.raises(DataGroupError, match="no JPEG or JPEG 2000"):
        parse_dg2(build_dg2(b"GIF89a not a face at all", 10, 10))


def test_passive_auth_reports_malformed_sod_as_invalid():
    result = passive_authentication(tlv.encode(0x77, b"\x30\x03\x02\x01"), {1: b"x"}, None)
    assert result.status == "invalid" and "malformed" in result.reason


def test_tampered_sm_response_is_refused():
    keys = (bytes(16), bytes(range(16)), bytes(8))
    answer = ResponseAPDU.from_bytes(bytes.fromhex("990290008E08FA855A5D4C50A8ED9000"))
    with pytest.raises(SecureMessagingFault, match="MAC"):
        TripleDesSecureMessaging(*keys).unprotect(answer)
    with pytest.raises(SecureMessagingFault, match="unprotected"):
        TripleDesSecureMessaging(*keys).unprotect(ResponseAPDU(b"", 0x6988))


# -- fuzzing ------------------------------------------------------------------------------------------------------
tags = st.sampled_from([0x04, 0x30, 0x5C, 0x5F1F, 0x7F61, 0x7F2E, 0x87, 0x99])


@given(tags, st.binary(max_size=600))
@settings(deadline=None)  # a loaded CI machine must not fail a parser test on time
def test_tlv_round_trip(tag, value):
    encoded = tlv.encode(tag, value)
    element = tlv.parse(encoded)
    assert (element.tag, element.value, element.raw) == (tag, value, encoded)
    assert tlv.header_length(encoded[:6]) == len(encoded)


@given(st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_tlv_never_fails_otherwise_than_tlverror(data):
    try:
        elements = tlv.parse_all(data)
    except tlv.TLVError:
        return
    assert b"".join(e.raw for e in elements) == data


@given(tags, st.binary(min_size=1, max_size=300), st.data())
@settings(deadline=None)  # a loaded CI machine must not fail a parser test on time
def test_truncated_tlv_is_detected(tag, value, data):
    encoded = tlv.encode(tag, value)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(tlv.TLVError):
        tlv.parse(encoded[:cut])


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_data_group_and_sod_parsers_only_raise_their_own_errors(data):
    for parser in (parse_com, parse_dg1, parse_dg2):
        for blob in (data, tlv.encode(0x60, data), tlv.encode(0x61, data), tlv.encode(0x75, data)):
            with contextlib.suppress(DataGroupError):
                parser(blob)
    for blob in (data, tlv.encode(0x77, data)):
        with contextlib.suppress(SodError):
            parse_sod(blob)
    with contextlib.suppress(ApduFormatError):
        ResponseAPDU.from_bytes(data)


mrz_chars = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<", min_size=0, max_size=95)


@given(st.one_of(mrz_chars, st.text(max_size=95)))
@settings(max_examples=400, deadline=None)
def test_mrz_parser_only_raises_mrz_error(text):
    with contextlib.suppress(MrzError):
        parse_mrz(text)


@given(st.sampled_from([88, 90]).flatmap(lambda n: st.text(alphabet="0123456789<ABCZ", min_size=n, max_size=n)))
@settings(max_examples=300, deadline=None)
def test_random_full_length_mrz_only_raises_mrz_error(text):
    with contextlib.suppress(MrzError):
        parse_mrz(text)


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
dates = st.dates(dt.date(1930, 1, 1), dt.date(2029, 12, 31)).map(lambda d: d.strftime("%y%m%d"))
numbers = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=5, max_size=9)


@given(names, names, names, numbers, dates, dates, st.sampled_from("MFX"), st.booleans())
@settings(deadline=None)  # a loaded CI machine must not fail a parser test on time
def test_composed_mrz_round_trips(surname, given1, given2, number, birth, expiry, sex, td1):
    fields = dict(
        issuing_state="UTO",
        surname=surname,
        given_names=f"{given1} {given2}",
        document_number=number,
        nationality="UTO",
        birth_date=birth,
        sex=sex,
        expiry_date=expiry,
    )
    mrz = compose_td1(**fields) if td1 else compose_td3(**fields)
    parsed = parse_mrz(mrz)
    assert parsed.document_number == number and parsed.surname == surname[: 30 if td1 else 39]
    assert (parsed.birth_date_raw, parsed.expiry_date_raw, parsed.sex) == (birth, expiry, sex)
    assert parsed.key().information() == MrzKey(number, birth, expiry).information()


# -- mutated genuine structures: every corruption ends in the parser's own error, never a crash -----------------------
@pytest.fixture(scope="module")
def genuine(pki, face, td3):
    from kiosk.card.personalisation import personalise

    return personalise(td3, face[:3000] + b"\xff\xd9", pki, dg2=build_dg2(b"\xff\xd8\xff" + bytes(2000), 40, 50))


def _mutate(data: bytes, draw) -> bytes:
    choice = draw(st.sampled_from(["cut", "flip", "insert"]))
    pos = draw(st.integers(0, len(data) - 1))
    if choice == "cut":
        return data[:pos]
    if choice == "flip":
        return data[:pos] + bytes([data[pos] ^ draw(st.integers(1, 255))]) + data[pos + 1 :]
    return data[:pos] + draw(st.binary(min_size=1, max_size=8)) + data[pos:]


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_mutated_data_groups_and_sod(genuine, data):
    from kiosk.card.datagroups import DG_FILES, EF_COM, EF_SOD

    files = genuine.files
    for fid, parser in ((EF_COM, parse_com), (DG_FILES[1], parse_dg1), (DG_FILES[2], parse_dg2)):
        with contextlib.suppress(DataGroupError):
            parser(_mutate(files[fid], data.draw))
    sod = _mutate(files[EF_SOD], data.draw)
    with contextlib.suppress(SodError):
        parse_sod(sod)
    result = passive_authentication(sod, {1: files[DG_FILES[1]], 2: files[DG_FILES[2]]}, None)
    assert result.status in ("invalid", "no_trust_anchor")


@given(st.binary(min_size=4, max_size=300), st.booleans())
@settings(max_examples=300, deadline=None)
def test_chip_and_terminal_survive_garbage(genuine, data, after_bac):
    """The virtual chip answers any bytes with a status word; the terminal's SM refuses garbage with its own error."""
    from kiosk.card.access import PlainChannel
    from kiosk.card.bac import BasicAccessControl
    from kiosk.card.emrtd import select_application
    from kiosk.card.emulator import DirectConnection, EmrtdApplet
    from kiosk.card.mrz import KeyedMrzSource

    applet = EmrtdApplet(genuine)
    connection = DirectConnection(applet)
    if after_bac:
        channel = PlainChannel(connection)
        select_application(channel)
        BasicAccessControl().establish(
            channel, KeyedMrzSource(genuine.key.document_number, genuine.key.birth_date, genuine.key.expiry_date)
        )
    answer = applet.process(data)
    assert len(answer) >= 2
    with contextlib.suppress(SecureMessagingFault):
        TripleDesSecureMessaging(bytes(16), bytes(16), bytes(8)).unprotect(ResponseAPDU.from_bytes(data))
