"""Device heartbeats: a kiosk (or display, counter terminal) reports its hardware state; it goes to central."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from edge.api.deps import get_node, require
from edge.auth.principal import Principal
from edge.node import EdgeNode
from markaz.contracts.mqtt import DeviceState, ReportedFault

router = APIRouter(tags=["devices"])


class DeviceHeartbeat(BaseModel):
    """Readings only: presence, rates and states (never anything read from a card or seen by a camera)."""

    model_config = ConfigDict(extra="forbid")

    reader_present: bool | None = None
    camera_fps: Annotated[float, Field(ge=0, le=1000)] | None = None
    printer_paper: Literal["ok", "low", "out", "unknown"] | None = None
    faults: list[ReportedFault] = Field(default_factory=list, max_length=8)


@router.post("/devices/heartbeat", response_model=DeviceState, summary="Report this device's status")
def heartbeat(
    body: DeviceHeartbeat,
    principal: Principal = Depends(require("devices.report_status")),
    node: EdgeNode = Depends(get_node),
) -> DeviceState:
    """The calling device (from its token) reports its state; the node keeps it and publishes it to central."""
    state = node.telemetry.record_heartbeat(principal.subject, body.model_dump())
    node.served.sync(principal)  # a counter terminal's new desired profile is applied at its check-in
    return state
