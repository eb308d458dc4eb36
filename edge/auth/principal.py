"""The authenticated actor of a request: a staff member, a device, or the node itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Principal:
    kind: Literal["staff", "device", "system"]
    subject: str  # user name, device id, or "node"
    role: str  # staff role, or the device type (e.g. "kiosk")

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"


SYSTEM = Principal("system", "node", "system")
