"""Roles, device types and permissions: one vocabulary each, and one table saying who may do what.

Every endpoint checks the table through `edge.api.deps.require(permission)`; the API, the CLI and the settings
spell roles and device types only through these enums."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from markaz.contracts.devices import DeviceType  # shared with central through the MQTT contract

__all__ = [
    "PERMISSIONS",
    "DeviceType",
    "Permission",
    "Role",
    "StaffRole",
    "SystemRole",
    "allowed",
    "parse_device_type",
    "parse_role",
]


class StaffRole(StrEnum):
    OFFICER = "officer"  # counters
    SUPERVISOR = "supervisor"  # KPIs, counters, catalogue, audit, sign-in resets
    TECHNICIAN = "technician"  # devices
    ADMIN = "admin"  # everything, staff accounts
    AGENCY_VIEWER = "agency_viewer"  # read-only views of reports, for other agencies


Role = StaffRole | DeviceType
# The node itself (start-up, expiry sweeps, central's commands) and a caller not yet identified (a failed sign-in).
SystemRole = Literal["system", "none"]


class Permission(StrEnum):
    TICKETS_ISSUE = "tickets.issue"
    TICKETS_READ = "tickets.read"
    TICKETS_OPERATE = "tickets.operate"
    TICKETS_CANCEL = "tickets.cancel"
    COUNTERS_READ = "counters.read"
    COUNTERS_OPEN_CLOSE = "counters.open_close"
    CATALOGUE_READ = "catalogue.read"
    CATALOGUE_MANAGE = "catalogue.manage"
    KPIS_READ = "kpis.read"
    STAFF_MANAGE = "staff.manage"
    STAFF_RESET_SIGN_IN = "staff.reset_sign_in"
    DEVICES_MANAGE = "devices.manage"
    AUDIT_READ = "audit.read"
    VERIFICATIONS_CREATE = "verifications.create"
    DEVICES_REPORT_STATUS = "devices.report_status"
    REPORTS_FILE = "reports.file"
    REPORTS_TRACK = "reports.track"
    REPORTS_READ = "reports.read"
    REPORTS_WORK = "reports.work"
    REPORTS_SHARE = "reports.share"


_DESK: frozenset[Role] = frozenset({StaffRole.OFFICER, StaffRole.SUPERVISOR, StaffRole.ADMIN})
_SCREENS: frozenset[Role] = frozenset({DeviceType.DISPLAY, DeviceType.COUNTER_TERMINAL, StaffRole.TECHNICIAN})
_MANAGERS: frozenset[Role] = frozenset({StaffRole.SUPERVISOR, StaffRole.ADMIN})

PERMISSIONS: dict[Permission, frozenset[Role]] = {
    Permission.TICKETS_ISSUE: frozenset({DeviceType.KIOSK, *_DESK}),
    Permission.TICKETS_READ: frozenset({DeviceType.KIOSK, *_SCREENS, *_DESK}),
    Permission.TICKETS_OPERATE: frozenset({DeviceType.COUNTER_TERMINAL, *_DESK}),
    Permission.TICKETS_CANCEL: frozenset({DeviceType.KIOSK, *_DESK}),
    Permission.COUNTERS_READ: frozenset({*_SCREENS, *_DESK}),
    Permission.COUNTERS_OPEN_CLOSE: _DESK,
    Permission.CATALOGUE_READ: frozenset({DeviceType.KIOSK, *_SCREENS, *_DESK}),
    Permission.CATALOGUE_MANAGE: _MANAGERS,
    Permission.KPIS_READ: _MANAGERS,
    Permission.STAFF_MANAGE: frozenset({StaffRole.ADMIN}),
    # A supervisor is in the station when an officer is locked out: they approve the reset in person.
    Permission.STAFF_RESET_SIGN_IN: _MANAGERS,
    Permission.DEVICES_MANAGE: frozenset({StaffRole.TECHNICIAN, StaffRole.ADMIN}),
    Permission.AUDIT_READ: _MANAGERS,
    Permission.VERIFICATIONS_CREATE: frozenset({DeviceType.KIOSK}),
    Permission.DEVICES_REPORT_STATUS: frozenset(DeviceType),
    Permission.REPORTS_FILE: frozenset({DeviceType.KIOSK, *_DESK}),
    Permission.REPORTS_TRACK: frozenset({DeviceType.KIOSK}),
    # agency users read only what a supervisor shared with them; the reports service checks the share
    Permission.REPORTS_READ: frozenset({StaffRole.AGENCY_VIEWER, *_DESK}),
    Permission.REPORTS_WORK: _DESK,
    Permission.REPORTS_SHARE: _MANAGERS,
}
assert set(PERMISSIONS) == set(Permission), "every permission has a row"


def allowed(role: Role | SystemRole | str, permission: Permission | str) -> bool:
    """Whether `role` holds `permission`; an unknown permission is a programming error, not a refusal."""
    try:
        wanted = Permission(permission)
    except ValueError:
        raise KeyError(f"unknown permission {permission!r}") from None
    return role in PERMISSIONS[wanted]


def parse_role(value: str) -> StaffRole:
    """A staff role from user input, or ValueError naming the choices."""
    try:
        return StaffRole(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}; expected one of {', '.join(StaffRole)}") from None


def parse_device_type(value: str) -> DeviceType:
    """A device type from user input, or ValueError naming the choices."""
    try:
        return DeviceType(value)
    except ValueError:
        raise ValueError(f"unknown device type {value!r}; expected one of {', '.join(DeviceType)}") from None
