"""Devices (kiosks, displays, counter terminals), registered by technicians."""

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from edge.api.deps import get_node, require
from edge.api.schemas import error
from edge.auth.principal import Principal
from edge.auth.roles import DeviceType
from markaz.contracts.ids import DeviceId
from markaz.contracts.mqtt import DeviceState

router = APIRouter(prefix="/devices", tags=["devices"])


class DeviceCreate(BaseModel):
    id: DeviceId
    type: DeviceType = DeviceType.KIOSK


class Device(BaseModel):
    id: str
    type: DeviceType
    enabled: bool
    created_at: str | None = None
    last_seen_at: str | None = None
    status: DeviceState | None = Field(None, description="last heartbeat and readings (kiosks and displays)")


class DeviceCreated(Device):
    token: str = Field(description="shown once; only its hash is kept")


class DeviceList(BaseModel):
    devices: list[Device]


class DeviceUpdate(BaseModel):
    enabled: bool


@router.get("", response_model=DeviceList, summary="Registered devices")
def list_devices(request: Request, _: Principal = Depends(require("devices.manage"))) -> DeviceList:
    node = get_node(request)
    states = {s.device: s for s in node.telemetry.device_states()}
    return DeviceList(devices=[Device(**d, status=states.get(d["id"])) for d in node.auth.list_devices()])


@router.post(
    "", status_code=201, response_model=DeviceCreated, summary="Register a device and get its token",
    responses={409: error("a device with this id exists")},
)  # fmt: skip
def register(
    body: DeviceCreate, request: Request, principal: Principal = Depends(require("devices.manage"))
) -> DeviceCreated:
    node = get_node(request)
    token = node.auth.add_device(body.id, body.type, principal)
    device = next(d for d in node.auth.list_devices() if d["id"] == body.id)
    return DeviceCreated(**device, token=token)


@router.patch(
    "/{device_id}",
    response_model=Device,
    summary="Enable or disable a device",
    responses={404: error("no such device")},
)
def update(
    device_id: str, body: DeviceUpdate, request: Request, principal: Principal = Depends(require("devices.manage"))
) -> Device:
    node = get_node(request)
    node.auth.set_device_enabled(device_id, body.enabled, principal)
    return Device(**next(d for d in node.auth.list_devices() if d["id"] == device_id))


@router.delete(
    "/{device_id}/token", status_code=204, summary="Revoke a device's token (decommissioning)",
    responses={404: error("no such device")},
)  # fmt: skip
def revoke(device_id: str, request: Request, principal: Principal = Depends(require("devices.manage"))) -> None:
    get_node(request).auth.revoke_device(device_id, principal)
