"""Request dependencies: the node, and the authenticated principal holding a given permission."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.auth.principal import Principal
from edge.auth.roles import Permission, allowed
from edge.errors import Forbidden, Unauthorized
from edge.node import EdgeNode

_bearer = HTTPBearer(auto_error=False, description="staff token from /api/v1/auth/login, or a device token")


def get_node(request: Request) -> EdgeNode:
    return request.app.state.node


def current_principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing bearer token")
    principal = get_node(request).auth.resolve(creds.credentials)
    request.state.principal = principal
    return principal


def require(permission: Permission | str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller must hold `permission` (see edge/auth/roles.py). One level, not a chain: dependency
    solving is a measurable share of every request. A token resolved a moment ago is answered from memory on the
    event loop; otherwise resolving reads (and may write) SQLite, so it goes to the thread pool like the routes.
    Every request carries a token: this saves one trip to a worker thread on almost all of them. A misspelt
    permission fails when the router is imported."""
    permission = Permission(permission)

    async def dependency(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        if creds is None or not creds.credentials:
            raise Unauthorized("missing bearer token")
        auth = get_node(request).auth
        principal = auth.resolve_remembered(creds.credentials)
        if principal is None:
            principal = await run_in_threadpool(auth.resolve, creds.credentials)
        if not allowed(principal.role, permission):
            raise Forbidden(f"{principal.kind} role {principal.role!r} may not {permission}")
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency
