"""`/api/comparison`: the comparison of stations as JSON or CSV (any central role)."""

from collections.abc import Callable
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import PlainTextResponse

from central.alarms_api import Staff
from central.comparison import Comparison, ComparisonError, compare, to_csv
from central.staff.roles import Permission, allowed
from central.store import CentralStore


def comparison_router(store: CentralStore, current_staff: Callable[..., Staff]) -> APIRouter:
    router = APIRouter(prefix="/api/comparison", tags=["comparison"])
    StaffDep = Annotated[Staff, Depends(current_staff)]

    def run(staff: Staff, start: date, end: date, service: str | None, rank_by: str) -> Comparison:
        if not allowed(staff.role, Permission.COMPARISON_READ):
            raise HTTPException(403, f"role {staff.role.value} cannot read the comparison")
        if (end - start).days > 366:
            raise HTTPException(400, "a period of at most a year")
        try:
            return compare(store, start, end, service, rank_by)
        except ComparisonError as exc:
            raise HTTPException(400, str(exc)) from None

    @router.get("", summary="Every station's figures for the period and service, ranked, the best of each marked")
    def comparison(
        staff: StaffDep,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
        service: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,32}$")] = None,
        rank_by: str = "within_target_share",
    ) -> Comparison:
        return run(staff, start, end, service, rank_by)

    @router.get("/csv", summary="The same as CSV", response_class=PlainTextResponse)
    def comparison_csv(
        staff: StaffDep,
        start: Annotated[date, Query(alias="from")],
        end: Annotated[date, Query(alias="to")],
        service: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,32}$")] = None,
        rank_by: str = "within_target_share",
    ) -> PlainTextResponse:
        text = to_csv(run(staff, start, end, service, rank_by))
        name = f"comparison-{start}-{end}{'-' + service if service else ''}.csv"
        return PlainTextResponse(
            text, media_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
        )

    return router
