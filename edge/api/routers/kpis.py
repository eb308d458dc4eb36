"""Queue KPIs of the business day, per service and for the station."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request

from edge.api.deps import get_node, require
from edge.auth.principal import Principal
from edge.queue.models import Kpis

router = APIRouter(tags=["kpis"])


@router.get("/kpis", response_model=Kpis, summary="KPIs of a business day (default: today)")
def get_kpis(
    request: Request,
    day: date | None = Query(None, description="business day, YYYY-MM-DD"),
    _: Principal = Depends(require("kpis.read")),
) -> Kpis:
    return get_node(request).queue.kpis(day)
