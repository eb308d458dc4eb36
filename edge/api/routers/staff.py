"""Staff accounts, managed by admins."""

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.api.schemas import error
from edge.auth.principal import Principal
from edge.auth.roles import Permission, StaffRole

router = APIRouter(prefix="/staff", tags=["staff"])


class StaffCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^\S+$")
    password: str = Field(min_length=10, max_length=1024)
    role: StaffRole


class StaffMember(BaseModel):
    username: str
    role: StaffRole
    active: bool
    created_at: str | None = None


class StaffList(BaseModel):
    staff: list[StaffMember]


class StaffUpdate(BaseModel):
    active: bool | None = Field(None, description="false disables the account and revokes its tokens")
    role: StaffRole | None = None


class SignInReset(BaseModel):
    username: str
    code: str = Field(description="one-time code, shown once: the account holder signs in with it and their password")
    expires_at: datetime
    attempts: int = Field(description="passwords the code may be tried with")


@router.get("", response_model=StaffList, summary="All staff accounts")
def list_staff(request: Request, _: Principal = Depends(require("staff.manage"))) -> StaffList:
    return StaffList(staff=[StaffMember(**u) for u in get_node(request).auth.list_users()])


@router.post(
    "", status_code=201, response_model=StaffMember, summary="Create a staff account",
    responses={409: error("an account with this user name exists")},
)  # fmt: skip
def create_staff(
    body: StaffCreate, request: Request, principal: Principal = Depends(require("staff.manage"))
) -> StaffMember:
    user = get_node(request).auth.add_user(body.username, body.password, body.role, principal)
    return StaffMember(**user)


@router.patch(
    "/{username}",
    response_model=StaffMember,
    summary="Enable, disable or change the role of an account (disabling revokes its tokens)",
    responses={404: error("no such account"), 409: error("it would leave the station without an active admin")},
)
def update_staff(
    username: str, body: StaffUpdate, request: Request, principal: Principal = Depends(require("staff.manage"))
) -> StaffMember:
    user = get_node(request).auth.update_user(username, principal, active=body.active, role=body.role)
    return StaffMember(**user)


@router.post(
    "/{username}/sign-in-reset",
    status_code=201,
    response_model=SignInReset,
    summary="Approve a sign-in reset: a one-time code that lets a locked-out account sign in with its password",
    responses={404: error("no such account"), 409: error("the account is disabled")},
)
def approve_sign_in_reset(
    username: str, request: Request, principal: Principal = Depends(require(Permission.STAFF_RESET_SIGN_IN))
) -> SignInReset:
    auth = get_node(request).auth
    code, expires = auth.approve_reset(username, principal)
    return SignInReset(username=username, code=code, expires_at=expires, attempts=auth.settings.reset_attempts)
