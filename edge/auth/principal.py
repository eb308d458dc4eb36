"""The authenticated actor of a request: a staff member, a device, or the node itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from edge.auth.roles import Role, SystemRole


@dataclass(frozen=True)
class Principal:
    # "anonymous" is the caller of a failed sign-in: who they claimed to be is not who they are.
    kind: Literal["staff", "device", "system", "anonymous"]
    subject: str  # user name, device id, "node", or a pseudonym of a typed name
    role: Role | SystemRole  # staff role, device type, or "system"/"none"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.subject}"


SYSTEM = Principal("system", "node", "system")
