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
from provisioning.listener import peer_certificate_serial

_bearer = HTTPBearer(auto_error=False, description="staff token from /api/v1/auth/login, or a device token")


def get_node(request: Request) -> EdgeNode:
    return request.app.state.node


def _token_allowed(node: EdgeNode, principal: Principal) -> Principal:
    """Device tokens are the fallback before mTLS: refused once the `provisioning.device_tokens` setting is off."""
    if principal.kind == "device" and not node.settings.provisioning.device_tokens:
        raise Unauthorized("device tokens are switched off on this station: use the device certificate (mTLS)")
    return principal


def current_principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """The device of the client certificate (device listener, mTLS), else the bearer token's principal."""
    node = get_node(request)
    serial = peer_certificate_serial(request.scope)
    if serial is not None:
        principal = node.enrolment.certificate_principal(serial)
    else:
        if creds is None or not creds.credentials:
            raise Unauthorized("missing bearer token")
        principal = _token_allowed(node, node.auth.resolve(creds.credentials))
    request.state.principal = principal
    return principal


def certificate_device(request: Request) -> Principal:
    """Dependency: the caller is a device that came in with its certificate (renewal needs proof of the key)."""
    serial = peer_certificate_serial(request.scope)
    if serial is None:
        raise Unauthorized("this needs the device's client certificate (the device listener, mTLS)")
    return get_node(request).enrolment.certificate_principal(serial)


def require(permission: Permission | str) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller must hold `permission` (see edge/auth/roles.py). One level, not a chain: dependency
    solving is a measurable share of every request. A token resolved a moment ago is answered from memory on the
    event loop; otherwise resolving reads (and may write) SQLite, so it goes to the thread pool like the routes.
    Every request carries a token: this saves one trip to a worker thread on almost all of them. A misspelt
    permission fails when the router is imported."""
    permission = Permission(permission)

    async def dependency(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
        node = get_node(request)
        serial = peer_certificate_serial(request.scope)
        if serial is not None:  # the device listener: the certificate is the credential
            principal = await run_in_threadpool(node.enrolment.certificate_principal, serial)
        else:
            if creds is None or not creds.credentials:
                raise Unauthorized("missing bearer token")
            auth = node.auth
            principal = auth.resolve_remembered(creds.credentials)
            if principal is None:
                principal = await run_in_threadpool(auth.resolve, creds.credentials)
            _token_allowed(node, principal)
        if not allowed(principal.role, permission):
            raise Forbidden(f"{principal.kind} role {principal.role!r} may not {permission}")
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return dependency
