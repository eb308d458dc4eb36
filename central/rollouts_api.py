"""`/api/rollouts`: start, cancel or resume a staged roll-out of a profile version across stations (central_operator
and up) and follow its progress (signed-in staff). The router only translates HTTP; `RolloutService` holds the rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from central.rollouts import RolloutPlan, RolloutRefused, RolloutService, effective_profile
from central.staff.roles import Permission
from central.staff.service import Staff
from central.web.session import require
from firmware_config.layers import ProfileRejected
from firmware_config.schema import DeviceKind
from markaz.contracts.ids import DeviceId, StationId
from markaz.contracts.mqtt import ProfileVersion

Viewer = Annotated[Staff, Depends(require(Permission.VIEW))]
Operator = Annotated[Staff, Depends(require(Permission.COMMAND))]


class RolloutRequest(BaseModel):
    stations: list[StationId] = Field(min_length=1, max_length=5000)
    version: ProfileVersion = Field(description="the profile version to apply")
    profile: dict[str, Any] = Field(description="keys over the device type's model default (tables merged)")
    kind: DeviceKind = Field(DeviceKind.edge_node, description="the device type the profile is for")
    device: DeviceId | None = Field(None, description="a device id on every station; none: each station's edge node")
    first: float | list[StationId] = Field(0.1, description="the first wave: a share of the stations, or a list")
    wave_size: int = Field(10, ge=1, le=1000)
    failure_bound: int = Field(1, ge=1, description="stop once this many stations failed; later waves not asked")
    timeout_s: float = Field(300.0, gt=0, le=86400, description="a station silent this long counts as failed")


STATUS = {"forbidden": 403, "not_found": 404, "conflict": 409, "invalid_profile": 422, "invalid_plan": 422}


def rollout_router(service: RolloutService) -> APIRouter:
    router = APIRouter(prefix="/api/rollouts", tags=["rollouts"])

    @router.post("", status_code=202, summary="Start a staged roll-out of a profile version across stations")
    def start(body: RolloutRequest, who: Operator) -> Any:
        if body.kind is not DeviceKind.edge_node and body.device is None:
            return JSONResponse({"error": "invalid_plan", "detail": "name the device of that type"}, status_code=422)
        try:
            profile = effective_profile(body.kind, body.profile)
            plan = RolloutPlan(body.stations, body.version, profile, body.kind, body.device, body.first,
                               body.wave_size, body.failure_bound, body.timeout_s)  # fmt: skip
            rollout_id = service.start(who, plan)
        except ProfileRejected as exc:
            problems = [str(p) for p in exc.problems]
            return JSONResponse({"error": "invalid_profile", "detail": str(exc), "problems": problems}, 422)
        except RolloutRefused as exc:
            body_ = {"error": exc.code, "detail": str(exc), "problems": exc.problems}
            return JSONResponse(body_, status_code=STATUS.get(exc.code, 400))
        return service.get(rollout_id)

    @router.get("", summary="Every roll-out, newest first, with its progress")
    def rollouts(who: Viewer) -> list[dict[str, Any]]:
        return service.all()

    @router.get("/{rollout_id}", summary="One roll-out: state, counts, each station's wave, state and reason")
    def rollout(rollout_id: str, who: Viewer) -> dict[str, Any]:
        found = service.get(rollout_id)
        if found is None:
            raise HTTPException(404, f"no roll-out {rollout_id!r}")
        return found

    @router.post(
        "/{rollout_id}/cancel", summary="Cancel a running roll-out before its next wave, or an interrupted one"
    )
    def cancel(rollout_id: str, who: Operator) -> Any:
        return _then_show(rollout_id, lambda: service.cancel(who, rollout_id))

    @router.post("/{rollout_id}/resume", status_code=202, summary="Resume an interrupted roll-out from its waves left")
    def resume(rollout_id: str, who: Operator) -> Any:
        return _then_show(rollout_id, lambda: service.resume(who, rollout_id))

    def _then_show(rollout_id: str, act: Callable[[], object]) -> Any:
        """Do the operator's action, then answer with the roll-out as it now stands (or the refusal and its code)."""
        try:
            act()
        except RolloutRefused as exc:
            return JSONResponse({"error": exc.code, "detail": str(exc)}, status_code=STATUS.get(exc.code, 400))
        return service.get(rollout_id)

    return router
