"""The whole permission table, over real HTTP with real tokens: every route of the OpenAPI document x every staff
role, every device type and no token at all, against the expectation written here (deliberately not read from
edge/auth/roles.py, so a change to the table has to be made twice, on purpose)."""

from __future__ import annotations

import re
import shutil

import httpx
import pytest

from tests.conftest import run_markaz

pytestmark = pytest.mark.slow

OFFICER, SUPERVISOR, TECHNICIAN, ADMIN, AGENCY = "officer", "supervisor", "technician", "admin", "agency_viewer"
KIOSK, DISPLAY, COUNTER = "kiosk", "display", "counter_terminal"
STAFF = {OFFICER, SUPERVISOR, TECHNICIAN, ADMIN, AGENCY}
DEVICES = {KIOSK, DISPLAY, COUNTER}
EVERYONE = STAFF | DEVICES
PUBLIC = "public"  # no token needed
CERTIFICATE = "certificate"  # the device listener's client certificate only: no token opens it

DESK = {OFFICER, SUPERVISOR, ADMIN}
MANAGERS = {SUPERVISOR, ADMIN}
READ_QUEUE = {KIOSK, DISPLAY, COUNTER, TECHNICIAN, *DESK}
OPERATE = {COUNTER, *DESK}

EXPECTED: dict[tuple[str, str], set[str] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): EVERYONE,
    ("GET", "/api/v1/auth/me"): EVERYONE,
    ("POST", "/api/v1/tickets"): {KIOSK, *DESK},
    ("GET", "/api/v1/tickets"): READ_QUEUE,
    ("GET", "/api/v1/tickets/{ticket_id}"): READ_QUEUE,
    ("POST", "/api/v1/tickets/{ticket_id}/recall"): OPERATE,
    ("POST", "/api/v1/tickets/{ticket_id}/start"): OPERATE,
    ("POST", "/api/v1/tickets/{ticket_id}/finish"): OPERATE,
    ("POST", "/api/v1/tickets/{ticket_id}/no-show"): OPERATE,
    ("POST", "/api/v1/tickets/{ticket_id}/cancel"): {KIOSK, *DESK},
    ("POST", "/api/v1/tickets/{ticket_id}/transfer"): OPERATE,
    ("GET", "/api/v1/counters"): {DISPLAY, COUNTER, TECHNICIAN, *DESK},
    ("POST", "/api/v1/counters/{counter}/call-next"): OPERATE,
    ("POST", "/api/v1/counters/{counter}/open"): DESK,
    ("POST", "/api/v1/counters/{counter}/close"): DESK,
    ("GET", "/api/v1/services"): READ_QUEUE,
    ("PUT", "/api/v1/catalogue"): MANAGERS,
    ("GET", "/api/v1/kpis"): MANAGERS,
    ("GET", "/api/v1/staff"): {ADMIN},
    ("POST", "/api/v1/staff"): {ADMIN},
    ("PATCH", "/api/v1/staff/{username}"): {ADMIN},
    ("POST", "/api/v1/staff/{username}/sign-in-reset"): MANAGERS,
    ("GET", "/api/v1/devices"): {TECHNICIAN, ADMIN},
    ("POST", "/api/v1/devices"): {TECHNICIAN, ADMIN},
    ("PATCH", "/api/v1/devices/{device_id}"): {TECHNICIAN, ADMIN},
    ("DELETE", "/api/v1/devices/{device_id}/token"): {TECHNICIAN, ADMIN},
    ("POST", "/api/v1/devices/heartbeat"): DEVICES,
    ("GET", "/api/v1/audit"): MANAGERS,
    ("GET", "/api/v1/audit/verify"): MANAGERS,
    ("POST", "/api/v1/verifications"): {KIOSK},
    ("POST", "/api/v1/enrolment"): PUBLIC,  # the one-time claim code is the credential
    ("POST", "/api/v1/enrolment/renew"): CERTIFICATE,
    ("GET", "/api/v1/enrolment/self"): CERTIFICATE,
    ("POST", "/api/v1/enrolment/self/selftest"): CERTIFICATE,
    ("GET", "/api/v1/enrolment/inventory"): {TECHNICIAN, ADMIN},
    # device profiles: technicians set the desired version; each device fetches its own and reports on it
    ("PUT", "/api/v1/profiles/{device_id}/desired"): {TECHNICIAN, ADMIN},
    ("GET", "/api/v1/profiles"): {TECHNICIAN, ADMIN},
    ("GET", "/api/v1/profiles/self"): DEVICES,
    ("POST", "/api/v1/profiles/self/report"): DEVICES,
    # the hall's JSON API (counter terminals, displays, the supervisor's chart)
    ("GET", "/api/v1/hall/counters"): {DISPLAY, COUNTER, TECHNICIAN, *DESK},
    ("GET", "/api/v1/hall/counters/{counter}"): OPERATE,
    ("POST", "/api/v1/hall/counters/{counter}/actions/{action}"): OPERATE,
    ("GET", "/api/v1/hall/display"): {DISPLAY, COUNTER, TECHNICIAN, *DESK},
    ("GET", "/api/v1/hall/announcements"): {DISPLAY, COUNTER, TECHNICIAN, *DESK},
    ("GET", "/api/v1/hall/audio/{key}.wav"): {DISPLAY, COUNTER, TECHNICIAN, *DESK},
    ("GET", "/api/v1/hall/history"): MANAGERS,
    # reports: a kiosk files and tracks; officers work them; agency users read only what was shared with them
    ("GET", "/api/v1/reports/types"): {KIOSK, *DESK},
    ("POST", "/api/v1/reports"): {KIOSK, *DESK},
    ("POST", "/api/v1/reports/track"): {KIOSK},
    ("GET", "/api/v1/reports"): {AGENCY, *DESK},
    ("POST", "/api/v1/reports/search"): {AGENCY, *DESK},
    ("GET", "/api/v1/reports/reads/mine"): {AGENCY, *DESK},
    ("GET", "/api/v1/reports/{reference}"): {AGENCY, *DESK},
    ("POST", "/api/v1/reports/{reference}/transitions"): DESK,
    ("POST", "/api/v1/reports/{reference}/assign"): DESK,
    ("POST", "/api/v1/reports/{reference}/parties"): DESK,
    ("POST", "/api/v1/reports/{reference}/statements"): DESK,
    ("POST", "/api/v1/reports/{reference}/notes"): DESK,
    ("POST", "/api/v1/reports/{reference}/shares"): MANAGERS,
    ("DELETE", "/api/v1/reports/{reference}/shares/{share_id}"): MANAGERS,
    ("GET", "/api/v1/reports/{reference}/referral"): MANAGERS,
}

# Path parameters that name nothing: an allowed caller gets 404 or 422, never a change to the station.
_NOTHING = {
    "ticket_id": "999999999",
    "counter": "no-such-counter",
    "username": "no-such-user",
    "device_id": "no-such",
    "action": "call_next",
    "key": "0000000000000000",
    "reference": "OLY-2026-000001-00",
    "share_id": "999999999",
}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: _NOTHING[m.group(1)], path)


@pytest.fixture
def station(station_template, tmp_path, server_factory):
    template, tokens = station_template
    data = tmp_path / "node"
    shutil.copytree(template, data)
    tokens = dict(tokens)
    for device_id, kind in (("display-1", DISPLAY), ("counter-1", COUNTER)):
        r = run_markaz("edge", "device", "add", device_id, "--type", kind, "--data", str(data))
        assert r.returncode == 0, r.stderr
        tokens[kind] = r.stdout.strip()
    assert set(tokens) == EVERYONE
    return server_factory(data, "--sample-data"), tokens


def test_every_route_answers_every_role_and_device_type_as_the_table_says(station):
    srv, tokens = station
    with httpx.Client(base_url=srv.base, timeout=60) as c:
        doc = c.get("/api/v1/openapi.json").json()
        routes = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        routes.add(("GET", "/healthz"))
        assert routes == set(EXPECTED), (
            f"routes without an expectation: {sorted(routes - set(EXPECTED))}; "
            f"expectations without a route: {sorted(set(EXPECTED) - routes)}"
        )
        wrong = []
        # Signing out revokes the token used: those requests go last.
        ordered = sorted(EXPECTED, key=lambda route: route == ("POST", "/api/v1/auth/logout"))
        for method, path in ordered:
            allowed = EXPECTED[(method, path)]
            for who in [None, *sorted(EVERYONE)]:
                headers = {"Authorization": f"Bearer {tokens[who]}"} if who else {}
                r = c.request(
                    method, _url(path), headers=headers, json={} if method in {"POST", "PUT", "PATCH"} else None
                )
                if allowed == PUBLIC:
                    ok = r.status_code not in (401, 403)
                elif allowed == CERTIFICATE or who is None:
                    ok = r.status_code == 401
                elif who in allowed:
                    ok = r.status_code not in (401, 403)
                else:
                    ok = r.status_code == 403
                if not ok or r.status_code >= 500:
                    wrong.append(f"{method} {path} as {who or 'nobody'}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)


# The technician's page (server-rendered, outside the OpenAPI document): its sign-in cookie holds the same token, and
# every page and form checks the role again on the server.
TECHNICIAN_PAGES = {TECHNICIAN, ADMIN}


def test_the_technicians_page_and_its_forms_are_for_technicians_and_admins_only(station):
    srv, tokens = station
    wrong = []
    for who in [None, *sorted(EVERYONE)]:
        with httpx.Client(base_url=srv.base, timeout=60) as c:
            if who:
                c.cookies.set("markaz_staff", tokens[who])
            page = c.get("/technician?lang=en")
            shown = page.status_code == 200 and 'data-screen="technician"' in page.text
            confirm = c.get("/technician/confirm", params={"action": "revoke", "device": "display-1"})
            asked = 'data-screen="confirm"' in confirm.text
            forms = [
                c.post("/technician/desire", data={"device": "no-such", "version": "x"}),
                c.post("/technician/approve", data={"device": "no-such"}),
                c.post("/technician/revoke", data={"device": "no-such", "confirm": "yes"}),
            ]
            if who in TECHNICIAN_PAGES:  # allowed: the service answers (no such device), not the role check
                ok = shown and asked and [f.status_code for f in forms] == [404, 404, 404]
            else:
                ok = not shown and not asked and all(f.status_code == 403 for f in forms)
            if not ok:
                wrong.append(f"{who or 'nobody'}: page {page.status_code} shown={shown} confirm={asked} "
                             f"forms={[f.status_code for f in forms]}")  # fmt: skip
    assert not wrong, "\n".join(wrong)


# The report workbench's pages (server-rendered, outside the OpenAPI document): the same table for its routes, with
# the staff cookie instead of a bearer token. A page refused to a role shows the sign-in; a form refused to a reader
# answers 403.
PAGES: dict[tuple[str, str], set[str]] = {
    ("GET", "/reports"): {AGENCY, *DESK},
    ("GET", "/reports/{reference}"): {AGENCY, *DESK},
    ("POST", "/reports/{reference}/move"): DESK,
    ("POST", "/reports/{reference}/assign"): DESK,
    ("POST", "/reports/{reference}/statement"): DESK,
    ("POST", "/reports/{reference}/party"): DESK,
    ("POST", "/reports/{reference}/note"): DESK,
    ("POST", "/reports/{reference}/share"): MANAGERS,
    ("POST", "/reports/{reference}/shares/{share_id}/revoke"): MANAGERS,
    ("POST", "/reports/{reference}/referral"): MANAGERS,
    ("POST", "/reports/find"): {AGENCY, *DESK},
}
# the live pages' sockets (the same reading rule as their pages: tests/reports/test_workbench.py checks them)
LIVE_PAGES = {"/reports/live", "/reports/{reference}/live"}
_FORM = {"action": "receive", "reason": "checking", "officer": "officer", "party_id": "1", "text": "t",
         "acknowledgement": "signed", "role": "witness", "name": "n", "agency_user": "agency_viewer",
         "purpose": "checking", "until": "2099-01-01", "confirm": "yes", "find": "L898902C3"}  # fmt: skip


def test_every_workbench_page_and_form_answers_every_role_as_the_table_says(station):
    from edge.api.routers import report_pages

    srv, tokens = station
    routes = {(m, r.path) for r in report_pages.router.routes for m in getattr(r, "methods", None) or ["WS"]}
    assert {path for m, path in routes if m == "WS"} == LIVE_PAGES
    routes = {(m, path) for m, path in routes if m != "WS"}
    assert routes == set(PAGES), f"workbench routes without an expectation: {sorted(routes - set(PAGES))}"
    wrong = []
    with httpx.Client(base_url=srv.base, timeout=60) as c:
        origin = {"origin": srv.base}
        for (method, path), allowed in PAGES.items():
            for who in [None, *sorted(EVERYONE)]:
                c.cookies.clear()
                if who:
                    c.cookies.set("markaz_staff", tokens[who])
                data = _FORM if method == "POST" else None
                r = c.request(method, _url(path), data=data, headers=origin, follow_redirects=False)
                signin = 'data-screen="signin"' in r.text
                if who in allowed:
                    ok = r.status_code not in (401, 403) and not signin
                elif method == "GET" or who not in {AGENCY, *DESK}:
                    ok = signin
                else:
                    ok = r.status_code == 403
                if not ok or r.status_code >= 500:
                    wrong.append(f"{method} {path} as {who or 'nobody'}: {r.status_code} {r.text[:120]}")
    assert not wrong, "\n".join(wrong)
