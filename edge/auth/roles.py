"""Roles and what each may do: one table, checked on every endpoint through `require(permission)`."""

from __future__ import annotations

STAFF_ROLES = ("officer", "supervisor", "technician", "admin", "agency_viewer")
DEVICE_TYPES = ("kiosk", "display", "counter_terminal")

_DESK = {"officer", "supervisor", "admin"}

PERMISSIONS: dict[str, frozenset[str]] = {
    "tickets.issue": frozenset({"kiosk", *_DESK}),
    "tickets.read": frozenset({"kiosk", "display", "counter_terminal", "technician", *_DESK}),
    "tickets.operate": frozenset({"counter_terminal", *_DESK}),
    "tickets.cancel": frozenset({"kiosk", *_DESK}),
    "counters.read": frozenset({"display", "counter_terminal", "technician", *_DESK}),
    "counters.open_close": frozenset(_DESK),
    "catalogue.read": frozenset({"kiosk", "display", "counter_terminal", "technician", *_DESK}),
    "catalogue.manage": frozenset({"supervisor", "admin"}),
    "kpis.read": frozenset({"supervisor", "admin"}),
    "staff.manage": frozenset({"admin"}),
    "devices.manage": frozenset({"technician", "admin"}),
    "audit.read": frozenset({"supervisor", "admin"}),
    "verifications.create": frozenset({"kiosk"}),
    "devices.report_status": frozenset({"kiosk", "display", "counter_terminal"}),
    "reports.file": frozenset({"kiosk", *_DESK}),
    "reports.track": frozenset({"kiosk"}),
    "reports.read": frozenset({"agency_viewer", *_DESK}),
    "reports.work": frozenset(_DESK),
    "reports.share": frozenset({"supervisor", "admin"}),
}


def allowed(role: str, permission: str) -> bool:
    try:
        return role in PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}") from None
