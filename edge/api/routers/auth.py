"""Staff sign-in and sign-out."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from edge.api.deps import _bearer, current_principal, get_node
from edge.api.schemas import error
from edge.auth.principal import Principal

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    role: str
    expires_at: datetime


class WhoAmI(BaseModel):
    kind: str
    subject: str
    role: str


@router.post(
    "/login", response_model=LoginResponse, summary="Sign in; repeated failures are slowed, then locked",
    responses={429: error("too many failed sign-ins: wait (Retry-After) or ask a supervisor")},
)  # fmt: skip
def login(body: LoginRequest, request: Request) -> LoginResponse:
    # Argon2 is deliberately slow: a plain `def` route runs in the thread pool, off the event loop.
    token, principal, expires = get_node(request).auth.login(body.username, body.password)
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
