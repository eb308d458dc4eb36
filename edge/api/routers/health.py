"""Liveness and readiness for supervisors and load balancers (no token: it reveals nothing)."""

from fastapi import APIRouter, Request

from markaz import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The node is up and its database answers")
def healthz(request: Request) -> dict:
    node = request.app.state.node
    node.store.query_one("SELECT 1 AS ok")
    return {"status": "ok", "station": node.settings.station_id, "version": __version__}
