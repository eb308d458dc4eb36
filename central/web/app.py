"""The dashboard's FastAPI app over one store: pages, sockets, JSON API, static files (markaz.web's shared assets,
central's own CSS and chart script, and uPlot from central/web/vendor, installed by `make`)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from central.dispatch import CommandDesk, Publish
from central.staff.service import StaffPolicy, StaffService
from central.store import CentralStore
from central.web import api, pages, views
from central.web.live import StoreWatch
from markaz.web.assets import mount_assets


def create_app(
    store: CentralStore,
    publish: Publish | None = None,
    policy: StaffPolicy | None = None,
    live_interval_s: float = 1.0,
) -> FastAPI:
    """`publish` sends a command to a station (None: a dashboard without a broker connection sends none)."""
    views.check_vendor()
    app = FastAPI(title="markaz central", version="1", docs_url="/api/docs")
    app.state.store = store
    app.state.staff = StaffService(store.db, policy)
    app.state.desk = CommandDesk(store, publish)
    app.state.watch = StoreWatch(store, live_interval_s)
    mount_assets(app)
    app.mount("/static/central/vendor", StaticFiles(directory=views.VENDOR), name="central-vendor")
    app.mount("/static/central", StaticFiles(directory=views.STATIC), name="central-static")
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
