"""Staff accounts, managed by admins."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.api.schemas import error
from edge.auth.principal import Principal

router = APIRouter(prefix="/staff", tags=["staff"])

class StaffCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^\S+$")
    password: str = Field(min_length=10, max_length=1024)
    role: str = Field(pattern="^(officer|supervisor|technician|admin|agency_viewer)$")


class StaffMember(BaseModel):
    username: str
    role: str
    active: bool
    created_at: str | None = None


class StaffList(BaseModel):
    staff: list[StaffMember]


class StaffUpdate(BaseModel):
    active: bool


@router.get("", response_model=StaffList, summary="All staff accounts")
def list_staff(request: Request, _: Principal = Depends(require("staff.manage"))) -> StaffList:
    return StaffList(staff=[StaffMember(**u) for u in get_node(request).auth.list_users()])


@router.post(
    "", status_code=201, response_model=StaffMember, summary="Create a staff account",
    responses={409: error("an account with this user name exists")},
)  # fmt: skip
def create_staff(body: StaffCreate, request: Request, principal: Principal = Depends(require("staff.manage"))) -> StaffMember:
    user = get_node(request).auth.add_user(body.username, body.password, body.role, principal)
    return StaffMember(**user)


@router.patch(
    "/{username}", response_model=StaffMember, summary="Enable or disable an account (disabling revokes its tokens)",
    responses={404: error("no such account")},
)
def update_staff(
    username: str, body: StaffUpdate, request: Request, principal: Principal = Depends(require("staff.manage"))
) -> StaffMember:
    node = get_node(request)
    node.auth.set_user_active(username, body.active, principal)
    user = next(u for u in node.auth.list_users() if u["username"] == username)
    return StaffMember(**user)
