"""The dashboard's FastAPI app over one store: pages, sockets, JSON API, static files (markaz.web's shared assets,
central's own CSS and chart script, and uPlot from central/web/vendor, installed by `make`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from starlette.staticfiles import StaticFiles

from central.alarms_api import Staff, alarm_router
from central.comparison_api import comparison_router
from central.dispatch import CommandDesk, Publish
from central.rollouts import RolloutService
from central.rollouts_api import rollout_router
from central.series import RollupTimer
from central.staff.service import StaffPolicy, StaffService
from central.store import CentralStore
from central.web import alarm_pages, api, comparison_pages, pages, views
from central.web.live import StoreWatch
from central.web.session import current
from markaz.web.assets import mount_assets


def create_app(
    store: CentralStore,
    publish: Publish | None = None,
    policy: StaffPolicy | None = None,
    live_interval_s: float = 1.0,
    rollup_every_s: float = 0.0,
    chart_ttl_s: float = 15.0,
    current_staff: Callable[..., Staff] | None = None,
) -> FastAPI:
    """`publish` sends a command to a station (None: a dashboard without a broker connection sends none);
    `rollup_every_s` > 0 keeps the rollups current while the app runs (`markaz central serve` does)."""
    views.check_vendor()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        timer = RollupTimer(store, rollup_every_s) if rollup_every_s > 0 else None
        if timer is not None:
            timer.start()
        try:
            yield
        finally:
            if timer is not None:
                timer.stop()

    app = FastAPI(title="markaz central", version="1", docs_url="/api/docs", lifespan=lifespan)
    app.state.store = store
    app.state.staff = StaffService(store.db, policy)
    app.state.desk = CommandDesk(store, publish)
    app.state.watch = StoreWatch(store, live_interval_s)
    app.state.charts = views.ChartCache(chart_ttl_s)
    mount_assets(app)
    app.mount("/static/central/vendor", StaticFiles(directory=views.VENDOR), name="central-vendor")
    app.mount("/static/central", StaticFiles(directory=views.STATIC), name="central-static")
    who = current_staff or signed_in_staff
    app.include_router(alarm_router(store, who))
    app.include_router(comparison_router(store, who))
    app.include_router(api.router)
    app.state.rollouts = RolloutService(store, app.state.desk)
    app.state.rollouts.interrupt_unfinished()
    app.include_router(rollout_router(app.state.rollouts))
    app.include_router(alarm_pages.router)
    app.include_router(comparison_pages.router)
    app.include_router(pages.router)
    return app


def signed_in_staff(request: Request) -> Staff:
    """The alarm and comparison routes' sign-in: the dashboard's session cookie, 401 without one."""
    who = current(request)
    if who is None:
        raise HTTPException(401, "sign in to central first")
    return Staff(who.username, who.role)
