"""Central staff's roles and what each may do: one table, asked by the alarm actions, the API and the CLI."""

from __future__ import annotations

from enum import StrEnum


class CentralRole(StrEnum):
    VIEWER = "central_viewer"  # sees the fleet, the alarms, the comparison
    OPERATOR = "central_operator"  # ...and acknowledges alarms, sends commands to stations
    ADMIN = "central_admin"  # ...and manages central's staff accounts and settings


PERMISSIONS: dict[str, frozenset[CentralRole]] = {
    "alarms.read": frozenset(CentralRole),
    "alarms.acknowledge": frozenset({CentralRole.OPERATOR, CentralRole.ADMIN}),
    "comparison.read": frozenset(CentralRole),
}


def can(role: CentralRole, action: str) -> bool:
    return role in PERMISSIONS.get(action, frozenset())
