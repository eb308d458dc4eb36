"""Device profiles: the version a technician wants on a device (desired) and what the device reports it runs."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.api.schemas import error
from edge.auth.principal import Principal
from firmware_config.apply import ApplyOutcome
from markaz.contracts.mqtt import ProfileVersion

router = APIRouter(prefix="/profiles", tags=["provisioning"])


class DesireRequest(BaseModel):
    version: ProfileVersion | None = Field(
        None, description="the effective version the technician reviewed (`markaz config show`); refused if it moved"
    )


class DesiredProfile(BaseModel):
    device_id: str
    device_type: str
    version: str
    sha256: str = Field(description="SHA-256 of the profile's canonical JSON (sorted keys): the device checks it")
    profile: dict[str, Any]
    set_by: str
    set_at: str


class ProfileState(BaseModel):
    desired_version: str
    reported_version: str | None
    reported_outcome: ApplyOutcome | None
    reported_for: str | None = Field(description="the desired version the last report answered")
    reported_reasons: list[str]
    reported_at: str | None


class ProfileStates(BaseModel):
    devices: dict[str, ProfileState]


class ReportRequest(BaseModel):
    answers: ProfileVersion = Field(description="the desired version the device tried")
    version: ProfileVersion | None = Field(description="the version in force on the device now")
    outcome: ApplyOutcome
    reasons: list[str] = Field(default_factory=list, max_length=20)


@router.put(
    "/{device_id}/desired",
    response_model=DesiredProfile,
    summary="Set the profile a device should run: the station's effective profile for it",
    responses={404: error("no such device"), 409: error("the effective profile changed"), 422: error("refused")},
)
def desire(
    device_id: str, body: DesireRequest, request: Request, principal: Principal = Depends(require("devices.manage"))
) -> DesiredProfile:
    return DesiredProfile(**vars(get_node(request).profiles.desire(device_id, principal, body.version)))


@router.get("", response_model=ProfileStates, summary="Desired vs reported profile of every device")
def states(request: Request, _: Principal = Depends(require("devices.manage"))) -> ProfileStates:
    return ProfileStates(devices={k: ProfileState(**v) for k, v in get_node(request).profiles.states().items()})


@router.get(
    "/self",
    response_model=DesiredProfile | None,
    summary="The calling device's desired profile (null when none was set)",
)
def mine(request: Request, device: Principal = Depends(require("devices.report_status"))) -> DesiredProfile | None:
    desired = get_node(request).profiles.desired(device.subject)
    return DesiredProfile(**vars(desired)) if desired else None


@router.post(
    "/self/report",
    response_model=ProfileState,
    summary="The calling device reports what it did with its desired profile",
    responses={404: error("no profile was set for this device")},
)
def report(
    body: ReportRequest, request: Request, device: Principal = Depends(require("devices.report_status"))
) -> ProfileState:
    profiles = get_node(request).profiles
    profiles.report(device, body.version, body.outcome, body.answers, body.reasons)
    return ProfileState(**profiles.states()[device.subject])
