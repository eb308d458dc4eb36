"""The dashboard over a real store (both backends): every page and API call needs a session, roles are checked on
the server, the overview's figures and filters, a station's page and chart series, and nothing a station sent
becomes markup."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from central.series import Span, station_series
from central.staff import audit
from central.web import create_app
from markaz.clock import iso
from markaz.contracts import mqtt as contract
from tests.central.staff import add_staff, sign_in, signed_in_client

NOW = datetime.now(UTC).replace(microsecond=0)


def _store_message(store, topic: str, payload: dict) -> None:
    info, msg = contract.validate(topic, json.dumps(payload))
    store.envelope(info, topic, msg)


def _queue(station: str, seq: int, ts: datetime, waiting: int, longest: float, served: int, target=600.0) -> dict:
    return {
        "schema": "markaz.telemetry.queue/1", "station": station, "seq": seq, "ts": iso(ts),
        "data": {"business_day": ts.date().isoformat(), "reason": "periodic", "services": [
            {"service": "passports", "waiting": waiting, "longest_wait_s": longest, "served": served,
             "counters_open": 2, "target_wait_s": target},
            {"service": "reports", "waiting": 1, "longest_wait_s": 30.0, "served": 2, "counters_open": 1,
             "target_wait_s": target},
        ]},
    }  # fmt: skip


def _device(station: str, seq: int, ts: datetime, device: str, online=True, faults=()) -> dict:
    return {
        "schema": "markaz.telemetry.devices/1", "station": station, "seq": seq, "ts": iso(ts),
        "data": {"device": device, "type": "kiosk", "enabled": True, "online": online, "last_heartbeat": iso(ts),
                 "faults": list(faults), "reason": "heartbeat"},
    }  # fmt: skip


def _fleet(store) -> None:
    """Three stations: st-1 online and over its target with a faulty kiosk, st-2 online and fine, st-3 offline
    with a gap."""
    for station, state in (("st-1", "online"), ("st-2", "online"), ("st-3", "offline")):
        store.status(station, contract.Status(state=state, since=NOW - timedelta(hours=1)))
    _store_message(store, "markaz/v1/st-1/telemetry/queue", _queue("st-1", 1, NOW, 7, 900.0, 30))
    _store_message(store, "markaz/v1/st-1/telemetry/devices/kiosk-1", _device("st-1", 2, NOW, "kiosk-1",
                                                                              faults=["printer_paper_out"]))  # fmt: skip
    _store_message(store, "markaz/v1/st-1/telemetry/devices/kiosk-2", _device("st-1", 3, NOW, "kiosk-2"))
    _store_message(store, "markaz/v1/st-2/telemetry/queue", _queue("st-2", 1, NOW, 2, 120.0, 11))
    _store_message(store, "markaz/v1/st-3/telemetry/queue", _queue("st-3", 1, NOW, 0, 0.0, 5))
    _store_message(store, "markaz/v1/st-3/telemetry/queue", _queue("st-3", 4, NOW, 0, 0.0, 5))  # seqs 2-3 missing


def test_nothing_is_shown_without_a_session(open_store):
    store = open_store()
    _fleet(store)
    client = TestClient(create_app(store))
    for path in ("/", "/stations/st-1", "/dead-letters"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")
    for path in ("/api/stations", "/api/fleet", "/api/stations/st-1", "/api/stations/st-1/series", "/api/dead-letters"):
        assert client.get(path).status_code == 401, path
    assert client.post("/stations/st-1/commands", data={"name": "telemetry.snapshot"},
                       follow_redirects=False).status_code == 303  # fmt: skip
    assert store.query("SELECT count(*) AS n FROM commands")[0]["n"] == 0
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/live") as ws:
        ws.receive_json()  # closed before anything is sent
    assert closed.value.code == 4401
    # a forged cookie is no session
    client.cookies.set("markaz_central", "mkc_forged")
    assert client.get("/api/fleet").status_code == 401


def test_overview_figures_filters_and_search(open_store):
    store = open_store()
    _fleet(store)
    client = signed_in_client(create_app(store), store)
    fleet = client.get("/api/fleet").json()
    assert fleet["summary"] == {"stations": 3, "online": 2, "offline": 1, "waiting": 8 + 3 + 1, "over_target": 1,
                                "faulty_devices": 1, "open_alarms": 0, "dead_letters": 0}  # fmt: skip
    rows = {r["station"]: r for r in fleet["rows"]}
    assert rows["st-1"]["longest_wait_s"] == 900.0 and rows["st-1"]["over_target"] is True
    assert (rows["st-1"]["devices"], rows["st-1"]["faulty_devices"]) == (2, 1)
    assert rows["st-3"]["missing"] == 2 and rows["st-3"]["state"] == "offline"

    def shown(**params) -> list[str]:
        return [r["station"] for r in client.get("/api/fleet", params=params).json()["rows"]]

    assert shown(state="offline") == ["st-3"]
    assert shown(state="online", problem="over_target") == ["st-1"]
    assert shown(problem="faults") == ["st-1"] and shown(problem="gaps") == ["st-3"]
    assert shown(problem="alarms") == []
    assert shown(q="ST-2") == ["st-2"] and shown(q="nope") == []
    page = client.get("/", params={"q": "st-", "state": "online", "lang": "en"}).text
    assert 'data-station="st-1" data-state="online"' in page and 'data-station="st-3"' not in page
    assert "Showing 2 of 3 stations." in page
    arabic = client.get("/").text
    assert '<html lang="ar" dir="rtl">' in arabic and "نظرة عامة على المراكز" in arabic


def test_open_alarms_come_from_an_alarms_table_when_there_is_one(open_store):
    store = open_store()
    _fleet(store)
    client = signed_in_client(create_app(store), store)
    with store.db.transaction() as tx:  # rows of the alarm module's table (central/alarms.py writes them)
        for i, (station, state) in enumerate(
            (("st-1", "active"), ("st-1", "acknowledged"), ("st-1", "cleared"), ("st-3", "active"))
        ):
            tx.execute(
                "INSERT INTO alarms (station, rule, subject, severity, state, since, raised_at, detail, cleared_at) "
                "VALUES (?, ?, ?, 'major', ?, ?, ?, '{}', ?)",
                (station, f"rule-{i}", "", state, iso(NOW), iso(NOW), iso(NOW) if state == "cleared" else None),
            )
    fleet = client.get("/api/fleet", params={"problem": "alarms"}).json()
    assert fleet["summary"]["open_alarms"] == 3
    assert {r["station"]: r["open_alarms"] for r in fleet["rows"]} == {"st-1": 2, "st-3": 1}


def test_station_page_shows_devices_gaps_events_and_its_dead_letters(open_store):
    store = open_store()
    _fleet(store)
    _store_message(store, "markaz/v1/st-1/events/device_fault", {
        "schema": "markaz.events.device_fault/1", "station": "st-1", "seq": 4, "ts": iso(NOW),
        "data": {"device": "kiosk-1", "fault": "printer_paper_out", "state": "raised"}})  # fmt: skip
    store.dead_letter("markaz/v1/st-1/telemetry/queue", b"{broken", "not JSON")
    store.dead_letter("markaz/v1/st-10/telemetry/queue", b"{", "another station's")
    client = signed_in_client(create_app(store), store)
    page = client.get("/stations/st-1", params={"lang": "en"}).text
    assert 'data-device="kiosk-1"' in page and "printer_paper_out" in page
    assert "device_fault" in page and "not JSON" in page and "another station" not in page
    assert "Only central operators send commands." in page and 'data-command="' not in page  # a viewer
    gaps = client.get("/stations/st-3", params={"lang": "en"}).text
    assert "<td><bdi>2</bdi></td><td><bdi>3</bdi></td>" in gaps
    assert client.get("/stations/st-404").status_code == 404
    assert client.get("/api/stations/st-404").status_code == 404


def test_series_fold_rollups_and_fresh_snapshots_into_the_same_buckets(open_store):
    from central.retention import roll_up

    store = open_store()
    start = (NOW - timedelta(hours=2)).replace(minute=0, second=0)
    # two snapshots in one 5-minute bucket, one in the next: waiting is the mean per bucket summed over services
    _store_message(store, "markaz/v1/st-1/telemetry/queue", _queue("st-1", 1, start, 4, 300.0, 10))
    _store_message(store, "markaz/v1/st-1/telemetry/queue", _queue("st-1", 2, start + timedelta(minutes=2), 8,
                                                                   420.0, 12))  # fmt: skip
    roll_up(store, datetime.now(UTC), settle=timedelta(0))  # these two are rolled up, the next one is not yet
    _store_message(store, "markaz/v1/st-1/telemetry/queue", _queue("st-1", 3, start + timedelta(minutes=5), 2,
                                                                   60.0, 15))  # fmt: skip
    _store_message(store, "markaz/v1/st-1/telemetry/verification", {
        "schema": "markaz.telemetry.verification/1", "station": "st-1", "seq": 4, "ts": iso(start),
        "data": {"business_day": start.date().isoformat(), "match": 9, "no_match": 1, "retry": 2, "spoof": 1,
                 "latency_ms_p50": 20.0, "latency_ms_p95": 40.0}})  # fmt: skip
    series = station_series(store, "st-1", Span.DAY)
    i = series.x.index(int(start.timestamp()))
    charts = series.lines
    assert charts["waiting"]["waiting"][i : i + 2] == [(4 + 8) / 2 + 1, 2 + 1]
    assert charts["waits"]["longest_wait_min"][i : i + 2] == [7.0, 1.0]  # the longest of all services, in minutes
    assert charts["served"]["served"][i : i + 2] == [12 + 2, 15 + 2]
    assert [charts["verification"][k][i] for k in ("match", "no_match", "retry", "spoof")] == [9, 1, 2, 1]
    assert charts["waiting"]["waiting"][i - 1] is None  # no data is no data, not zero
    week = station_series(store, "st-1", Span.WEEK)
    j = week.x.index(int(start.timestamp()))
    assert week.lines["waiting"]["waiting"][j] == round((4 + 8 + 2) / 3 + 1, 1)  # shown to one decimal
    assert len(series.x) == 288 and len(week.x) == 168


def test_a_viewer_cannot_send_commands_and_an_operators_command_is_audited(open_store):
    store = open_store()
    _fleet(store)
    sent: list[tuple[str, str, contract.Command]] = []
    app = create_app(store, publish=lambda station, name, command: sent.append((station, name, command)))
    viewer = signed_in_client(app, store, "central_viewer")
    refused = viewer.post("/stations/st-1/commands", data={"name": "kiosk.disable", "device": "kiosk-1"})
    assert refused.status_code == 403 and not sent
    assert store.query("SELECT count(*) AS n FROM commands")[0]["n"] == 0
    operator = signed_in_client(app, store, "central_operator")
    assert 'data-command="kiosk.disable"' in operator.get("/stations/st-1").text
    # another site's form is refused even with the operator's cookie
    forged = operator.post("/stations/st-1/commands", data={"name": "telemetry.snapshot"},
                           headers={"origin": "http://evil.example"})  # fmt: skip
    assert forged.status_code == 403 and not sent
    done = operator.post("/stations/st-1/commands", data={"name": "kiosk.disable", "device": "kiosk-1", "lang": "en"},
                         follow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and "notice=sent" in done.headers["location"]
    ((station, name, command),) = sent
    assert (station, name, command.params.device) == ("st-1", "kiosk.disable", "kiosk-1")
    bad = operator.post("/stations/st-1/commands", data={"name": "kiosk.disable", "device": "no such/device"},
                        follow_redirects=False)  # fmt: skip
    assert "notice=invalid_params" in bad.headers["location"] and len(sent) == 1
    unknown = operator.post("/stations/st-1/commands", data={"name": "node.format"}, follow_redirects=False)
    assert "notice=unknown_command" in unknown.headers["location"] and len(sent) == 1
    (row,) = store.query("SELECT id, station, name, params, sent_by FROM commands")
    assert (row["id"], row["sent_by"], json.loads(row["params"])) == (command.id, "operator", {"device": "kiosk-1"})
    entries = store.query("SELECT * FROM central_audit ORDER BY seq")
    sends = [e for e in entries if e["action"] == "command.send"]
    assert [(e["actor"], e["entity_id"], json.loads(e["after"])["id"]) for e in sends] == [
        ("operator", "st-1", command.id)
    ]
    assert audit.verify(entries) == []

    # the station's ack, as the ingest stores it, shows on the page
    _store_message(store, "markaz/v1/st-1/cmd/kiosk.disable/ack", {
        "schema": "markaz.cmd.ack/1", "station": "st-1", "seq": 9, "ts": iso(NOW),
        "data": {"id": command.id, "ok": True, "result": {"device": "kiosk-1", "enabled": False, "changed": True}}})  # fmt: skip
    page = operator.get("/stations/st-1", params={"lang": "en"}).text
    assert f'data-command-id="{command.id}" data-ack="ok"' in page


def test_a_broker_that_does_not_take_a_command_is_said_so(open_store):
    store = open_store()
    _fleet(store)

    def down(station, name, command):
        raise RuntimeError("not connected")

    operator = signed_in_client(create_app(store, publish=down), store, "central_operator")
    answer = operator.post("/stations/st-1/commands", data={"name": "telemetry.snapshot"}, follow_redirects=False)
    assert "notice=not_sent" in answer.headers["location"]
    assert store.query("SELECT ack_error FROM commands")[0]["ack_error"] == "not_sent"
    assert 'data-ack="not_sent"' in operator.get(answer.headers["location"]).text


def test_what_stations_sent_is_shown_escaped(open_store):
    store = open_store()
    store.status("<script>x</script>", contract.Status(state="offline", since=NOW))  # not via the contract
    store.dead_letter("markaz/v1/st-1/telemetry/queue", b"<b>bad</b>", "not JSON <i>")
    client = signed_in_client(create_app(store), store)
    text = client.get("/").text + client.get("/dead-letters").text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert "not JSON &lt;i&gt;" in text and "<i>" not in text and "<b>bad" not in text


def test_signing_out_ends_the_session(open_store):
    store = open_store()
    app = create_app(store)
    client = TestClient(app)
    sign_in(client, "op", add_staff(store, "op", "central_operator"))
    token = client.cookies["markaz_central"]
    assert client.get("/api/fleet").status_code == 200
    client.post("/signout")
    again = TestClient(app)
    again.cookies.set("markaz_central", token)  # the old cookie kept by someone
    assert again.get("/api/fleet").status_code == 401


def test_offline_since_is_when_central_saw_the_station_go(open_store):
    store = open_store()
    birth = NOW - timedelta(hours=5)
    store.status("st-1", contract.Status(state="online", since=birth))
    online_since = store.stations()[0]["state_changed_at"]
    client = signed_in_client(create_app(store), store)
    assert client.get("/api/fleet").json()["rows"][0]["since"] == iso(birth)  # online since its birth
    store.status("st-1", contract.Status(state="online", since=birth))  # a repeated birth changes nothing
    assert store.stations()[0]["state_changed_at"] == online_since
    store.status("st-1", contract.Status(state="offline", since=birth))  # a Will carries its birth's since
    row = store.stations()[0]
    assert row["state_since"] == iso(birth) and row["state_changed_at"] > online_since
    (shown,) = client.get("/api/fleet").json()["rows"]
    assert (shown["state"], shown["since"]) == ("offline", row["state_changed_at"])


def test_a_dashboard_without_ingest_sends_commands_on_its_own_connection(broker):
    from central.commands import CommandLink
    from tests.telemetry.broker import Recorder

    recorder = Recorder(broker, ["markaz/v1/st-5/cmd/#"])
    own = broker.pki.client("central-2.markaz")
    link = CommandLink(broker.url, broker.pki.ca.cert, own.cert, own.key)
    command = contract.COMMANDS["telemetry.snapshot"].model_validate({"id": "c-1", "ts": NOW, "params": {}})
    with pytest.raises(RuntimeError):
        link.publish("st-5", "telemetry.snapshot", command)  # not connected yet: refused, not silently dropped
    link.start()
    try:
        assert link.connected.wait(10)
        link.publish("st-5", "telemetry.snapshot", command)
        assert recorder.wait_for(lambda m: any(t == "markaz/v1/st-5/cmd/telemetry.snapshot" for t, _, _ in m), 10)
        ((topic, body, _),) = recorder.messages
        _info, received = contract.validate(topic, json.dumps(body))
        assert received.id == "c-1" and received.params["what"]
    finally:
        link.stop()
        recorder.close()


def test_admins_manage_central_staff_and_others_cannot(open_store):
    store = open_store()
    app = create_app(store)
    admin = signed_in_client(app, store, "central_admin", "ada")
    operator = signed_in_client(app, store, "central_operator", "otto")
    assert operator.get("/staff").status_code == 403
    assert operator.post("/staff", data={"username": "x", "password": "long-enough-pw", "role": "central_admin"}
                         ).status_code == 403  # fmt: skip
    assert 'href="/staff' not in operator.get("/").text and 'href="/staff' in admin.get("/").text
    added = admin.post("/staff", data={"username": "nora", "password": "long-enough-pw", "role": "central_viewer",
                                       "lang": "en"}, follow_redirects=False)  # fmt: skip
    assert "notice=added" in added.headers["location"]
    short = admin.post("/staff", data={"username": "x", "password": "short", "role": "central_viewer"},
                       follow_redirects=False)  # fmt: skip
    assert "notice=refused" in short.headers["location"]
    # nora locks herself out; the admin sees it and unlocks her
    nora = TestClient(app)
    for _ in range(5):
        nora.post("/signin", data={"username": "nora", "password": "wrong-password"})
    assert 'data-user="nora" data-active="yes" data-locked="yes"' in admin.get("/staff").text
    admin.post("/staff/nora/unlock")
    assert 'data-user="nora" data-active="yes" data-locked="no"' in admin.get("/staff").text
    sign_in(nora, "nora", "long-enough-pw")
    # disabling ends her session at once
    admin.post("/staff/nora/active", data={"active": "no"})
    assert nora.get("/api/fleet").status_code == 401
    assert "notice=self" in admin.post("/staff/ada/active", data={"active": "no"},
                                       follow_redirects=False).headers["location"]  # fmt: skip
    actions = [
        (e["actor"], e["action"], e["entity_id"]) for e in store.query("SELECT * FROM central_audit ORDER BY seq")
    ]
    assert ("ada", "staff.create", "nora") in actions and ("ada", "staff.unlock", "nora") in actions
    assert ("ada", "staff.update", "nora") in actions


def test_the_dashboard_keeps_the_rollups_current_while_it_runs(open_store):
    import time

    store = open_store()
    _store_message(store, "markaz/v1/st-1/telemetry/queue", _queue("st-1", 1, NOW, 3, 60.0, 1))
    with store.db.transaction() as tx:  # received long enough ago to be settled
        tx.execute("UPDATE messages SET received_at = ?", (iso(datetime.now(UTC) - timedelta(minutes=5)),))
    with TestClient(create_app(store, rollup_every_s=0.05)):  # the lifespan starts the timer
        deadline = time.monotonic() + 15
        # each bucket size is rolled up in its own transaction: wait for both
        while len(store.query("SELECT DISTINCT bucket_s FROM rollups")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert {r["bucket_s"] for r in store.query("SELECT bucket_s FROM rollups")} == {300, 3600}
    assert TestClient(create_app(store)).get("/signin").status_code == 200  # without a timer: nothing else changes
