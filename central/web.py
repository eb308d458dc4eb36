"""Central's small view: stations, their latest queue snapshot and device states, and seq gaps (JSON and HTML)."""

from __future__ import annotations

import html

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse

from central.store import CentralStore


def create_app(store: CentralStore) -> FastAPI:
    app = FastAPI(title="markaz central", version="1", docs_url="/api/docs")

    @app.get("/api/stations", summary="Every station: status, last seq, duplicates, missing seqs")
    def stations() -> list[dict]:
        return store.stations()

    @app.get("/api/stations/{station}", summary="One station: latest telemetry per channel, gaps, recent events")
    def station(station: str) -> dict:
        found = store.station(station)
        if found is None:
            raise HTTPException(404, f"no station {station!r} has reported")
        return found

    @app.get("/", response_class=HTMLResponse, summary="The stations at a glance")
    def page() -> str:
        rows = []
        for s in store.stations():
            detail = store.station(s["station"]) or {}
            queue = (detail.get("latest") or {}).get("telemetry.queue", {}).get("data", {})
            services = ", ".join(
                f"{q['service']}: {q['waiting']} waiting, longest {q['longest_wait_s']:.0f} s"
                for q in queue.get("services", [])
            )
            e = html.escape
            rows.append(
                f"<tr><td>{e(s['station'])}</td><td class='{e(str(s['state']))}'>{e(str(s['state']))}</td>"
                f"<td>{s['max_seq']}</td><td>{s['received']}</td><td>{s['duplicates']}</td>"
                f"<td>{s['missing']}</td><td>{e(services)}</td></tr>"
            )
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>markaz central</title>"
            "<meta http-equiv='refresh' content='10'><style>body{font-family:sans-serif}td,th{padding:4px 10px;"
            "border-bottom:1px solid #ddd}.offline{color:#b00}.online{color:#070}</style></head><body>"
            "<h1>Stations</h1><table><tr><th>station</th><th>status</th><th>last seq</th><th>received</th>"
            "<th>duplicates</th><th>missing seqs</th><th>queue</th></tr>" + "".join(rows) + "</table></body></html>"
        )

    return app
