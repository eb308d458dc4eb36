"""MRZ conformance: the century of each date, TD2 documents, visas, long document numbers, unknown birth-date parts.

Specimens: ICAO Doc 9303 Part 6 (TD2), Part 7 (MRV-A, MRV-B) and Part 11 Appendix D.2 (the TD2 BAC sample "STEVENSON",
expiring 1995, whose key seed is printed there; other readers' test suites quote the same values).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.card import icao_crypto as ic
from kiosk.card.mrz import (
    FullMrzSource,
    KeyedMrzSource,
    MrzError,
    MrzKey,
    birth_date,
    check_digit,
    compose_td1,
    compose_td2,
    compose_td3,
    expiry_date,
    parse_mrz,
)

TODAY = dt.date(2026, 12, 1)

# ICAO 9303 Part 11, Appendix D.2: TD2 with a 12-character document number (check-digit position '<').
PART11_TD2 = "I<UTOSTEVENSON<<PETER<JOHN<<<<<<<<<<D23145890<UTO3407127M95071227349<<<8"
PART11_TD2_INFORMATION = "D23145890734934071279507122"
PART11_TD2_SEED = "B366AD857DDCA2B08C0E299811714730"
# The same person and number on a TD1 card (long number continued in the optional data).
PART11_TD1 = "I<UTOD23145890<7349<<<<<<<<<<<3407127M9507122UTO<<<<<<<<<<<2STEVENSON<<PETER<JOHN<<<<<<<<<"
# ICAO 9303 Part 6 TD2 specimen.
ICAO_TD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6"
# ICAO 9303 Part 7 visa specimens (no composite check digit; optional data to the end of line 2).
ICAO_MRV_A = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L8988901C4XXX4009078F96121096ZE184226B<<<<<<"
ICAO_MRV_B = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<L8988901C4XXX4009078F9612109<<<<<<<<"

FIELDS = dict(
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="L898902C3",
    nationality="UTO",
    birth_date="740812",
    sex="F",
    expiry_date="340415",
)


# -- dates --------------------------------------------------------------------------------------------------------
def test_part11_td2_specimen_expires_1995_not_2095():
    m = parse_mrz(PART11_TD2)
    assert m.expiry_date == dt.date(1995, 7, 12)
    assert m.birth_date == dt.date(1934, 7, 12)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("950712", dt.date(1995, 7, 12)),  # Part 11 specimen: long expired
        ("120415", dt.date(2012, 4, 15)),  # Part 4 specimen
        ("340415", dt.date(2034, 4, 15)),
        ("460101", dt.date(2046, 1, 1)),  # 20 years ahead: a 20-year document issued today
        ("470101", dt.date(1947, 1, 1)),  # beyond that: the past century
        ("670101", dt.date(1967, 1, 1)),  # a document issued 60 years ago with a one-year validity
    ],
)
def test_expiry_century(raw, expected):
    assert expiry_date(raw, today=TODAY) == expected


def test_birth_later_this_year_is_last_century():
    assert birth_date("261215", today=TODAY) == dt.date(1926, 12, 15)
    assert birth_date("261201", today=TODAY) == dt.date(2026, 12, 1)  # born today
    assert birth_date("261130", today=TODAY) == dt.date(2026, 11, 30)
    assert birth_date("740812", today=TODAY) == dt.date(1974, 8, 12)
    assert birth_date("000229", today=TODAY) == dt.date(2000, 2, 29)


def test_birth_date_with_unknown_parts_parses_and_keys_bac():
    mrz = compose_td3(**(FIELDS | {"birth_date": "74<<<<"}))
    m = parse_mrz(mrz)
    assert m.birth_date_raw == "74<<<<" and m.birth_date is None
    # The key comes from the raw field and its printed check digit, as the chip's was.
    assert m.key().information() == "L898902C3674<<<<" + check_digit("74<<<<") + "3404159"
    assert MrzKey("L898902C3", "7408<<", "340415").birth_date == "7408<<"
    assert KeyedMrzSource("L898902C3", "<<<<<<", "340415").mrz_key().information()[10:17] == "<<<<<<0"


def test_wholly_unknown_birth_date_with_filler_check_digit():
    mrz = compose_td3(**(FIELDS | {"birth_date": "<<<<<<"}))
    mrz = mrz[:63] + "<" + mrz[64:]  # the issuer printed '<' as check digit of an empty field
    mrz = mrz[:87] + check_digit(mrz[44:54] + mrz[57:64] + mrz[65:87])
    m = parse_mrz(mrz)
    assert m.birth_date is None
    assert m.key().information()[10:17] == "<<<<<<<"  # the printed digit, not a computed '0'


@pytest.mark.parametrize("bad", ["7<0812", "741312", "740832", "74<<12", "ABCDEF", "7408"])
def test_malformed_dates_are_refused(bad):
    with pytest.raises(MrzError, match="birth date"):
        MrzKey("L898902C3", bad, "340415")


# -- TD2 and visas --------------------------------------------------------------------------------------------------
def test_part11_td2_sample_parses_and_gives_the_published_key_seed():
    m = parse_mrz(PART11_TD2[:36] + "\n" + PART11_TD2[36:])
    assert (m.format, m.document_code, m.issuing_state, m.document_number) == ("TD2", "I", "UTO", "D23145890734")
    assert (m.surname, m.given_names, m.sex, m.nationality) == ("STEVENSON", "PETER JOHN", "M", "UTO")
    assert m.key().information() == PART11_TD2_INFORMATION
    assert ic.key_seed(m.key().information()).hex().upper() == PART11_TD2_SEED
    assert FullMrzSource(PART11_TD2).mrz_key().information() == PART11_TD2_INFORMATION


def test_part11_td1_long_number_gives_the_same_key():
    m = parse_mrz(PART11_TD1)
    assert (m.format, m.document_number) == ("TD1", "D23145890734")
    assert m.key().information() == PART11_TD2_INFORMATION


def test_icao_td2_specimen():
    m = parse_mrz(ICAO_TD2)
    assert (m.format, m.document_number, m.surname, m.given_names) == ("TD2", "D23145890", "ERIKSSON", "ANNA MARIA")
    assert (m.birth_date, m.expiry_date) == (dt.date(1974, 8, 12), dt.date(2012, 4, 15))


def test_td2_wrong_composite_is_named():
    with pytest.raises(MrzError, match="composite"):
        parse_mrz(ICAO_TD2[:-1] + "7")


@pytest.mark.parametrize("mrz,kind", [(ICAO_MRV_A, "MRV-A"), (ICAO_MRV_B, "MRV-B")])
def test_visas_are_recognised_not_refused(mrz, kind):
    m = parse_mrz(mrz)
    assert (m.format, m.document_code, m.document_number, m.is_visa) == (kind, "V", "L8988901C", True)
    assert (m.nationality, m.birth_date, m.expiry_date) == ("XXX", dt.date(1940, 9, 7), dt.date(1996, 12, 10))


def test_visa_check_digits_still_verified():
    broken = ICAO_MRV_A[:53] + "5" + ICAO_MRV_A[54:]
    with pytest.raises(MrzError, match="document number"):
        parse_mrz(broken)


def test_compose_td2_round_trips_short_and_long_numbers():
    for number in ("D23145890", "AB12", "D23145890734"):
        mrz = compose_td2(**(FIELDS | {"document_number": number}))
        assert len(mrz) == 72 and parse_mrz(mrz).document_number == number


# -- long TD1 document numbers: both readings of the check digit ------------------------------------------------------
def _long_number_with_differing_readings() -> str:
    for n in range(1000):
        number = f"X{n:011d}"
        if check_digit(number) != check_digit(number[:9] + "<" + number[9:]):
            return number
    raise AssertionError("no such number")


def test_long_td1_number_check_digit_with_and_without_filler():
    number = _long_number_with_differing_readings()
    icao = compose_td1(**(FIELDS | {"document_number": number}))
    assert parse_mrz(icao).document_number == number
    # The other reading: the digit computed over the printed field, filler included.
    digit = check_digit(number[:9] + "<" + number[9:])
    line1 = icao[:15] + number[9:] + digit + icao[15 + len(number) - 9 + 1 : 30]
    line2 = icao[30:59] + check_digit(line1[5:30] + icao[30:37] + icao[38:45] + icao[48:59])
    other = line1 + line2 + icao[60:]
    m = parse_mrz(other)
    assert m.document_number == number
    assert m.key().information().startswith(number + digit)  # BAC uses the digit the chip was made from
    wrong = str((int(digit) + 1) % 10)
    if wrong == check_digit(number):
        wrong = str((int(digit) + 2) % 10)
    with pytest.raises(MrzError, match="document number"):
        parse_mrz(line1[:15] + number[9:] + wrong + line1[15 + len(number) - 9 + 1 :] + line2 + icao[60:])


def test_key_seed_is_sha1_of_the_information():
    info = parse_mrz(PART11_TD2).key().information()
    assert ic.key_seed(info) == hashlib.sha1(info.encode()).digest()[:16]


@given(st.sampled_from([72, 88, 90]).flatmap(lambda n: st.text(alphabet="0123456789<ABCVZ", min_size=n, max_size=n)))
@settings(max_examples=300, deadline=None)
def test_random_mrz_of_every_length_only_raises_mrz_error(text):
    with contextlib.suppress(MrzError):
        parse_mrz(text)


@given(
    # up to 15 characters: a long number's extension and its check digit fill at most the 7 optional characters
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=5, max_size=15),
    st.dates(dt.date(1930, 1, 1), dt.date(2026, 11, 30)).map(lambda d: d.strftime("%y%m%d")),
)
@settings(max_examples=200, deadline=None)
def test_composed_td2_round_trips(number, birth):
    mrz = compose_td2(**(FIELDS | {"document_number": number, "birth_date": birth}))
    parsed = parse_mrz(mrz)
    assert (parsed.format, parsed.document_number, parsed.birth_date_raw) == ("TD2", number, birth)
    assert parsed.key().information().startswith(number.ljust(9, "<"))
