"""Queue KPIs of the business day, per service and for the station."""

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from edge.api.deps import get_node, require
from edge.auth.principal import Principal

router = APIRouter(tags=["kpis"])


class KpiBlock(BaseModel):
    issued: int
    waiting: int
    called: int
    serving: int
    served: int
    no_shows: int
    transferred_out: int
    cancelled: int
    longest_wait_s: float
    mean_wait_s: float | None
    p90_wait_s: float | None
    mean_service_s: float | None
    within_target_share: float | None
    counters_open: int


class ServiceKpis(KpiBlock):
    service: str
    name_en: str
    name_ar: str
    target_wait_s: int


class StationKpis(KpiBlock):
    station_id: str


class Kpis(BaseModel):
    business_day: date
    generated_at: str
    timezone: str
    station: StationKpis
    services: list[ServiceKpis]


@router.get("/kpis", response_model=Kpis, summary="KPIs of a business day (default: today)")
async def get_kpis(
    request: Request, day: date | None = Query(None, description="business day, YYYY-MM-DD"),
    _: Principal = Depends(require("kpis.read")),
) -> Kpis:
    return Kpis(**get_node(request).queue.kpis(day))
