"""What the auth service needs of the audit log: one entry appended, inside the caller's transaction."""

from __future__ import annotations

from typing import Any, Protocol

from edge.auth.principal import Principal


class AuditWriter(Protocol):
    def append(
        self,
        actor: Principal,
        action: str,
        entity: str,
        entity_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        db: Any = None,
    ) -> int: ...
