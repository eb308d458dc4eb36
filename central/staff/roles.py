"""Central's roles and what each may do: one vocabulary, checked on the server for every page and action."""

from __future__ import annotations

from enum import StrEnum

from central.roles import CentralRole  # one vocabulary of roles for the alarms, the comparison and the dashboard

__all__ = ["GRANTS", "CentralRole", "Permission", "allowed", "parse_role"]


class Permission(StrEnum):
    VIEW = "fleet.view"
    ALARMS_READ = "alarms.read"
    COMPARISON_READ = "comparison.read"
    COMMAND = "stations.command"
    ALARMS_ACKNOWLEDGE = "alarms.acknowledge"
    MANAGE_STAFF = "staff.manage"


_SEE = frozenset({Permission.VIEW, Permission.ALARMS_READ, Permission.COMPARISON_READ})
_ACT = _SEE | {Permission.COMMAND, Permission.ALARMS_ACKNOWLEDGE}

# The one table of what each central role may do: pages, the JSON API, alarm actions and the CLI all ask it.
GRANTS: dict[CentralRole, frozenset[Permission]] = {
    CentralRole.VIEWER: _SEE,
    CentralRole.OPERATOR: _ACT,
    CentralRole.ADMIN: _ACT | {Permission.MANAGE_STAFF},
}


def allowed(role: CentralRole | str, permission: Permission) -> bool:
    try:
        return permission in GRANTS[CentralRole(role)]
    except ValueError:
        return False


def parse_role(text: str) -> CentralRole:
    """A role by its name (`central_operator`) or its short form (`operator`)."""
    name = text.strip().lower()
    for role in CentralRole:
        if name in (role.value, role.value.removeprefix("central_")):
            return role
    raise ValueError(f"unknown role {text!r}: one of {', '.join(r.value for r in CentralRole)}")
