"""/metrics labels every request by the route template it matched, FastAPI's routes and Starlette's alike."""

from __future__ import annotations

from tests.conftest import auth


def _requests_by_route(text: str) -> dict[str, float]:
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("markaz_http_requests_total{"):
            labels, value = line.rsplit(" ", 1)
            route = labels.split('route="', 1)[1].split('"', 1)[0]
            counts[route] = counts.get(route, 0.0) + float(value)
    return counts


def test_plain_starlette_routes_are_labelled_by_their_path_not_unmatched(client, tokens):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/api/v1/tickets/7", headers=auth(tokens["officer"])).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    routes = _requests_by_route(client.get("/metrics").text)
    for route in ("/api/v1/openapi.json", "/api/v1/docs", "/metrics", "/api/v1/tickets/{ticket_id}"):
        assert routes.get(route, 0) >= 1, f"{route} missing from {sorted(routes)}"
    assert routes.get("unmatched") == 1, "only the unknown path is unmatched"
    assert not any("/no/such" in r or r.endswith("/7") for r in routes), "raw paths never become labels"
