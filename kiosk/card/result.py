"""What a card read gives the kiosk: identity fields, the photo (in memory only), passive-auth status, timings."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TypedDict

from kiosk.card.chip_auth import ABSENT, ChipAuthResult
from kiosk.card.datagroups import FaceImage
from kiosk.card.mrz import MrzData
from kiosk.card.passive_auth import PassiveAuthResult


class PassiveAuthJson(TypedDict):
    status: str
    reason: str | None
    crl: str | None  # fresh | stale | missing, or None when the chain did not reach a trusted CSCA


class ChipAuthJson(TypedDict):
    status: str
    reason: str | None
    method: str | None


class CardReadJson(TypedDict):
    """What `markaz kiosk card read --json` prints; never photo bytes."""

    document_type: str
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date: str | None
    expiry_date: str | None
    sex: str
    expired: bool
    photo_format: str
    passive_auth: PassiveAuthJson
    apdus: int
    timings_ms: dict[str, float]
    access: str
    chip_auth: ChipAuthJson


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class CardReadResult:
    document_type: str  # document code from the MRZ: "P", "ID", "I"...
    mrz_format: str  # TD1, TD2, TD3, MRV-A or MRV-B
    issuing_state: str
    document_number: str
    surname: str
    given_names: str
    nationality: str
    birth_date: dt.date | None
    sex: str
    expiry_date: dt.date | None
    expired: bool
    photo: FaceImage
    passive_auth: PassiveAuthResult
    apdus: int
    timings_ms: dict[str, float] = field(default_factory=dict)
    data_groups: list[int] = field(default_factory=list)
    access: str = "bac"  # the access protocol that opened the chip: "pace" or "bac"
    chip_auth: ChipAuthResult = ABSENT  # clone detection: Chip or Active Authentication

    @classmethod
    def build(
        cls,
        mrz: MrzData,
        photo: FaceImage,
        pa: PassiveAuthResult,
        apdus: int,
        timings_ms: dict[str, float],
        data_groups: list[int],
        today: dt.date | None = None,
        access: str = "bac",
        chip_auth: ChipAuthResult = ABSENT,
    ) -> CardReadResult:
        today = today or dt.datetime.now(dt.UTC).date()
        expiry = mrz.expiry_date
        return cls(
            document_type=mrz.document_code,
            mrz_format=mrz.format,
            issuing_state=mrz.issuing_state,
            document_number=mrz.document_number,
            surname=mrz.surname,
            given_names=mrz.given_names,
            nationality=mrz.nationality,
            birth_date=mrz.birth_date,
            sex=mrz.sex.replace("<", "X"),
            expiry_date=expiry,
            expired=expiry is None or expiry < today,
            photo=photo,
            passive_auth=pa,
            apdus=apdus,
            timings_ms=timings_ms,
            data_groups=data_groups,
            access=access,
            chip_auth=chip_auth,
        )

    @property
    def clone_suspected(self) -> bool:
        """Data groups that hash right on a chip that fails Chip or Active Authentication: a copied chip. The kiosk
        flow sends such a visitor to staff (and audits it) instead of self-service."""
        return self.passive_auth.status == "valid" and self.chip_auth.status == "invalid"

    def to_json(self) -> CardReadJson:
        """The CLI's JSON: everything except the photo bytes."""
        return {
            "document_type": self.document_type,
            "issuing_state": self.issuing_state,
            "document_number": self.document_number,
            "surname": self.surname,
            "given_names": self.given_names,
            "nationality": self.nationality,
            "birth_date": _iso(self.birth_date),
            "expiry_date": _iso(self.expiry_date),
            "sex": self.sex,
            "expired": self.expired,
            "photo_format": self.photo.format,
            "passive_auth": {
                "status": self.passive_auth.status,
                "reason": self.passive_auth.reason,
                "crl": self.passive_auth.crl.value if self.passive_auth.crl else None,
            },
            "apdus": self.apdus,
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "access": self.access,
            "chip_auth": {
                "status": self.chip_auth.status.value,
                "reason": self.chip_auth.reason,
                "method": self.chip_auth.method,
            },
        }

    def __repr__(self) -> str:
        return f"CardReadResult({self.mrz_format}, pa={self.passive_auth.status}, apdus={self.apdus})"
