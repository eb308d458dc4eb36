"""Prometheus metrics at /metrics: request counts and latencies by route, and the queue right now.

Counts, durations and states only, never a ticket number, a name or a document: the same rule as telemetry."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send


class QueueCollector:
    """Reads the queue when scraped, so the figures are never stale and cost nothing between scrapes."""

    def __init__(self, node) -> None:
        self.node = node

    def collect(self):
        waiting = GaugeMetricFamily("markaz_queue_waiting", "tickets waiting now", labels=["service"])
        longest = GaugeMetricFamily("markaz_queue_longest_wait_seconds", "longest current wait", labels=["service"])
        served = GaugeMetricFamily("markaz_queue_served_today", "tickets served this business day", labels=["service"])
        counters = GaugeMetricFamily("markaz_counters_open", "counters open")
        try:
            k = self.node.queue.kpis()
        except Exception:  # the store is closing: report nothing rather than fail the scrape
            return
        for s in k.services:
            waiting.add_metric([s.service], s.waiting)
            longest.add_metric([s.service], s.longest_wait_s)
            served.add_metric([s.service], s.served)
        counters.add_metric([], k.station.counters_open)
        yield from (waiting, longest, served, counters)


class Metrics:
    def __init__(self, node) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "markaz_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "markaz_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.registry.register(QueueCollector(node))

    def render(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4")


def route_template(scope: Scope) -> str:
    """The matched route as a template (/api/v1/tickets/{ticket_id}), never the raw path; unknown paths share one
    label. FastAPI's routes record themselves in the scope, relative to their router's prefix, so the prefix is
    taken back from the path's leading segments. Starlette's own routes (the OpenAPI document, the docs page,
    /metrics) do not record themselves: those are matched here against the application's routes."""
    relative = getattr(scope.get("route"), "path", None)
    if relative is None:
        return _match_plain_route(scope)
    tail = relative.strip("/").split("/") if relative.strip("/") else []
    segments = scope["path"].strip("/").split("/")
    prefix = segments[: len(segments) - len(tail)]
    return "/" + "/".join([*prefix, *tail])


def _match_plain_route(scope: Scope) -> str:
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        path = getattr(route, "path", None)
        if path is None or isinstance(route, Mount):
            continue
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            return str(path)
    return "unmatched"


class MetricsMiddleware:
    """Times every request under its route template (/api/v1/tickets/{ticket_id}), never the raw path."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}
        start = time.perf_counter()

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = route_template(scope)
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - start)
