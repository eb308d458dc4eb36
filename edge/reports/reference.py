"""Reference numbers: `OLY-2026-000123-42`, station code, year, a sequence per station per year and two check
digits by ISO 7064 MOD 97-10 (the IBAN scheme, via python-stdnum) over `OLY2026000123`, letters counted A=10..Z=35.

MOD 97-10 catches every single mistyped character and every swap of two neighbours, so a mistyped reference is
refused before any lookup (no database read, no PIN attempt counted against a stranger's report)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from stdnum.iso7064 import mod_97_10

from edge.errors import Invalid

STATION_CODE = re.compile(r"^[A-Z]{2,5}$")
_SHAPE = re.compile(r"^([A-Z]{2,5})-?(\d{4})-?(\d{6,9})-?(\d{2})$")


@dataclass(frozen=True)
class Reference:
    station_code: str
    year: int
    seq: int

    @property
    def body(self) -> str:
        return f"{self.station_code}{self.year:04d}{self.seq:06d}"

    @property
    def check(self) -> str:
        return mod_97_10.calc_check_digits(self.body)

    def __str__(self) -> str:
        return f"{self.station_code}-{self.year:04d}-{self.seq:06d}-{self.check}"


def make(station_code: str, year: int, seq: int) -> str:
    if not STATION_CODE.match(station_code):
        raise Invalid(f"station code {station_code!r}: 2-5 capital letters")
    return str(Reference(station_code, year, seq))


def parse(text: str) -> Reference:
    """The reference typed by a person (any case, spaces, Arabic-Indic digits), or Invalid before any lookup."""
    raw = "".join(ch for ch in str(text) if not ch.isspace())
    canonical = "".join(str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in raw).upper()
    m = _SHAPE.match(canonical)
    if m is None:
        raise Invalid("not a report reference: expected e.g. OLY-2026-000123-42")
    code, year, seq, check = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
    ref = Reference(code, year, seq)
    if not mod_97_10.is_valid(ref.body + check):
        raise Invalid("this reference has a typing mistake (its check digits do not match); please check it")
    return ref
