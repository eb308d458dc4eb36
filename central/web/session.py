"""Who is asking: the session cookie (HttpOnly, SameSite=Strict) resolved by the staff service on every request,
page, socket and action, and the role check beside it. Browsers cannot put a bearer token on a WebSocket, so the
pages and the JSON API both use the cookie; a POST or socket from another origin is refused."""

from __future__ import annotations

from fastapi import HTTPException, Request, WebSocket
from fastapi.responses import Response

from central.staff.roles import Permission, allowed
from central.staff.service import Staff, StaffService

COOKIE = "markaz_central"


def staff_service(request: Request | WebSocket) -> StaffService:
    service: StaffService = request.app.state.staff
    return service


def current(request: Request | WebSocket) -> Staff | None:
    return staff_service(request).resolve(request.cookies.get(COOKIE))


def require(permission: Permission):  # type: ignore[no-untyped-def]
    """A FastAPI dependency for the JSON API: 401 without a session, 403 when the role lacks `permission`."""

    def check(request: Request) -> Staff:
        who = current(request)
        if who is None:
            raise HTTPException(401, "sign in first")
        if not allowed(who.role, permission):
            raise HTTPException(403, f"the role {who.role} may not do this")
        return who

    return check


def set_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")  # fmt: skip
