"""EF.CardAccess (ICAO 9303-11 9.2.11): the SecurityInfos a chip shows before any access, i.e. which PACE it offers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from asn1crypto import core

EF_CARD_ACCESS = 0x011C
ID_PACE = "0.4.0.127.0.7.2.2.4"


class CardAccessError(ValueError):
    """EF.CardAccess is not a SecurityInfos structure."""


class SecurityInfo(core.Sequence):  # type: ignore[misc]
    """SecurityInfo ::= SEQUENCE { protocol OBJECT IDENTIFIER, requiredData ANY, optionalData ANY OPTIONAL }"""

    _fields: ClassVar[list[tuple[str, type] | tuple[str, type, dict[str, bool]]]] = [
        ("protocol", core.ObjectIdentifier),
        ("required_data", core.Any),
        ("optional_data", core.Any, {"optional": True}),
    ]


class SecurityInfos(core.SetOf):  # type: ignore[misc]
    _child_spec = SecurityInfo


@dataclass(frozen=True)
class PaceInfo:
    """PACEInfo: a PACE protocol (mapping + cipher, by OID), its version and the standard domain parameter ID."""

    protocol: str
    version: int
    parameter_id: int | None


def _integer(value: Any) -> int:
    return int(value.parse(core.Integer).native)


def parse_card_access(content: bytes) -> list[PaceInfo]:
    """The PACEInfos in EF.CardAccess, in the chip's order; other SecurityInfos (CA, TA, domain parameters) skipped."""
    try:
        infos = SecurityInfos.load(content, strict=True)
        found = []
        for info in infos:
            oid = info["protocol"].dotted
            if not oid.startswith(ID_PACE + ".") or oid.count(".") != ID_PACE.count(".") + 2:
                continue  # not a PACEInfo (e.g. PACEDomainParameterInfo, ChipAuthenticationInfo)
            optional = info["optional_data"]
            parameter = _integer(optional) if not isinstance(optional, core.Void) else None
            found.append(PaceInfo(oid, _integer(info["required_data"]), parameter))
        return found
    except Exception as exc:  # asn1crypto parses lazily; anything it raises means malformed
        raise CardAccessError(f"EF.CardAccess malformed: {type(exc).__name__}") from None


def build_card_access(infos: list[PaceInfo]) -> bytes:
    """DER SecurityInfos for the virtual chip."""
    items = []
    for info in infos:
        item = {"protocol": info.protocol, "required_data": core.Integer(info.version)}
        if info.parameter_id is not None:
            item["optional_data"] = core.Integer(info.parameter_id)
        items.append(item)
    return bytes(SecurityInfos(items).dump())
