"""Central's page is a Jinja2 template over the store: what stations sent is shown escaped, never as markup."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from central.web import create_app
from markaz.contracts import mqtt as contract


def test_page_lists_stations_with_their_queue_escaped(open_store):
    store = open_store()
    now = datetime.now(UTC)
    store.status("st-1", contract.Status(state="online", since=now))
    snapshot = contract.QueueMessage(
        schema="markaz.telemetry.queue/1",
        station="st-1",
        seq=1,
        ts=now,
        data=contract.QueueSnapshot(
            business_day="2026-01-01",
            reason="periodic",
            services=[
                contract.ServiceQueue(service="passports", waiting=3, longest_wait_s=125.4, served=9, counters_open=2),
                contract.ServiceQueue(service="reports", waiting=0, longest_wait_s=0, served=1, counters_open=1),
            ],
        ),
    )
    store.envelope(contract.parse_topic("markaz/v1/st-1/telemetry/queue"), "markaz/v1/st-1/telemetry/queue", snapshot)
    # a row that did not come through the contract (e.g. edited by hand) still cannot inject markup
    store.status("<script>x</script>", contract.Status(state="offline", since=now))
    client = TestClient(create_app(store))
    assert "None: every message matched the contract." in client.get("/").text
    store.dead_letter("markaz/v1/st-1/telemetry/queue", b"<b>bad</b>", "not JSON <i>")
    assert [d["reason"] for d in client.get("/api/dead-letters").json()] == ["not JSON <i>"]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<td>st-1</td>" in text and '<td class="online">online</td>' in text
    assert "passports: 3 waiting, longest 125 s, reports: 0 waiting, longest 0 s" in text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert "not JSON &lt;i&gt;" in text and "<i>" not in text
