"""Comparison of stations on both store backends: central's figures equal the edge's own KPIs (two real edge nodes
publishing a day through Mosquitto) and figures computed independently from the raw messages (numpy's nearest-rank
percentile, plain sums); ranking with ties, the best marked per measure, CSV, the CLI and the JSON endpoint."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import numpy
import pytest

from central.comparison import ComparisonError, compare, services_in, to_csv
from central.ingest import Ingest
from edge.auth.principal import SYSTEM
from edge.node import EdgeNode
from edge.settings import EdgeSettings
from markaz.clock import utcnow
from markaz.config import load_settings
from tests.conftest import wait_until
from tests.telemetry.broker import Recorder


class Clock:
    """The station's clock. A played day moves it on by up to three hours, so it starts at a time of the station's
    day from which that never crosses the business day's rollover: now if that is 09:00-18:00 local, else the next
    09:00 (the test failed when run from about 21:30 UTC, i.e. 00:30 in Riyadh, the new day starting at 03:00)."""

    def __init__(self, settings: EdgeSettings) -> None:
        now = utcnow()
        local = now.astimezone(settings.tz)
        start = local
        if not 9 <= local.hour < 18:
            start = local.replace(hour=9, minute=0, second=0, microsecond=0)
            if start < local:
                start += timedelta(days=1)
        self.offset = start - local

    def __call__(self):
        return utcnow() + self.offset


def _play_day(node: EdgeNode, clock: Clock, plan: list[tuple[str, int, str]]) -> None:
    """Issue a ticket, let `minutes` pass, call it at counter 1 and end it (`done` or `no_show`), in order."""
    for service, minutes, outcome in plan:
        node.queue.issue(service, SYSTEM)
        clock.offset += timedelta(minutes=minutes, seconds=7)
        ticket = node.queue.call_next("1", SYSTEM)
        assert ticket is not None and ticket.service == service
        if outcome == "done":
            node.queue.start(ticket.id, SYSTEM)
            clock.offset += timedelta(minutes=3)
            node.queue.finish(ticket.id, SYSTEM)
        else:
            node.queue.no_show(ticket.id, SYSTEM)
    node.queue.issue("general", SYSTEM)  # one still waiting: counted nowhere but `waiting`


PLANS = {
    "st-1": [("general", 5, "done"), ("general", 20, "done"), ("report", 30, "no_show"), ("general", 1, "done")]
    + [("general", m, "done") for m in (2, 4, 8, 16, 3, 9)],
    "st-2": [("general", 14, "done"), ("general", 16, "no_show"), ("report", 10, "done"), ("general", 12, "done")],
}


def test_central_figures_equal_the_edges_own_kpis_and_an_independent_count(tmp_path, broker, open_store):
    store = open_store()
    cert = broker.pki.client("central.markaz")
    ingest = Ingest(store, broker.url, broker.pki.ca.cert, cert.cert, cert.key)
    ingest.start()
    assert ingest.ready.wait(10)
    raw = Recorder(broker, ["markaz/v1/+/telemetry/queue_day"])
    nodes = {}
    try:
        for station, plan in PLANS.items():
            own = broker.pki.client(station)
            settings = load_settings(
                EdgeSettings,
                data_dir=tmp_path / station,
                sample_data=True,
                station_id=station,
                mqtt={"url": broker.url, "ca": broker.pki.ca.cert, "cert": own.cert, "key": own.key},
            )
            clock = Clock(settings)
            node = EdgeNode(settings, clock=clock)
            nodes[station] = node
            node.start()
            _play_day(node, clock, plan)
            node.telemetry.publish_snapshot(["queue"], "command")
        day = nodes["st-1"].queue.today()
        assert nodes["st-2"].queue.today() == day

        def arrived() -> bool:
            rows = store.query("SELECT station, data FROM daily WHERE channel = 'telemetry.queue_day'")
            return len(rows) == 2 and all(
                sum(s["served"] + s["no_shows"] for s in json.loads(r["data"])["services"]) == len(PLANS[r["station"]])
                for r in rows
            )

        assert wait_until(arrived), "the day's figures did not reach central"
        for service in ("general", None):
            result = compare(store, day, day, service)
            figures = {s.station: s for s in result.stations}
            assert set(figures) == {"st-1", "st-2"}
            for station, node in nodes.items():
                kpis = node.queue.kpis(day)
                edge = kpis.station if service is None else next(s for s in kpis.services if s.service == service)
                mine = figures[station]
                assert (mine.served, mine.no_shows) == (edge.served, edge.no_shows), station
                assert (mine.mean_wait_s, mine.p90_wait_s, mine.within_target_share) == (
                    edge.mean_wait_s,
                    edge.p90_wait_s,
                    edge.within_target_share,
                ), station

        # independently, from the raw messages central was sent: the newest of each station, numpy's nearest rank
        assert raw.wait_for(lambda msgs: {m["station"] for _, m, _ in msgs} == {"st-1", "st-2"})
        newest = {}
        for _, msg, _ in raw.messages:
            if msg["seq"] > newest.get(msg["station"], {"seq": 0})["seq"]:
                newest[msg["station"]] = msg
        result = {s.station: s for s in compare(store, day, day, "general").stations}
        for station, msg in newest.items():
            (general,) = [s for s in msg["data"]["services"] if s["service"] == "general"]
            waits = general["waits_s"]
            assert len(waits) == sum(1 for s, _, _ in PLANS[station] if s == "general")
            expected_p90 = round(float(numpy.percentile(waits, 90, method="inverted_cdf")), 1)
            within = sum(1 for w in waits if w <= general["target_wait_s"]) / len(waits)
            served = sum(1 for s, _, o in PLANS[station] if s == "general" and o == "done")
            no_shows = sum(1 for s, _, o in PLANS[station] if s == "general" and o == "no_show")
            got = result[station]
            assert got.p90_wait_s == expected_p90 and got.mean_wait_s == round(sum(waits) / len(waits), 1)
            assert got.within_target_share == round(within, 4)
            assert (got.served, got.no_shows) == (served, no_shows)
            assert got.no_show_rate == (round(no_shows / (served + no_shows), 4) if served + no_shows else None)
        ranked = compare(store, day, day, "general", rank_by="p90_wait_s").stations
        assert [s.station for s in ranked] == sorted(newest, key=lambda st: result[st].p90_wait_s)
    finally:
        raw.close()
        for node in nodes.values():
            node.stop()
        ingest.stop()


# --- ranking, best marks, verification and reports, CSV, CLI, API (messages fed to the store directly) -------------

DAY = date(2026, 3, 1)


def _feed(store, station: str, seq: int, key: str, data: dict, day: date = DAY) -> None:
    topic = f"markaz/v1/{station}/" + key.replace(".", "/")
    schema = f"markaz.{key}/1"
    payload = {"schema": schema, "station": station, "seq": seq, "ts": f"{day}T09:00:00+00:00", "data": data}
    Ingest(store, "mqtts://127.0.0.1:1", None, None, None).handle(topic, json.dumps(payload).encode())


def _queue_day(waits: list[float], served: int, no_shows: int, day: date = DAY, target: float = 600) -> dict:
    svc = {"service": "general", "target_wait_s": target, "waits_s": waits, "served": served, "no_shows": no_shows}
    return {"business_day": day.isoformat(), "services": [svc]}


def _verification(match: int, no_match: int, spoof: int, day: date = DAY) -> dict:
    return {"business_day": day.isoformat(), "match": match, "no_match": no_match, "retry": 4, "spoof": spoof,
            "latency_ms_p50": None, "latency_ms_p95": None}  # fmt: skip


def _reports(open_count: int, closed: int, breaches: int) -> dict:
    rows = [
        {"type": "theft", "state": "submitted", "count": open_count},
        {"type": "theft", "state": "closed", "count": closed},
    ]
    return {"reason": "periodic", "by_type_state": rows, "sla_breaches": breaches, "referrals_pending": 0}


@pytest.fixture
def fleet(open_store):
    store = open_store()
    _feed(store, "st-a", 1, "telemetry.queue_day", _queue_day([100, 200, 900], 3, 0))
    _feed(store, "st-a", 2, "telemetry.queue_day", _queue_day([100, 200, 900, 1000], 3, 1))  # newer, same day
    _feed(store, "st-a", 3, "telemetry.queue_day", _queue_day([50], 1, 0, DAY + timedelta(days=1)))
    _feed(store, "st-a", 4, "telemetry.verification", _verification(90, 5, 5))
    _feed(store, "st-a", 5, "telemetry.reports", _reports(10, 40, 1))
    _feed(store, "st-b", 1, "telemetry.queue_day", _queue_day([300, 300, 300], 3, 0))
    _feed(store, "st-b", 2, "telemetry.verification", _verification(45, 5, 0))
    _feed(store, "st-c", 1, "telemetry.queue_day", _queue_day([300, 300, 300], 2, 1))
    _feed(store, "st-c", 3, "telemetry.queue_day", _queue_day([9999], 1, 0, DAY - timedelta(days=1)))  # outside
    return store


def test_a_period_merges_days_ranks_with_ties_and_marks_the_best(fleet):
    result = compare(fleet, DAY, DAY + timedelta(days=1), "general")
    by = {s.station: s for s in result.stations}
    a, b, c = by["st-a"], by["st-b"], by["st-c"]
    assert (a.days, a.served, a.no_shows, a.called) == (2, 4, 1, 5)  # the newest of day 1, plus day 2
    assert (a.mean_wait_s, a.p90_wait_s, a.within_target_share) == (450.0, 1000, 0.6)
    assert (a.match_rate, a.sla_compliance, a.no_show_rate) == (0.9, 0.9, 0.2)
    assert (b.match_rate, b.sla_compliance, b.within_target_share) == (0.9, None, 1.0)
    assert (c.p90_wait_s, c.no_show_rate, c.match_rate) == (300, round(1 / 3, 4), None)
    # ranked by within target: b and c tie at 1.0 (both rank 1), a is third
    assert [(s.station, s.rank) for s in result.stations] == [("st-b", 1), ("st-c", 1), ("st-a", 3)]
    assert set(a.best) == {"served", "match_rate", "sla_compliance"}
    assert set(b.best) == {"within_target_share", "no_show_rate", "p90_wait_s", "match_rate", "mean_wait_s"}
    assert "mean_wait_s" in c.best and "within_target_share" in c.best and "no_show_rate" not in c.best
    sla_ranked = compare(fleet, DAY, DAY, "general", rank_by="sla_compliance").stations
    assert [(s.station, s.rank) for s in sla_ranked] == [("st-a", 1), ("st-b", None), ("st-c", None)]
    assert compare(fleet, DAY, DAY, "passports").stations[0].called == 0  # a service no station has
    with pytest.raises(ComparisonError):
        compare(fleet, DAY, DAY - timedelta(days=1))
    with pytest.raises(ComparisonError):
        compare(fleet, DAY, DAY, rank_by="happiness")


def test_csv_export_from_the_cli_and_the_json_endpoint(fleet, central_db, tmp_path):
    from fastapi import Header
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from central.alarms_api import Staff
    from central.cli import app
    from central.roles import CentralRole
    from central.web import create_app

    text = to_csv(compare(fleet, DAY, DAY + timedelta(days=1), "general"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["station"] for r in rows] == ["st-b", "st-c", "st-a"]
    assert rows[2]["p90_wait_s"] == "1000.0" and rows[1]["match_rate"] == "" and "served" in rows[2]["best"].split()

    out = tmp_path / "cmp.csv"
    args = ["compare", "--from", "2026-03-01", "--to", "2026-03-02", "--service", "general", "--db", central_db]
    done = CliRunner().invoke(app, [*args, "--csv", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_text() == text and not (tmp_path / "cmp.csv.partial").exists()
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0 and "st-b" in shown.output
    bad = CliRunner().invoke(app, ["compare", "--from", "March", "--to", "2026-03-02", "--db", central_db])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output

    def staff(x_staff: str = Header()) -> Staff:  # stands in for the dashboard's sign-in
        return Staff("v", CentralRole(x_staff))

    api = TestClient(create_app(fleet, current_staff=staff))
    headers = {"x-staff": "central_viewer"}
    params = {"from": "2026-03-01", "to": "2026-03-02", "service": "general"}
    body = api.get("/api/comparison", params=params, headers=headers).json()
    assert [s["station"] for s in body["stations"]] == ["st-b", "st-c", "st-a"] and body[
        "rank_by"
    ] == "within_target_share"
    got = api.get("/api/comparison/csv", params=params, headers=headers)
    assert got.status_code == 200 and got.text == text and got.headers["content-type"].startswith("text/csv")
    assert api.get("/api/comparison", params={**params, "to": "2026-02-01"}, headers=headers).status_code == 400
    assert api.get("/api/comparison", params={**params, "service": "A B"}, headers=headers).status_code == 422
    assert TestClient(create_app(fleet)).get("/api/comparison", params=params).status_code == 401


# --- the rolled-up queue days (central.queue_days) ------------------------------------------------------------------


def _two_services(general: list[float], report: list[float] | None, day: date = DAY) -> dict:
    services = [{"service": "general", "target_wait_s": 600, "waits_s": general, "served": len(general),
                 "no_shows": 1}]  # fmt: skip
    if report is not None:
        services.append({"service": "report", "target_wait_s": None, "waits_s": report, "served": len(report),
                         "no_shows": 0})  # fmt: skip
    return {"business_day": day.isoformat(), "services": services}


def test_a_newer_queue_day_read_after_a_comparison_replaces_the_rolled_up_day(open_store):
    store = open_store()
    _feed(store, "st-a", 1, "telemetry.queue_day", _two_services([100, 700], [0, 30]))
    _feed(store, "st-b", 1, "telemetry.queue_day", {"business_day": DAY.isoformat(), "services": []})
    first = {s.station: s for s in compare(store, DAY, DAY).stations}
    assert (first["st-a"].called, first["st-a"].served, first["st-a"].within_target_share) == (4, 4, 0.5)
    assert (first["st-b"].days, first["st-b"].called, first["st-b"].mean_wait_s) == (1, 0, None)  # a day, no service
    assert services_in(store, DAY, DAY) == ["general", "report"]

    # the day goes on after the first comparison: a newer message of the same day, without the report service
    _feed(store, "st-a", 2, "telemetry.queue_day", _two_services([100, 700, 200, 300, 900], None))
    _feed(store, "st-a", 1, "telemetry.queue_day", _two_services([5], [5]))  # seq 1 again (a QoS 1 duplicate)
    newest = {s.station: s for s in compare(store, DAY, DAY).stations}["st-a"]
    assert (newest.days, newest.called, newest.served, newest.no_shows) == (1, 5, 5, 1)
    assert (newest.mean_wait_s, newest.p90_wait_s, newest.within_target_share) == (440.0, 900, 0.6)
    assert services_in(store, DAY, DAY) == ["general"]
    assert compare(store, DAY, DAY, "report").stations[0].called == 0
    rolled = store.query("SELECT seq FROM queue_days WHERE station = 'st-a'")
    assert rolled == [{"seq": 2}]


def test_a_store_filled_before_the_rollup_is_rolled_up_on_its_first_comparison(open_store):
    store = open_store()
    _feed(store, "st-a", 1, "telemetry.queue_day", _two_services([100, 700, 50], [20]))
    _feed(store, "st-a", 2, "telemetry.queue_day", _two_services([10], None, DAY + timedelta(days=1)))
    want = compare(store, DAY, DAY + timedelta(days=1))
    with store.db.transaction() as tx:  # as a store migrated to these tables finds itself: daily rows only
        tx.execute("DELETE FROM queue_day_services")
        tx.execute("DELETE FROM queue_days")
    assert compare(store, DAY, DAY + timedelta(days=1)) == want
    a = want.stations[0]
    assert (a.days, a.called, a.served, a.p90_wait_s, a.within_target_share) == (
        2,
        5,
        5,
        700,
        0.6,
    )  # report has no target: 0
    assert len(store.query("SELECT * FROM queue_day_services")) == 3
