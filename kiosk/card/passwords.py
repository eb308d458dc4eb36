"""What opens a chip: the MRZ information (BAC or PACE) or the card access number printed on ID cards (PACE only)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import IntEnum

from kiosk.card.mrz import MrzError, MrzSource


class PasswordRef(IntEnum):
    """PACE password references (ICAO 9303-11 4.4.4.1, MSE:Set AT tag 83)."""

    MRZ = 1
    CAN = 2


@dataclass(frozen=True)
class PacePassword:
    ref: PasswordRef
    secret: bytes  # pi: SHA-1 of the MRZ information, or the CAN's digits. Never log it.

    def __repr__(self) -> str:
        return f"PacePassword({self.ref.name}, <redacted>)"


@dataclass(frozen=True)
class CanSource:
    """The 6-digit card access number printed on the card's front, typed by the visitor (or read by the camera)."""

    number: str

    def __post_init__(self) -> None:
        number = self.number.strip().replace(" ", "")
        object.__setattr__(self, "number", number)
        if not re.fullmatch(r"\d{6}", number):
            raise MrzError("the card access number (CAN) is 6 digits")

    def can(self) -> str:
        return self.number

    def __repr__(self) -> str:
        return "CanSource(<redacted>)"


AccessSource = MrzSource | CanSource


def pace_password(source: AccessSource) -> PacePassword:
    """pi for PACE: the CAN as ASCII digits, or SHA-1 of the MRZ information (ICAO 9303-11 9.7.3)."""
    if isinstance(source, CanSource):
        return PacePassword(PasswordRef.CAN, source.can().encode("ascii"))
    information = source.mrz_key().information()
    return PacePassword(PasswordRef.MRZ, hashlib.sha1(information.encode("ascii")).digest())
