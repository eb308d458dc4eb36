"""Central staff's roles (what each may do is the one table in `central.staff.roles`)."""

from __future__ import annotations

from enum import StrEnum


class CentralRole(StrEnum):
    VIEWER = "central_viewer"  # sees the fleet, the alarms, the comparison
    OPERATOR = "central_operator"  # ...and acknowledges alarms, sends commands to stations
    ADMIN = "central_admin"  # ...and manages central's staff accounts and settings
