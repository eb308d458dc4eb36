"""Machine-readable zone: check digits, the BAC key information, TD1/TD3 parsing and composition, and MRZ sources."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol

_WEIGHTS = (7, 3, 1)
_ALLOWED = re.compile(r"^[0-9A-Z<]*$")


class MrzError(ValueError):
    """The MRZ or MRZ information is malformed or a check digit is wrong."""


def _value(ch: str) -> int:
    if ch.isdigit():
        return ord(ch) - 48
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise MrzError(f"character {ch!r} not allowed in an MRZ")


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3 check digit: weights 7-3-1 over digit values (A=10..Z=35, filler=0), modulo 10."""
    return str(sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10)


def _verify(field: str, digit: str, name: str) -> None:
    # A field entirely of fillers may carry '<' as check digit (optional data left empty).
    if digit == "<" and set(field) <= {"<"}:
        return
    if check_digit(field) != digit:
        raise MrzError(f"check digit wrong for {name}")


def _valid_yymmdd(value: str) -> bool:
    if not re.fullmatch(r"\d{6}", value):
        return False
    try:
        dt.date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:
        return False
    return True


def _valid_partial_yymmdd(value: str) -> bool:
    """A date as printed in an MRZ: YYMMDD, where unknown parts are fillers ('<') and the known parts are sane."""
    if not re.fullmatch(r"[0-9<]{6}", value):
        return False
    if "<" not in value:
        return _valid_yymmdd(value)
    known = value.rstrip("<")
    if "<" in known or len(known) % 2:
        return False  # only whole trailing parts may be unknown: YY<<<<, YYMM<< or <<<<<<
    month, day = value[2:4], value[4:6]
    if month != "<<" and not 1 <= int(month) <= 12:
        return False
    return day == "<<" or 1 <= int(day) <= 31


@dataclass(frozen=True)
class MrzKey:
    """What BAC (and PACE with the MRZ password) needs: document number, date of birth and date of expiry (YYMMDD,
    unknown parts written '<' as the MRZ prints them). Never log it.

    `check_digits`, when given, are the three check digits as printed in the MRZ; the chip's key was made from the
    printed zone, so they win over computed ones (a filler check digit, or a long number's digit computed with the
    filler, both exist on issued documents)."""

    document_number: str
    birth_date: str
    expiry_date: str
    check_digits: tuple[str, str, str] | None = None

    def __post_init__(self) -> None:
        number = self.document_number.strip().upper().replace(" ", "")
        object.__setattr__(self, "document_number", number)
        if not number or not _ALLOWED.match(number) or len(number) > 22:
            raise MrzError("document number must be 1-22 letters or digits")
        for name in ("birth_date", "expiry_date"):
            if not _valid_partial_yymmdd(getattr(self, name)):
                raise MrzError(f"{name.replace('_', ' ')} must be a date as YYMMDD ('<' for unknown parts)")
        digits = self.check_digits
        if digits is not None and (len(digits) != 3 or any(d not in "0123456789<" or len(d) != 1 for d in digits)):
            raise MrzError("check digits must be three digits or fillers")

    def information(self) -> str:
        """The 'MRZ information' hashed into K_seed: each field followed by its check digit (ICAO 9303-11, BAC)."""
        number = self.document_number.ljust(9, "<")
        fields = (number, self.birth_date, self.expiry_date)
        digits = self.check_digits or tuple(check_digit(f) for f in fields)
        return "".join(f + d for f, d in zip(fields, digits, strict=True))

    def __repr__(self) -> str:  # keep personal data out of logs and tracebacks
        return "MrzKey(<redacted>)"


class MrzSource(Protocol):
    """Where BAC gets the MRZ information: keyed in by the visitor today; an OCR scanner or CAN entry later."""

    def mrz_key(self) -> MrzKey: ...


@dataclass(frozen=True)
class KeyedMrzSource:
    """Fields typed by the visitor on the kiosk screen or given on the command line."""

    document_number: str
    birth_date: str
    expiry_date: str

    def mrz_key(self) -> MrzKey:
        return MrzKey(self.document_number, self.birth_date, self.expiry_date)

    def __repr__(self) -> str:
        return "KeyedMrzSource(<redacted>)"


@dataclass(frozen=True)
class FullMrzSource:
    """A whole MRZ (e.g. from a document scanner), lines concatenated."""

    mrz: str

    def mrz_key(self) -> MrzKey:
        return parse_mrz(self.mrz).key()

    def __repr__(self) -> str:
        return "FullMrzSource(<redacted>)"


TD1, TD2, TD3, MRV_A, MRV_B = "TD1", "TD2", "TD3", "MRV-A", "MRV-B"


@dataclass(frozen=True)
class MrzData:
    """A parsed MRZ. Dates are kept raw (YYMMDD, as printed) and as ISO dates when they are complete."""

    format: str  # TD1, TD2, TD3, MRV-A or MRV-B
    document_code: str
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date_raw: str
    sex: str
    expiry_date_raw: str
    optional_data: str
    # The printed check digits of number, birth and expiry: what the chip's BAC key was made from.
    check_digits: tuple[str, str, str] | None = None

    @property
    def is_visa(self) -> bool:
        return self.format in (MRV_A, MRV_B)

    @property
    def birth_date(self) -> dt.date | None:
        return birth_date(self.birth_date_raw)

    @property
    def expiry_date(self) -> dt.date | None:
        return expiry_date(self.expiry_date_raw)

    def key(self) -> MrzKey:
        return MrzKey(self.document_number, self.birth_date_raw, self.expiry_date_raw, self.check_digits)

    def __repr__(self) -> str:
        return f"MrzData({self.format}, <redacted>)"


def _today(today: dt.date | None) -> dt.date:
    return today or dt.datetime.now(dt.UTC).date()


def _date_in_century(value: str, century: int) -> dt.date | None:
    try:
        return dt.date(century + int(value[:2]), int(value[2:4]), int(value[4:6]))
    except ValueError:  # 29 February in a non-leap century year
        return None


# A document issued in the last 60 years and valid for at most 20 expires after today - 80 years and before today +
# 20 years: that 100-year window gives each two-digit year exactly one century.
EXPIRY_YEARS_AHEAD = 20


def expiry_date(value: str, today: dt.date | None = None) -> dt.date | None:
    """The expiry date of an MRZ, in the 100 years ending EXPIRY_YEARS_AHEAD after today; None when not a full date."""
    if not _valid_yymmdd(value):
        return None
    last = _today(today).year + EXPIRY_YEARS_AHEAD
    year = last - (last - int(value[:2])) % 100
    return _date_in_century(value, year - int(value[:2]))


def birth_date(value: str, today: dt.date | None = None) -> dt.date | None:
    """A birth date is never in the future: the latest date on or before today with these digits (a birth later this
    year belongs to the previous century). None when parts are unknown ('<')."""
    if not _valid_yymmdd(value):
        return None
    now = _today(today)
    century = now.year - now.year % 100
    candidate = _date_in_century(value, century)
    if candidate is None or candidate > now:
        candidate = _date_in_century(value, century - 100)
    return candidate


def yymmdd_to_date(value: str, past: bool, today: dt.date | None = None) -> dt.date | None:
    """Kept for callers of the earlier interface: past=True is a birth date, past=False an expiry date."""
    return birth_date(value, today) if past else expiry_date(value, today)


def _name_part(text: str) -> str:
    return " ".join(part for part in text.split("<") if part)


def _names(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    return _name_part(primary), _name_part(secondary)


def _clean(field: str) -> str:
    return field.replace("<", " ").strip()


def parse_mrz(mrz: str) -> MrzData:
    """Parse a TD1 (3 x 30), TD2 (2 x 36), TD3 (2 x 44) or visa (MRV-A 2 x 44, MRV-B 2 x 36) MRZ, lines concatenated
    or newline-separated; every check digit the format has is verified."""
    if not isinstance(mrz, str):
        raise MrzError("MRZ must be text")
    text = "".join(mrz.split())
    if not _ALLOWED.match(text):
        raise MrzError("MRZ holds characters other than A-Z, 0-9 and '<'")
    visa = text[:1] == "V"  # ICAO 9303-7: visa document codes start with V
    if len(text) == 88:
        return _parse_visa(MRV_A, text[:44], text[44:]) if visa else _parse_td3(text[:44], text[44:])
    if len(text) == 72:
        return _parse_visa(MRV_B, text[:36], text[36:]) if visa else _parse_td2(text[:36], text[36:])
    if len(text) == 90:
        return _parse_td1(text[:30], text[30:60], text[60:])
    raise MrzError(f"MRZ has {len(text)} characters; expected 90 (TD1), 72 (TD2, MRV-B) or 88 (TD3, MRV-A)")


def _dates(line: str, birth_at: int, expiry_at: int) -> tuple[str, str, str, str]:
    """Birth and expiry fields with their check digits, both verified."""
    birth, birth_cd = line[birth_at : birth_at + 6], line[birth_at + 6]
    expiry, expiry_cd = line[expiry_at : expiry_at + 6], line[expiry_at + 6]
    _verify(birth, birth_cd, "date of birth")
    _verify(expiry, expiry_cd, "date of expiry")
    return birth, birth_cd, expiry, expiry_cd


def _document_number(number: str, number_cd: str, optional: str) -> tuple[str, str, str]:
    """(full number, its printed check digit, the optional data left) for TD1 and TD2.

    A number longer than 9 characters puts '<' in the check-digit position and continues in the optional data, ended
    by its check digit (ICAO 9303-5 4.2.4). Issuers compute that digit over the number alone (as ICAO says) or over the
    printed field with its filler; other readers accept both, and so do we."""
    if number_cd == "<" and optional.strip("<"):
        extension = optional.split("<", 1)[0]
        if len(extension) < 2:
            raise MrzError("long document number extension malformed")
        full, digit = number + extension[:-1], extension[-1]
        if digit not in (check_digit(full), check_digit(number + "<" + extension[:-1])):
            raise MrzError("check digit wrong for document number")
        return full, digit, optional[len(extension) :]
    _verify(number, number_cd, "document number")
    return number, number_cd, optional


def _two_line(
    kind: str,
    l1: str,
    l2: str,
    number: str,
    surname: str,
    given: str,
    birth: str,
    expiry: str,
    optional: str,
    check_digits: tuple[str, str, str],
) -> MrzData:
    """TD3 and TD2 share line 1's code and state and line 2's nationality and sex positions."""
    return MrzData(
        kind,
        _clean(l1[0:2]),
        _clean(l1[2:5]),
        number.replace("<", ""),
        surname,
        given,
        _clean(l2[10:13]),
        birth,
        l2[20],
        expiry,
        _clean(optional),
        check_digits,
    )


def _parse_td3(l1: str, l2: str) -> MrzData:
    number, number_cd = l2[0:9], l2[9]
    optional, optional_cd = l2[28:42], l2[42]
    _verify(number, number_cd, "document number")
    birth, birth_cd, expiry, expiry_cd = _dates(l2, 13, 21)
    _verify(optional, optional_cd, "optional data")
    _verify(l2[0:10] + l2[13:20] + l2[21:43], l2[43], "composite")
    surname, given = _names(l1[5:44])
    return _two_line(TD3, l1, l2, number, surname, given, birth, expiry, optional, (number_cd, birth_cd, expiry_cd))


def _parse_td2(l1: str, l2: str) -> MrzData:
    number, number_cd, optional = _document_number(l2[0:9], l2[9], l2[28:35])
    birth, birth_cd, expiry, expiry_cd = _dates(l2, 13, 21)
    _verify(l2[0:10] + l2[13:20] + l2[21:35], l2[35], "composite")
    surname, given = _names(l1[5:36])
    return _two_line(TD2, l1, l2, number, surname, given, birth, expiry, optional, (number_cd, birth_cd, expiry_cd))


def _parse_visa(kind: str, l1: str, l2: str) -> MrzData:
    """MRV-A and MRV-B (ICAO 9303-7): TD3/TD2 layout, but optional data to the end of the line and no composite."""
    number, number_cd = l2[0:9], l2[9]
    _verify(number, number_cd, "document number")
    birth, birth_cd, expiry, expiry_cd = _dates(l2, 13, 21)
    surname, given = _names(l1[5:])
    return MrzData(
        kind,
        _clean(l1[0:2]),
        _clean(l1[2:5]),
        number.replace("<", ""),
        surname,
        given,
        _clean(l2[10:13]),
        birth,
        l2[20],
        expiry,
        _clean(l2[28:]),
        (number_cd, birth_cd, expiry_cd),
    )


def _parse_td1(l1: str, l2: str, l3: str) -> MrzData:
    number, number_cd, optional1 = _document_number(l1[5:14], l1[14], l1[15:30])
    birth, birth_cd, expiry, expiry_cd = _dates(l2, 0, 8)
    _verify(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29], "composite")
    surname, given = _names(l3)
    optional = (_clean(optional1) + " " + _clean(l2[18:29])).strip()
    return MrzData(
        TD1,
        _clean(l1[0:2]),
        _clean(l1[2:5]),
        number.replace("<", ""),
        surname,
        given,
        _clean(l2[15:18]),
        birth,
        l2[7],
        expiry,
        optional,
        (number_cd, birth_cd, expiry_cd),
    )


def _field(value: str, width: int) -> str:
    value = value.upper().replace(" ", "<")
    if len(value) > width:
        raise MrzError(f"{value!r} longer than {width}")
    return value.ljust(width, "<")


def _name_field(surname: str, given_names: str, width: int) -> str:
    text = surname.upper().replace(" ", "<") + "<<" + given_names.upper().replace(" ", "<")
    return text[:width].ljust(width, "<")


def compose_td3(
    *,
    document_code: str = "P",
    issuing_state: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    optional_data: str = "",
) -> str:
    """Build a TD3 MRZ (88 characters) with correct check digits; used to personalise the virtual card and in tests."""
    l1 = _field(document_code, 2) + _field(issuing_state, 3) + _name_field(surname, given_names, 39)
    number = _field(document_number, 9)
    optional = _field(optional_data, 14)
    optional_cd = "<" if set(optional) == {"<"} else check_digit(optional)
    body = (
        number
        + check_digit(number)
        + _field(nationality, 3)
        + birth_date
        + check_digit(birth_date)
        + _field(sex, 1)
        + expiry_date
        + check_digit(expiry_date)
        + optional
        + optional_cd
    )
    composite = check_digit(body[0:10] + body[13:20] + body[21:43])
    return l1 + body + composite


def compose_td2(
    *,
    document_code: str = "I",
    issuing_state: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    optional_data: str = "",
) -> str:
    """Build a TD2 MRZ (72 characters); document numbers over 9 characters use the ICAO extension."""
    number = document_number.upper()
    if len(number) > 9:
        head = number[:9] + "<"
        optional = _field(number[9:] + check_digit(number) + optional_data, 7)
    else:
        padded = _field(number, 9)
        head = padded + check_digit(padded)
        optional = _field(optional_data, 7)
    l1 = _field(document_code, 2) + _field(issuing_state, 3) + _name_field(surname, given_names, 31)
    body = (
        head
        + _field(nationality, 3)
        + birth_date
        + check_digit(birth_date)
        + _field(sex, 1)
        + expiry_date
        + check_digit(expiry_date)
        + optional
    )
    return l1 + body + check_digit(body[0:10] + body[13:20] + body[21:35])


def compose_td1(
    *,
    document_code: str = "ID",
    issuing_state: str,
    surname: str,
    given_names: str,
    document_number: str,
    nationality: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    optional_data: str = "",
) -> str:
    """Build a TD1 MRZ (90 characters); document numbers over 9 characters use the ICAO extension."""
    number = document_number.upper()
    if len(number) > 9:
        extension = number[9:] + check_digit(number)
        l1_rest = number[:9] + "<" + _field(extension + optional_data, 15)
    else:
        padded = _field(number, 9)
        l1_rest = padded + check_digit(padded) + _field(optional_data, 15)
    l1 = _field(document_code, 2) + _field(issuing_state, 3) + l1_rest
    l2 = (
        birth_date
        + check_digit(birth_date)
        + _field(sex, 1)
        + expiry_date
        + check_digit(expiry_date)
        + _field(nationality, 3)
        + "<" * 11
    )
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    return l1 + l2 + _name_field(surname, given_names, 30)
