"""Central's roles and what each may do: one vocabulary, checked on the server for every page and action."""

from __future__ import annotations

from enum import StrEnum


class CentralRole(StrEnum):
    VIEWER = "central_viewer"  # watches the fleet
    OPERATOR = "central_operator"  # also sends commands to stations
    ADMIN = "central_admin"  # also manages central's staff


class Permission(StrEnum):
    VIEW = "fleet.view"
    COMMAND = "stations.command"
    MANAGE_STAFF = "staff.manage"


GRANTS: dict[CentralRole, frozenset[Permission]] = {
    CentralRole.VIEWER: frozenset({Permission.VIEW}),
    CentralRole.OPERATOR: frozenset({Permission.VIEW, Permission.COMMAND}),
    CentralRole.ADMIN: frozenset({Permission.VIEW, Permission.COMMAND, Permission.MANAGE_STAFF}),
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
