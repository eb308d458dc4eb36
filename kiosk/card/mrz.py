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


@dataclass(frozen=True)
class MrzKey:
    """What BAC needs: document number, date of birth and date of expiry (YYMMDD). Never log it."""

    document_number: str
    birth_date: str
    expiry_date: str

    def __post_init__(self) -> None:
        number = self.document_number.strip().upper().replace(" ", "")
        object.__setattr__(self, "document_number", number)
        if not number or not _ALLOWED.match(number) or len(number) > 22:
            raise MrzError("document number must be 1-22 letters or digits")
        for name in ("birth_date", "expiry_date"):
            if not _valid_yymmdd(getattr(self, name)):
                raise MrzError(f"{name.replace('_', ' ')} must be a date as YYMMDD")

    def information(self) -> str:
        """The 'MRZ information' hashed into K_seed: each field followed by its check digit (ICAO 9303-11, BAC)."""
        number = self.document_number.ljust(9, "<")
        return (
            number + check_digit(number)
            + self.birth_date + check_digit(self.birth_date)
            + self.expiry_date + check_digit(self.expiry_date)
        )

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


@dataclass(frozen=True)
class FullMrzSource:
    """A whole MRZ (e.g. from a document scanner), lines concatenated."""

    mrz: str

    def mrz_key(self) -> MrzKey:
        parsed = parse_mrz(self.mrz)
        return MrzKey(parsed.document_number, parsed.birth_date_raw, parsed.expiry_date_raw)


@dataclass(frozen=True)
class MrzData:
    """A parsed MRZ. Dates are kept raw (YYMMDD) and as ISO dates when they are complete."""

    format: str  # "TD1" or "TD3"
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

    @property
    def birth_date(self) -> dt.date | None:
        return yymmdd_to_date(self.birth_date_raw, past=True)

    @property
    def expiry_date(self) -> dt.date | None:
        return yymmdd_to_date(self.expiry_date_raw, past=False)

    def key(self) -> MrzKey:
        return MrzKey(self.document_number, self.birth_date_raw, self.expiry_date_raw)

    def __repr__(self) -> str:
        return f"MrzData({self.format}, <redacted>)"


def yymmdd_to_date(value: str, past: bool, today: dt.date | None = None) -> dt.date | None:
    """Birth dates lie in the past (pick the century accordingly); expiry dates are taken in 2000-2099."""
    if not _valid_yymmdd(value):
        return None  # unknown parts are written with fillers on some documents
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:6])
    today = today or dt.datetime.now(dt.timezone.utc).date()
    year = 2000 + yy
    if past and year > today.year:
        year -= 100
    try:
        return dt.date(year, mm, dd)
    except ValueError:  # 29 February in a non-leap century
        return None


def _names(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    clean = lambda s: " ".join(part for part in s.split("<") if part)  # noqa: E731
    return clean(primary), clean(secondary)


def _clean(field: str) -> str:
    return field.replace("<", " ").strip()


def parse_mrz(mrz: str) -> MrzData:
    """Parse a TD3 (2 x 44) or TD1 (3 x 30) MRZ, lines concatenated or newline-separated; every check digit verified."""
    if not isinstance(mrz, str):
        raise MrzError("MRZ must be text")
    text = "".join(mrz.split())
    if not _ALLOWED.match(text):
        raise MrzError("MRZ holds characters other than A-Z, 0-9 and '<'")
    if len(text) == 88:
        return _parse_td3(text[:44], text[44:])
    if len(text) == 90:
        return _parse_td1(text[:30], text[30:60], text[60:])
    raise MrzError(f"MRZ has {len(text)} characters; expected 88 (TD3) or 90 (TD1)")


def _parse_td3(l1: str, l2: str) -> MrzData:
    number, number_cd = l2[0:9], l2[9]
    birth, birth_cd = l2[13:19], l2[19]
    expiry, expiry_cd = l2[21:27], l2[27]
    optional, optional_cd = l2[28:42], l2[42]
    _verify(number, number_cd, "document number")
    _verify(birth, birth_cd, "date of birth")
    _verify(expiry, expiry_cd, "date of expiry")
    _verify(optional, optional_cd, "optional data")
    _verify(l2[0:10] + l2[13:20] + l2[21:43], l2[43], "composite")
    surname, given = _names(l1[5:44])
    return MrzData("TD3", _clean(l1[0:2]), _clean(l1[2:5]), number.replace("<", ""), surname, given,
                   _clean(l2[10:13]), birth, l2[20], expiry, _clean(optional))


def _parse_td1(l1: str, l2: str, l3: str) -> MrzData:
    number, number_cd, optional1 = l1[5:14], l1[14], l1[15:30]
    if number_cd == "<" and optional1.strip("<"):
        # Long document number: the rest continues in optional data, followed by the check digit.
        extension = optional1.split("<", 1)[0]
        if len(extension) < 2:
            raise MrzError("long document number extension malformed")
        number, number_cd = number + extension[:-1], extension[-1]
        optional1 = optional1[len(extension):]
    _verify(number, number_cd, "document number")
    birth, birth_cd = l2[0:6], l2[6]
    expiry, expiry_cd = l2[8:14], l2[14]
    _verify(birth, birth_cd, "date of birth")
    _verify(expiry, expiry_cd, "date of expiry")
    _verify(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29], l2[29], "composite")
    surname, given = _names(l3)
    optional = (_clean(optional1) + " " + _clean(l2[18:29])).strip()
    return MrzData("TD1", _clean(l1[0:2]), _clean(l1[2:5]), number.replace("<", ""), surname, given,
                   _clean(l2[15:18]), birth, l2[7], expiry, optional)


def _field(value: str, width: int) -> str:
    value = value.upper().replace(" ", "<")
    if len(value) > width:
        raise MrzError(f"{value!r} longer than {width}")
    return value.ljust(width, "<")


def _name_field(surname: str, given_names: str, width: int) -> str:
    text = surname.upper().replace(" ", "<") + "<<" + given_names.upper().replace(" ", "<")
    return text[:width].ljust(width, "<")


def compose_td3(*, document_code: str = "P", issuing_state: str, surname: str, given_names: str,
                document_number: str, nationality: str, birth_date: str, sex: str, expiry_date: str,
                optional_data: str = "") -> str:
    """Build a TD3 MRZ (88 characters) with correct check digits; used to personalise the virtual card and in tests."""
    l1 = _field(document_code, 2) + _field(issuing_state, 3) + _name_field(surname, given_names, 39)
    number = _field(document_number, 9)
    optional = _field(optional_data, 14)
    optional_cd = "<" if set(optional) == {"<"} else check_digit(optional)
    body = (number + check_digit(number) + _field(nationality, 3) + birth_date + check_digit(birth_date)
            + _field(sex, 1) + expiry_date + check_digit(expiry_date) + optional + optional_cd)
    composite = check_digit(body[0:10] + body[13:20] + body[21:43])
    return l1 + body + composite


def compose_td1(*, document_code: str = "ID", issuing_state: str, surname: str, given_names: str,
                document_number: str, nationality: str, birth_date: str, sex: str, expiry_date: str,
                optional_data: str = "") -> str:
    """Build a TD1 MRZ (90 characters); document numbers over 9 characters use the ICAO extension."""
    number = document_number.upper()
    if len(number) > 9:
        extension = number[9:] + check_digit(number)
        l1_rest = number[:9] + "<" + _field(extension + optional_data, 15)
    else:
        padded = _field(number, 9)
        l1_rest = padded + check_digit(padded) + _field(optional_data, 15)
    l1 = _field(document_code, 2) + _field(issuing_state, 3) + l1_rest
    l2 = (birth_date + check_digit(birth_date) + _field(sex, 1) + expiry_date + check_digit(expiry_date)
          + _field(nationality, 3) + "<" * 11)
    l2 += check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29])
    return l1 + l2 + _name_field(surname, given_names, 30)
