"""The report workbench's pages over HTTP (TestClient on the real app and node): sign-in, the list with its filters,
a report's page and its forms, and the role checks each page and form makes on the server."""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from edge.api.app import create_app
from tests.conftest import PASSWORD, auth, run_markaz
from tests.reports.conftest import AGENCIES, THEFT

SAME_ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def bench(make_node, station_template, tmp_path):
    template, tokens = station_template
    data = tmp_path / "bench-node"
    shutil.copytree(template, data)
    node = make_node(data_dir=data, reports={"agencies": AGENCIES, "station_code": "OLY"})
    with TestClient(create_app(node)) as client:
        yield client, node, dict(tokens)


def signed_in(client: TestClient, user: str) -> TestClient:
    client.cookies.clear()
    r = client.post("/signin", data={"username": user, "password": PASSWORD, "next": "/reports", "lang": "en"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/reports?lang=en"
    return client


def desk_report(client: TestClient, tokens: dict[str, str], **details: object) -> str:
    r = client.post("/api/v1/reports", headers=auth(tokens["officer"]),
                    json={"type": "theft", "details": {**THEFT, **details}, "complainant": {"name": "Desk Visitor"}})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["reference"]


def soon(node) -> str:
    """An end date two days ahead, station time (within the share limit)."""
    return (node.clock() + timedelta(days=2)).astimezone(node.settings.tz).date().isoformat()


def post(client: TestClient, path: str, **form: object) -> object:
    return client.post(path, data={"lang": "en", **form}, headers=SAME_ORIGIN, follow_redirects=False)


def test_without_sign_in_the_workbench_asks_for_it_and_a_form_changes_nothing(bench):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    for path in ("/reports", f"/reports/{ref}"):
        r = client.get(path)
        assert r.status_code == 200 and 'data-screen="signin"' in r.text and 'value="/reports"' in r.text
    r = post(client, f"/reports/{ref}/move", action="receive", reason="no one signed in")
    assert 'data-screen="signin"' in r.text
    assert node.reports.list_reports(node_admin(), filters())[0]["state"] == "submitted"


def node_admin():
    from edge.auth.principal import Principal

    return Principal("staff", "admin", "admin")


def filters(**kw):
    from edge.reports.service import Filters

    return Filters(**kw)


def test_the_list_filters_by_state_type_officer_and_time_limit(bench):
    client, node, tokens = bench
    a, b = desk_report(client, tokens), desk_report(client, tokens)
    signed_in(client, "officer")
    assert post(client, f"/reports/{b}/move", action="receive", reason="taken in").status_code == 303
    assert post(client, f"/reports/{b}/assign", officer="officer", reason="mine").status_code == 303
    page = client.get("/reports?lang=en").text
    assert 'data-count="2"' in page and a in page and b in page
    only_received = client.get("/reports", params={"state": "received", "lang": "en"}).text
    assert b in only_received and a not in only_received
    assert a in client.get("/reports", params={"state": "submitted"}).text
    by_officer = client.get("/reports", params={"officer": "officer"}).text
    assert b in by_officer and a not in by_officer
    assert 'data-count="0"' in client.get("/reports", params={"type": "loss"}).text
    assert 'data-count="2"' in client.get("/reports", params={"type": "theft"}).text
    assert 'data-count="0"' in client.get("/reports", params={"sla": "breached"}).text
    assert 'data-count="2"' in client.get("/reports", params={"sla": "within"}).text
    # an unknown filter value is ignored, not an error
    assert 'data-count="2"' in client.get("/reports", params={"state": "nonsense"}).text
    # every list the page showed went through the service: audited, with its filters
    audited = node.store.query("SELECT after FROM audit_log WHERE action = 'report.list'")
    assert len(audited) >= 9 and any('"officer":"officer"' in a["after"] for a in audited)


def test_the_list_renders_one_page_of_fifty_and_pages_older_by_reference(bench):
    from edge.api.routers.report_pages import PAGE
    from edge.reports.service import PartyIn
    from edge.reports.vocabulary import PartyRole

    client, node, tokens = bench
    refs = [node.reports.file("theft", THEFT, PartyIn(PartyRole.COMPLAINANT, "Desk Visitor"), _staff("officer"))
            ["reference"] for _ in range(PAGE + 3)]  # fmt: skip
    signed_in(client, "officer")
    first = client.get("/reports", params={"type": "theft", "lang": "en"}).text
    assert f'data-count="{PAGE}"' in first and rows(first) == refs[:2:-1]
    older = re.search(r'id="list-older" href="([^"]+)"', first)
    assert older and "type=theft" in older.group(1) and 'id="list-newest"' not in first
    second = client.get(older.group(1).replace("&amp;", "&")).text
    assert 'data-count="3"' in second and rows(second) == refs[2::-1]
    assert 'id="list-older"' not in second and 'id="list-newest"' in second
    api = client.get("/api/v1/reports", params={"limit": PAGE}, headers=auth(tokens["officer"])).json()
    assert len(api["reports"]) == PAGE and api["older"] == refs[3]
    rest = client.get("/api/v1/reports", params={"before": api["older"]}, headers=auth(tokens["officer"])).json()
    assert [r["reference"] for r in rest["reports"]] == refs[2::-1] and rest["older"] is None
    bad = client.get("/api/v1/reports", params={"before": "OLY-2026-999999-00"}, headers=auth(tokens["officer"]))
    assert bad.status_code == 422


def test_a_search_by_document_pages_older_through_forms_that_carry_its_keyed_hash_never_the_number(bench):
    from edge.api.routers.report_pages import PAGE
    from edge.reports.service import PartyIn
    from edge.reports.vocabulary import PartyRole

    client, node, _ = bench
    number = "L898902C3"
    party = PartyIn(PartyRole.COMPLAINANT, "Desk Visitor", None, number)
    refs = [node.reports.file("theft", THEFT, party, _staff("officer"))["reference"] for _ in range(PAGE + 2)]
    other = node.reports.file("theft", THEFT, PartyIn(PartyRole.COMPLAINANT, "Someone Else"), _staff("officer"))
    signed_in(client, "officer")
    first = post(client, "/reports/find", find=number.lower())
    assert first.status_code == 200 and rows(first.text) == refs[:1:-1] and other["reference"] not in first.text
    key = re.search(r'name="key" value="([0-9a-f]{64})"', first.text)
    assert key and number not in first.text.upper() and 'id="list-older"' in first.text
    assert f'name="before" value="{refs[2]}"' in first.text and "href" not in _paging(first.text)
    second = post(client, "/reports/find", key=key.group(1), before=refs[2])
    assert rows(second.text) == refs[1::-1] and 'id="list-older"' not in second.text
    assert 'id="list-newest"' in second.text and number not in second.text.upper()
    # a forged key is refused with a reason, and the audit keeps only keyed hashes
    forged = post(client, "/reports/find", key="not-a-key")
    assert forged.status_code == 422 and "document key" in forged.text
    empty = post(client, "/reports/find", find="  ")
    assert empty.status_code == 400 and "Type a reference or a document number" in empty.text
    audited = [json.loads(a["after"])["filters"] for a in node.store.query(
        "SELECT after FROM audit_log WHERE action = 'report.list' ORDER BY seq DESC LIMIT 2")]  # fmt: skip
    assert [f["document"] for f in audited] == [key.group(1)] * 2 and audited[0]["before"] == refs[2]
    assert all(number not in json.dumps(f).upper() for f in audited)


def _paging(page: str) -> str:
    start = page.index('class="paging"')
    return page[start : page.index("</nav>", start)]


def rows(page: str) -> list[str]:
    return re.findall(r'<tr data-reference="([^"]+)"', page)


def _staff(user: str):
    from edge.auth.principal import Principal

    return Principal("staff", user, user)


def test_officer_works_a_report_through_its_page_and_each_step_is_on_the_timeline(bench):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    signed_in(client, "officer")
    page = client.get(f"/reports/{ref}?lang=en").text
    assert 'data-state="submitted"' in page and 'value="receive"' in page
    assert 'value="close"' not in page  # closing is a supervisor's
    assert 'id="share-form"' not in page
    for action, reason in (("receive", "taken in"),):
        r = post(client, f"/reports/{ref}/move", action=action, reason=reason)
        assert r.status_code == 303 and r.headers["location"].startswith(f"/reports/{ref}?")
    # investigating needs an officer: the page says why, and nothing moved
    r = post(client, f"/reports/{ref}/move", action="investigate", reason="open it")
    assert r.status_code == 409 and "assign an officer" in r.text and 'data-state="received"' in r.text
    assert post(client, f"/reports/{ref}/assign", officer="officer", reason="mine").status_code == 303
    assert post(client, f"/reports/{ref}/move", action="investigate", reason="open it").status_code == 303
    page = client.get(f"/reports/{ref}?lang=en").text
    party = re.search(r'name="party_id"><option value="(\d+)"', page).group(1)
    r = post(client, f"/reports/{ref}/statement", party_id=party, text="It was gone at ten.", acknowledgement="signed")
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "The statement is recorded." in page and 'data-statements="1"' in page and "It was gone at ten." in page
    first = re.search(r'id="statement-(\d+)"', page).group(1)
    r = post(client, f"/reports/{ref}/statement", party_id=party, text="It was gone at eleven.",
             acknowledgement="read_back", corrects=first)  # fmt: skip
    page = client.get(r.headers["location"]).text
    assert 'data-statements="2"' in page and "Corrected by a later version." in page and "It was gone at ten." in page
    assert post(client, f"/reports/{ref}/party", role="witness", name="Sami Witness").status_code == 303
    assert post(client, f"/reports/{ref}/note", text="Camera at the gate", action="cctv_requested").status_code == 303
    assert post(client, f"/reports/{ref}/note", text="call back Sunday").status_code == 303
    assert post(client, f"/reports/{ref}/move", action="refer", reason="complete").status_code == 303
    page = client.get(f"/reports/{ref}?lang=en").text
    assert 'data-state="referred"' in page and 'data-referral="pending"' in page and "Referral pending" in page
    assert "Sami Witness" in page and "CCTV footage requested" in page and "call back Sunday" in page
    timeline = page[page.index('id="timeline"') :]
    for word in ("Filed", "Receive", "Assigned", "Start the investigation", "Refer to the prosecution"):
        assert word in timeline
    # a referred report takes no statement: the form is gone, and a forged post is refused by the service
    assert 'id="statement-form"' not in page
    r = post(client, f"/reports/{ref}/statement", party_id=party, text="late", acknowledgement="signed")
    assert r.status_code == 409
    assert [s["text"] for s in node.reports.get(ref, node_admin())["statements"]] == [
        "It was gone at ten.",
        "It was gone at eleven.",
    ]


def test_the_supervisor_returns_with_a_reason_and_closes_with_an_outcome(bench):
    client, _node, tokens = bench
    ref = desk_report(client, tokens)
    signed_in(client, "officer")
    post(client, f"/reports/{ref}/move", action="receive", reason="taken in")
    post(client, f"/reports/{ref}/assign", officer="officer", reason="mine")
    post(client, f"/reports/{ref}/move", action="investigate", reason="open it")
    signed_in(client, "supervisor")
    page = client.get(f"/reports/{ref}?lang=en").text
    assert 'value="return"' in page and 'value="close"' in page and 'id="share-form"' in page
    assert 'id="assign-officer"' in page and '<option value="officer" selected>' in page
    assert post(client, f"/reports/{ref}/move", action="return", reason="statement missing").status_code == 303
    page = client.get(f"/reports/{ref}?lang=en").text
    assert 'data-state="returned"' in page and "statement missing" in page
    r = post(client, f"/reports/{ref}/move", action="close", reason="done")
    assert r.status_code == 422 and "outcome" in r.text
    r = post(client, f"/reports/{ref}/move", action="close", reason="withdrawn by the visitor", outcome="withdrawn")
    page = client.get(r.headers["location"]).text
    assert 'data-state="closed"' in page and "Withdrawn" in page


def test_roles_are_checked_on_the_server_for_every_form(bench):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    # an officer may not share, and the forged form is refused with nothing shared
    signed_in(client, "officer")
    r = post(client, f"/reports/{ref}/share", agency_user="agency_viewer", purpose="look", until="2099-01-01")
    assert r.status_code == 403
    # a form from another origin is refused even with the cookie
    r = client.post(f"/reports/{ref}/move", data={"action": "receive", "reason": "xx-site"},
                    headers={"origin": "http://evil.example"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 403
    # a technician has no workbench at all
    client.cookies.clear()
    r = client.post("/signin", data={"username": "technician", "password": PASSWORD, "next": "/reports", "lang": "en"})
    assert "Your role may not use this screen." in r.text
    # the agency user may not work a report, even one shared with them
    signed_in(client, "supervisor")
    assert post(client, f"/reports/{ref}/share", agency_user="agency_viewer", purpose="case review",
                until=soon(node)).status_code == 303  # fmt: skip
    signed_in(client, "agency_viewer")
    r = post(client, f"/reports/{ref}/move", action="receive", reason="not mine to do")
    assert r.status_code == 403
    assert node.reports.get(ref, node_admin())["state"] == "submitted"
    assert not node.reports.get(ref, node_admin())["notes"]


def test_an_agency_user_sees_only_what_was_shared_and_only_until_the_date(bench):
    client, node, tokens = bench
    shared, other = desk_report(client, tokens), desk_report(client, tokens)
    signed_in(client, "supervisor")
    until = soon(node)
    assert post(client, f"/reports/{shared}/share", agency_user="agency_viewer", purpose="case review",
                until=until).status_code == 303  # fmt: skip
    signed_in(client, "agency_viewer")
    page = client.get("/reports?lang=en").text
    assert shared in page and other not in page and 'data-count="1"' in page
    page = client.get(f"/reports/{shared}?lang=en").text
    assert 'data-screen="report"' in page and 'id="move-form"' not in page and 'id="statement-form"' not in page
    assert "call back" not in page  # no notes for agencies (none here; the page has no notes section for them)
    r = client.get(f"/reports/{other}?lang=en")
    assert r.status_code == 403 and 'data-screen="refused"' in r.text


def test_every_string_of_the_workbench_has_an_arabic_translation():
    from edge.api.routers.report_pages import DONE
    from edge.reports import screens
    from markaz.web.catalogues import missing_messages
    from markaz.web.extract import template_messages
    from markaz.web.languages import Language

    ids = template_messages(screens.TEMPLATES) | set(DONE.values())
    ids |= {"This form did not come from this station's pages.", "Your role may not do this."}
    assert missing_messages(Language.AR, [screens.CATALOGUES], ids) == []


def _shares(node, ref: str) -> list[dict]:
    return node.reports.get(ref, node_admin())["shares"]


def _audited(node, action: str, ref: str) -> list[dict]:
    return node.store.query("SELECT actor, after FROM audit_log WHERE action = ? AND entity_id = ?", [action, ref])


def test_a_supervisor_ends_a_share_from_the_page_only_confirmed_same_origin_and_audited(bench):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    signed_in(client, "supervisor")
    assert post(client, f"/reports/{ref}/share", agency_user="agency_viewer", purpose="case review",
                until=soon(node)).status_code == 303  # fmt: skip
    share = _shares(node, ref)[0]["id"]
    page = client.get(f"/reports/{ref}?lang=en").text
    assert f'id="revoke-{share}"' in page and 'name="confirm" value="yes" required' in page
    revoke = f"/reports/{ref}/shares/{share}/revoke"
    # without the tick box, from another origin, or by an officer: refused, and the share still stands
    r = post(client, revoke)
    assert r.status_code == 422 and "tick the box" in r.text
    r = client.post(revoke, data={"confirm": "yes", "lang": "en"}, headers={"origin": "http://evil.example"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 403
    signed_in(client, "officer")
    assert f'id="revoke-{share}"' not in client.get(f"/reports/{ref}?lang=en").text
    assert post(client, revoke, confirm="yes").status_code == 403
    assert _shares(node, ref)[0]["revoked_at"] is None and not _audited(node, "report.unshare", ref)
    signed_in(client, "agency_viewer")
    assert client.get(f"/reports/{ref}").status_code == 200
    # the supervisor ends it: audited by the service, the agency user is refused from now on
    signed_in(client, "supervisor")
    r = post(client, revoke, confirm="yes")
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{ref}?lang=en&done=unshared"
    page = client.get(r.headers["location"]).text
    assert "The share has ended" in page and f'id="revoke-{share}"' not in page and 'data-revoked="yes"' in page
    assert _shares(node, ref)[0]["revoked_at"] is not None
    (entry,) = _audited(node, "report.unshare", ref)
    assert entry["actor"] == "supervisor" and json.loads(entry["after"]) == {"share_id": share}
    assert post(client, f"/reports/{ref}/shares/999/revoke", confirm="yes").status_code == 404
    signed_in(client, "agency_viewer")
    assert client.get(f"/reports/{ref}").status_code == 403
    # the API says the same
    r = client.get(f"/api/v1/reports/{ref}", headers=auth(tokens["agency_viewer"]))
    assert r.status_code == 403


def test_the_signed_referral_package_downloads_for_a_supervisor_confirmed_and_audited(bench, tmp_path):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    officer = auth(tokens["officer"])
    download = f"/reports/{ref}/referral"
    signed_in(client, "supervisor")
    assert 'id="referral-form"' not in client.get(f"/reports/{ref}").text  # nothing referred yet
    assert post(client, download, confirm="yes").status_code == 404
    for action in ("receive", "investigate", "refer"):
        if action == "investigate":
            assert client.post(f"/api/v1/reports/{ref}/assign", headers=officer,
                               json={"officer": "officer", "reason": "mine"}).status_code == 200  # fmt: skip
        r = client.post(f"/api/v1/reports/{ref}/transitions", headers=officer, json={"action": action, "reason": "ok!"})
        assert r.status_code == 200, r.text
    assert 'id="referral-form"' in client.get(f"/reports/{ref}").text
    before = len([e for e in _audited(node, "report.read", ref) if json.loads(e["after"])["view"] == "referral"])
    assert post(client, download).status_code == 422  # not confirmed
    r = client.post(download, data={"confirm": "yes"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "attachment" not in r.headers.get("content-disposition", "")
    r = post(client, download, confirm="yes")
    assert r.status_code == 200 and r.headers["content-disposition"] == f'attachment; filename="referral-{ref}.json"'
    assert r.headers["cache-control"] == "no-store"
    reads = [json.loads(e["after"]) for e in _audited(node, "report.read", ref)]
    assert len([a for a in reads if a["view"] == "referral"]) == before + 1
    # the same package as the API gives, and it verifies with the station's key
    api = client.get(f"/api/v1/reports/{ref}/referral", headers=auth(tokens["supervisor"]))
    assert r.json() == api.json()
    saved = tmp_path / "package.json"
    saved.write_bytes(r.content)
    checked = run_markaz("edge", "reports", "verify-referral", str(saved), "--public-key",
                         str(node.settings.keys_dir / "referral-signing.pub.pem"))  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    signed_in(client, "officer")
    assert 'id="referral-form"' not in client.get(f"/reports/{ref}").text
    assert post(client, download, confirm="yes").status_code == 403


def _screen(ws) -> str:
    message = json.loads(ws.receive_text())
    assert message["type"] == "screen"
    return message["html"]


def test_the_live_sockets_check_origin_and_sign_in_and_push_only_what_the_viewer_may_see(bench):
    client, node, tokens = bench
    ref, other = desk_report(client, tokens), desk_report(client, tokens)
    officer = auth(tokens["officer"])
    with (
        pytest.raises(WebSocketDisconnect) as out,
        client.websocket_connect("/reports/live", headers=SAME_ORIGIN) as ws,
    ):
        ws.receive_text()
    assert out.value.code == 4401  # nobody signed in
    signed_in(client, "officer")
    evil = {"origin": "http://evil.example"}
    with (
        pytest.raises(WebSocketDisconnect) as out,
        client.websocket_connect(f"/reports/{ref}/live", headers=evil) as ws,
    ):
        ws.receive_text()
    assert out.value.code == 4403
    with client.websocket_connect(f"/reports/{ref}/live?lang=en", headers=SAME_ORIGIN) as ws:
        assert 'data-state="submitted"' in _screen(ws)
        assert client.post(f"/api/v1/reports/{ref}/transitions", headers=officer,
                           json={"action": "receive", "reason": "at the desk"}).status_code == 200  # fmt: skip
        assert 'data-state="received"' in _screen(ws)
    with client.websocket_connect("/reports/live?lang=en&state=received", headers=SAME_ORIGIN) as ws:
        assert 'data-count="1"' in _screen(ws)
        assert client.post(f"/api/v1/reports/{other}/transitions", headers=officer,
                           json={"action": "receive", "reason": "at the desk"}).status_code == 200  # fmt: skip
        assert 'data-count="2"' in _screen(ws)
    # an agency user: a report not shared is refused on the socket too, and becomes readable when shared
    signed_in(client, "agency_viewer")
    with client.websocket_connect(f"/reports/{ref}/live?lang=en", headers=SAME_ORIGIN) as ws:
        assert 'data-screen="refused"' in _screen(ws)
        node.reports.share(ref, "agency_viewer", "case review", node.clock() + timedelta(days=1), node_admin())
        html = _screen(ws)
        assert f'data-reference="{ref}"' in html and "<form" not in html  # read only
    with pytest.raises(WebSocketDisconnect) as out, client.websocket_connect("/reports/BAD/live", headers=SAME_ORIGIN):
        pass
    assert out.value.code == 4404


def test_finding_by_reference_opens_it_and_by_document_number_lists_where_that_person_is_a_party(bench):
    from edge.reports.service import PartyIn
    from edge.reports.vocabulary import PartyRole

    client, node, tokens = bench
    mine, other = desk_report(client, tokens), desk_report(client, tokens)
    node.reports.add_party(mine, PartyIn(PartyRole.WITNESS, "Omar", None, "L898902C3"), node_admin())
    signed_in(client, "officer")
    r = post(client, "/reports/find", find=mine.lower())
    assert r.status_code == 303 and r.headers["location"] == f"/reports/{mine}?lang=en"
    r = post(client, "/reports/find", find="l898902c3")
    assert r.status_code == 200 and 'data-count="1"' in r.text and mine in r.text and other not in r.text
    assert "L898902C3" not in r.text.upper()  # the number is not echoed back
    (entry,) = node.store.query("SELECT after FROM audit_log WHERE action = 'report.list' ORDER BY seq DESC LIMIT 1")
    assert "L898902C3" not in entry["after"].upper() and json.loads(entry["after"])["filters"]["document"]
    r = client.post("/reports/find", data={"find": "L898902C3"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    # the API's filter finds the same
    api = client.post("/api/v1/reports/search", json={"document_number": "L898902C3"}, headers=auth(tokens["officer"]))
    assert [s["reference"] for s in api.json()["reports"]] == [mine]
    # in a URL the number is refused, saying where it goes instead
    query = client.get("/api/v1/reports", params={"document": "L898902C3"}, headers=auth(tokens["officer"]))
    assert query.status_code == 422 and "POST /api/v1/reports/search" in query.text


def _reads(node, action: str, ref: str | None = None) -> list[dict]:
    rows = node.store.query("SELECT entity_id, after FROM audit_log WHERE action = ? ORDER BY seq", [action])
    return [json.loads(r["after"]) for r in rows if ref is None or r["entity_id"] == ref]


def test_a_live_page_is_audited_once_when_it_opens_not_on_every_push_and_again_when_access_changes(bench):
    client, node, tokens = bench
    ref = desk_report(client, tokens)
    officer = auth(tokens["officer"])
    signed_in(client, "officer")
    pushes = 4
    with client.websocket_connect(f"/reports/{ref}/live?lang=en", headers=SAME_ORIGIN) as ws:
        _screen(ws)
        for n in range(pushes):
            assert client.post(f"/api/v1/reports/{ref}/notes", headers=officer,
                               json={"text": f"called the visitor back, try {n}"}).status_code == 201  # fmt: skip
            assert f"try {n}" in _screen(ws)  # each change is pushed: a new read of the page...
    reads = _reads(node, "report.read", ref)  # nothing else read it: filing and notes write, they do not read
    assert len(reads) == 1 and reads[0]["live"] and (reads[0]["view"], reads[0]["outcome"]) == ("staff", "ok")
    assert _reads(node, "report.list") == []
    with client.websocket_connect("/reports/live?lang=en", headers=SAME_ORIGIN) as ws:
        assert 'data-count="1"' in _screen(ws)
        for n in range(pushes):
            desk_report(client, tokens)
            assert f'data-count="{n + 2}"' in _screen(ws)
    lists = _reads(node, "report.list")
    assert len(lists) == 1 and lists[0]["live"] and lists[0]["count"] == 1
    # an agency user's open page: refused (audited), shared (audited), changes pushed (not), revoked (audited)
    signed_in(client, "agency_viewer")
    with client.websocket_connect(f"/reports/{ref}/live?lang=en", headers=SAME_ORIGIN) as ws:
        assert 'data-screen="refused"' in _screen(ws)
        share = node.reports.share(ref, "agency_viewer", "case review", node.clock() + timedelta(days=1), node_admin())
        assert f'data-reference="{ref}"' in _screen(ws)
        for n in range(2):
            node.reports.add_note(ref, f"an action taken {n}", node_admin(), "other")
            assert f"an action taken {n}" in _screen(ws)
        node.reports.revoke_share(ref, share["id"], node_admin())
        assert 'data-screen="refused"' in _screen(ws)
    agency = [(a["view"], a["outcome"]) for a in _reads(node, "report.read", ref)][1:]
    assert agency == [("agency", "denied"), ("agency", "ok"), ("agency", "denied")]
