"""Builds the FastAPI application around one EdgeNode; the lifespan starts and stops the node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from edge.api.errors import install_error_handlers
from edge.api.metrics import Metrics, MetricsMiddleware
from edge.api.routers import (
    audit,
    auth,
    catalogue,
    counters,
    device_status,
    devices,
    enrolment,
    hall,
    hall_pages,
    health,
    kpis,
    profiles,
    report_pages,
    reports,
    staff,
    technician_pages,
    tickets,
    verifications,
)
from edge.api.schemas import BODY_ERROR, ERROR_RESPONSES
from edge.node import EdgeNode
from markaz import __version__

API_PREFIX = "/api/v1"
ROUTERS = [
    auth,
    tickets,
    counters,
    catalogue,
    kpis,
    staff,
    devices,
    device_status,
    audit,
    verifications,
    enrolment,
    profiles,
    reports,
    hall,
]


def create_app(node: EdgeNode) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not node.started:
            node.start()
        try:
            yield
        finally:
            node.stop()

    app = FastAPI(
        title="markaz edge node",
        version=__version__,
        description="The station's edge node: visitor queue, staff, devices, audit log, face verification.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
        # JSON bodies are small; the verification upload sets its own, larger limit on its route.
        max_body_size=64 * 1024,
    )
    app.state.node = node
    metrics = Metrics(node)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_route("/metrics", metrics.render, include_in_schema=False)
    install_error_handlers(app)
    app.include_router(health.router)
    for module in ROUTERS:
        _document_body_errors(module.router)
        app.include_router(module.router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    hall_pages.install(app)
    technician_pages.install(app)
    report_pages.install(app)
    return app


def _document_body_errors(router: APIRouter) -> None:
    """Every route that reads a JSON body answers 400 when the body cannot be parsed at all (not UTF-8, not JSON):
    FastAPI does so before any dependency runs, so the contract says it on each such route."""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            route.responses.setdefault(400, BODY_ERROR)
