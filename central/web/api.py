"""The dashboard's JSON API (`/api/...`): what the pages show, for scripts and tests. Signed-in staff only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request

from central import fleet
from central.series import Span, station_series
from central.staff.roles import Permission
from central.staff.service import Staff
from central.store import CentralStore
from central.web.session import require

router = APIRouter(prefix="/api")
Viewer = Annotated[Staff, Depends(require(Permission.VIEW))]


def _store(request: Request) -> CentralStore:
    store: CentralStore = request.app.state.store
    return store


@router.get("/stations", summary="Every station: status, last seq, duplicates, missing seqs")
def stations(request: Request, who: Viewer) -> list[dict[str, Any]]:
    return _store(request).stations()


@router.get("/fleet", summary="The fleet overview's rows and summary, with the page's filters")
def fleet_rows(
    request: Request, who: Viewer, q: str = "", state: fleet.StateFilter = fleet.StateFilter.ALL,
    problem: fleet.ProblemFilter = fleet.ProblemFilter.ANY,
) -> dict[str, Any]:  # fmt: skip
    found = fleet.fleet(_store(request), q[:64], state, problem)
    rows = [{**r.__dict__, "over_target": r.over_target} for r in found.rows]
    return {"summary": found.summary.__dict__, "rows": rows}


@router.get("/stations/{station}", summary="One station: latest telemetry per channel, gaps, recent events")
def station(station: str, request: Request, who: Viewer) -> dict[str, Any]:
    found = _store(request).station(station)
    if found is None:
        raise HTTPException(404, f"no station {station!r} has reported")
    return found


@router.get("/stations/{station}/series", summary="A station's chart data over the day or the week")
def series(station: str, request: Request, who: Viewer, span: Span = Span.DAY) -> dict[str, object]:
    if _store(request).station(station) is None:
        raise HTTPException(404, f"no station {station!r} has reported")
    return station_series(_store(request), station, span).as_json()


@router.get("/stations/{station}/commands", summary="Commands sent to a station from central, with their acks")
def commands(station: str, request: Request, who: Viewer) -> list[dict[str, Any]]:
    state = fleet.station_state(_store(request), station)
    if state is None:
        raise HTTPException(404, f"no station {station!r} has reported")
    return state.commands


@router.get("/dead-letters", summary="The newest messages that failed validation, with the reason")
def dead_letters(request: Request, who: Viewer, limit: int = 100) -> list[dict[str, Any]]:
    return _store(request).dead_letters(max(1, min(limit, 1000)))
