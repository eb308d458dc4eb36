"""Staff sign-in and sign-out."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from edge.api.deps import _bearer, current_principal, get_node
from edge.api.schemas import error
from edge.auth.principal import Principal
from edge.auth.roles import DeviceType, StaffRole

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
    reset_code: str | None = Field(
        None, max_length=32, description="one-time code of a supervisor-approved reset: passes a lock-out, once"
    )


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    role: StaffRole
    expires_at: datetime


class WhoAmI(BaseModel):
    kind: str
    subject: str
    role: StaffRole | DeviceType


@router.post(
    "/login",
    response_model=LoginResponse,
    summary="Sign in; repeated failures are slowed, then locked (per name and per client address)",
    responses={
        429: error("slowed, locked, or too many failures from this address: wait (Retry-After) or ask a supervisor"),
        503: error("too many sign-ins being checked at once: retry after Retry-After"),
    },
)
def login(body: LoginRequest, request: Request) -> LoginResponse:
    # Argon2 is deliberately slow: a plain `def` route runs in the thread pool, off the event loop.
    client = request.client.host if request.client else None
    token, principal, expires = get_node(request).auth.login(body.username, body.password, client, body.reset_code)
    return LoginResponse(token=token, role=principal.role, expires_at=expires)


@router.post("/logout", status_code=204, summary="Revoke the token used for this request")
def logout(
    request: Request,
    principal: Principal = Depends(current_principal),
    creds: HTTPAuthorizationCredentials = Depends(_bearer),
) -> None:
    get_node(request).auth.logout(creds.credentials, principal)


@router.get("/me", response_model=WhoAmI, summary="Who the token belongs to")
def me(principal: Principal = Depends(current_principal)) -> WhoAmI:
    return WhoAmI(kind=principal.kind, subject=principal.subject, role=principal.role)
