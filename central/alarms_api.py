"""`/api/alarms`: the open alarms (and history) as JSON, and acknowledging one (central_operator and up).

The router only translates HTTP: who is asking comes from the dashboard's sign-in, handed in as a dependency
(`current_staff`), so this module knows roles, not sessions."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from central.alarms import (
    Alarm,
    AlarmConflict,
    AlarmError,
    AlarmEvent,
    AlarmNotFound,
    NotAllowed,
    acknowledge,
    alarm_events,
    list_alarms,
)
from central.roles import CentralRole
from central.staff.roles import Permission, allowed
from central.store import CentralStore


@dataclass(frozen=True)
class Staff:
    """A signed-in member of central's staff, as the sign-in dependency hands it over."""

    username: str
    role: CentralRole


class AckRequest(BaseModel):
    comment: str = Field("", max_length=500, description="why, or what was done (kept with the alarm)")


def alarm_router(store: CentralStore, current_staff: Callable[..., Staff]) -> APIRouter:
    router = APIRouter(prefix="/api/alarms", tags=["alarms"])
    StaffDep = Annotated[Staff, Depends(current_staff)]

    def readable(staff: Staff) -> None:
        if not allowed(staff.role, Permission.ALARMS_READ):
            raise HTTPException(403, f"role {staff.role.value} cannot read alarms")

    @router.get("", summary="Open alarms (active and acknowledged), newest first; with cleared=true the history too")
    def alarms(staff: StaffDep, station: str | None = None, cleared: bool = False, limit: int = 500) -> list[Alarm]:
        readable(staff)
        return list_alarms(store, station, include_cleared=cleared, limit=max(1, min(limit, 5000)))

    @router.get(
        "/events/{station}", summary="A station's alarm history in order (raised, escalated, acknowledged, cleared)"
    )
    def events(station: str, staff: StaffDep) -> list[AlarmEvent]:
        readable(staff)
        return alarm_events(store, station)

    @router.post(
        "/{alarm_id}/acknowledge",
        summary="Take an active alarm on (central_operator, central_admin): who, when and the comment are kept",
        responses={
            403: {"description": "role may not"},
            404: {"description": "no such alarm"},
            409: {"description": "already acknowledged or cleared"},
        },
    )
    def ack(alarm_id: int, body: AckRequest, staff: StaffDep) -> Alarm:
        try:
            return acknowledge(store, alarm_id, staff.username, staff.role, body.comment)
        except NotAllowed as exc:
            raise HTTPException(403, str(exc)) from None
        except AlarmNotFound as exc:
            raise HTTPException(404, str(exc)) from None
        except AlarmConflict as exc:
            raise HTTPException(409, str(exc)) from None
        except AlarmError as exc:
            raise HTTPException(400, str(exc)) from None

    return router


def no_sign_in() -> Staff:
    """Until a sign-in is wired in (the dashboard's), nobody is anybody: every alarm route answers 401."""
    raise HTTPException(401, "sign in to central first")
