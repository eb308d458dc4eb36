"""Central's small view: stations, their latest queue snapshot and device states, and seq gaps (JSON and HTML).

The page is a Jinja2 template (`central/templates/`) with autoescaping: station data never becomes markup."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from central.alarms_api import Staff, alarm_router, no_sign_in
from central.comparison_api import comparison_router
from central.store import CentralStore

_TEMPLATES = Environment(
    loader=PackageLoader("central", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a field the page names but the data lacks is an error, not a blank cell
)


def render_stations(store: CentralStore) -> str:
    stations = []
    for s in store.stations():
        detail = store.station(s["station"]) or {}
        queue = (detail.get("latest") or {}).get("telemetry.queue", {}).get("data", {})
        stations.append({**s, "state": str(s["state"]), "queue": queue.get("services", [])})
    return _TEMPLATES.get_template("stations.html").render(stations=stations, dead_letters=store.dead_letters(20))


def create_app(store: CentralStore, current_staff: Callable[..., Staff] = no_sign_in) -> FastAPI:
    app = FastAPI(title="markaz central", version="1", docs_url="/api/docs")
    app.include_router(alarm_router(store, current_staff))
    app.include_router(comparison_router(store, current_staff))

    @app.get("/api/stations", summary="Every station: status, last seq, duplicates, missing seqs")
    def stations() -> list[dict]:
        return store.stations()

    @app.get("/api/stations/{station}", summary="One station: latest telemetry per channel, gaps, recent events")
    def station(station: str) -> dict:
        found = store.station(station)
        if found is None:
            raise HTTPException(404, f"no station {station!r} has reported")
        return found

    @app.get("/api/dead-letters", summary="The newest messages that failed validation, with the reason")
    def dead_letters(limit: int = 100) -> list[dict]:
        return store.dead_letters(max(1, min(limit, 1000)))

    @app.get("/", response_class=HTMLResponse, summary="The stations at a glance")
    def page() -> str:
        return render_stations(store)

    return app
