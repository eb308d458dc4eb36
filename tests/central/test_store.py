"""The store on both backends (SQLite and a real PostgreSQL): migrations, dedupe by (station, seq), gaps opened and
closed, dead letters with their reason, audit anchors kept once, and two workers writing one station at once."""

from __future__ import annotations

import json
import threading

from central.db import migrations
from central.ingest import Ingest
from markaz.clock import iso, utcnow
from markaz.contracts import mqtt as contract
from tests.central.anchor_keys import StationAnchorKey

TOPIC = "markaz/v1/st-1/events/device_fault"


def _fault(seq: int, station: str = "st-1") -> bytes:
    return json.dumps(
        {
            "schema": "markaz.events.device_fault/1",
            "station": station,
            "seq": seq,
            "ts": utcnow().isoformat(),
            "data": {"device": "k1", "fault": "printer_error", "state": "raised"},
        }
    ).encode()


def _ingest(store) -> Ingest:
    return Ingest(store, "mqtts://127.0.0.1:1", None, None, None)  # handle() only: no broker needed here


def test_migrations_are_numbered_applied_once_and_recorded(open_store):
    store = open_store()
    versions = [v for v, _name, _sql in migrations()]
    assert versions == sorted(set(versions)) and versions[0] == 1
    recorded = [r["version"] for r in store.query("SELECT version FROM schema_migrations ORDER BY version")]
    assert recorded == versions
    again = open_store()  # a second worker (or a restart) applies nothing twice
    assert [r["version"] for r in again.query("SELECT version FROM schema_migrations ORDER BY version")] == versions


def test_dedupe_gaps_and_late_arrivals(open_store):
    store = open_store()
    ingest = _ingest(store)
    for seq in (1, 2, 2, 6, 3):
        ingest.handle(TOPIC, _fault(seq))
    row = store.stations()[0]
    assert (row["max_seq"], row["received"], row["duplicates"]) == (6, 4, 1)
    assert store.gaps("st-1") == [(4, 5)]
    ingest.handle(TOPIC, _fault(5))
    assert store.gaps("st-1") == [(4, 4)]
    ingest.handle(TOPIC, _fault(4))
    ingest.handle(TOPIC, _fault(4))
    assert store.gaps("st-1") == [] and store.stations()[0]["duplicates"] == 2
    assert store.query("SELECT count(*) AS n FROM messages")[0]["n"] == 6


def test_invalid_messages_go_to_the_dead_letters_with_the_reason(open_store):
    store = open_store()
    ingest = _ingest(store)
    ingest.handle(TOPIC, b"not json at all")
    ingest.handle(TOPIC, _fault(1, station="st-2"))  # the envelope names another station than the topic
    ingest.handle("markaz/v1/st-1/events/no_such_event", _fault(2))
    dead = store.dead_letters()
    assert len(dead) == 3
    assert {d["topic"] for d in dead} == {TOPIC, "markaz/v1/st-1/events/no_such_event"}
    assert all(d["reason"] for d in dead)
    assert any(d["payload"] == "not json at all" for d in dead)
    assert store.query("SELECT count(*) AS n FROM messages")[0]["n"] == 0  # nothing half-stored


def test_audit_anchors_are_kept_once_each(open_store):
    store = open_store()
    ingest = _ingest(store)
    anchor = StationAnchorKey(store, "st-1").anchor("2026-01-01T10:00:00.000+00:00", 50, "ab" * 32)
    for seq in (1, 1, 2):  # a QoS 1 duplicate, then the same anchor sent again under a new seq (a resend)
        ingest.handle(
            "markaz/v1/st-1/events/audit_anchor",
            json.dumps(
                {
                    "schema": "markaz.events.audit_anchor/1",
                    "station": "st-1",
                    "seq": seq,
                    "ts": utcnow().isoformat(),
                    "data": anchor,
                }
            ).encode(),
        )
    assert store.audit_anchors("st-1") == [
        {
            "head_seq": 50,
            "head_hash": "ab" * 32,
            "anchor_ts": anchor["anchor_ts"],
            "key_id": anchor["key_id"],
            "signature": anchor["signature"],
        }
    ]
    assert store.audit_anchors("st-2") == []


def test_two_workers_writing_one_station_at_once_lose_nothing(open_store):
    """Two stores on one database (two ingest workers): interleaved seqs, duplicates across workers, one truth."""
    stores = [open_store(), open_store()]
    errors: list[BaseException] = []

    def work(store, seqs):
        try:
            ingest = _ingest(store)
            for seq in seqs:
                ingest.handle(TOPIC, _fault(seq))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(stores[0], range(1, 201, 2))),
        threading.Thread(target=work, args=(stores[1], [*range(2, 201, 2), 7, 8])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    row = stores[0].stations()[0]
    assert (row["max_seq"], row["received"], row["duplicates"]) == (200, 200, 2)
    assert stores[0].gaps("st-1") == []


def test_a_retained_status_applies_only_when_newer(open_store):
    """Central hears every retained status again when it comes back: an older one (a stale birth or Will) never
    overrides what it knows, while the Will of the very connection it knows of (same `since`) means the station died
    meanwhile. Live statuses apply in order; central's own clock says when the state changed."""
    from datetime import timedelta

    store = open_store()
    t1 = utcnow()
    t0 = t1 - timedelta(hours=1)
    store.status("st-1", contract.Status(state="online", since=t1), now=t1)
    store.status("st-1", contract.Status(state="offline", since=t0), retained=True)  # a stale Will
    store.status("st-1", contract.Status(state="online", since=t1), retained=True, now=t1 + timedelta(minutes=5))
    row = store.stations()[0]
    assert (row["state"], row["state_changed_at"]) == ("online", iso(t1))  # nothing changed
    store.status("st-1", contract.Status(state="offline", since=t1), retained=True, now=t1 + timedelta(minutes=9))
    row = store.stations()[0]
    assert (row["state"], row["state_changed_at"]) == ("offline", iso(t1 + timedelta(minutes=9)))
    store.status("st-1", contract.Status(state="online", since=t0), now=t1 + timedelta(minutes=10))  # live: applies
    assert store.stations()[0]["state"] == "online"


def test_a_column_two_migrations_add_is_added_once(open_store):
    """`ADD COLUMN IF NOT EXISTS` on both backends (by hand on SQLite): parallel work may add the same column."""
    from central.db import _apply

    store = open_store()
    with store.db.transaction() as tx:
        _apply(store.db, tx, "ALTER TABLE stations ADD COLUMN IF NOT EXISTS state_changed_at TEXT")  # already there
        _apply(store.db, tx, "ALTER TABLE stations ADD COLUMN IF NOT EXISTS note_for_test TEXT")
        _apply(store.db, tx, "ALTER TABLE stations ADD COLUMN IF NOT EXISTS note_for_test TEXT")
    store.status("st-1", contract.Status(state="online", since=utcnow()))
    row = store.query("SELECT state_changed_at, note_for_test FROM stations")[0]
    assert row["state_changed_at"] is not None and row["note_for_test"] is None


def test_a_batch_stores_exactly_what_the_same_messages_one_by_one_store(open_store):
    """The ingest's batch path (a few statements for a whole batch) against one message at a time: duplicates within
    the batch and of earlier batches, a gap, late messages narrowing it, an older snapshot arriving after a newer
    one (latest keeps the newer). Station `b` gets the same stream as `a`, one by one."""
    import random
    from datetime import UTC, datetime

    from benchmarks.bench_central import station_stream

    store = open_store()
    ingest = _ingest(store)
    stream = station_stream("a", 12, datetime(2026, 3, 1, 8, tzinfo=UTC), random.Random(5))
    assert len(stream) > 40
    order = stream[:10] + stream[14:30] + stream[3:5] + stream[12:14] + stream[30:] + stream[10:12] + [stream[20]]
    late = stream[11:12]  # already in the batch: a duplicate of the batch itself, in the next batch
    with store.batch() as tx:
        assert ingest.handle_batch([(t, p, False) for t, p in order[:25]], tx) == 25
    with store.batch() as tx:
        ingest.handle_batch([(t, p, False) for t, p in order[25:] + late], tx)
    for topic, payload in order + late:
        ingest.handle(topic.replace("/a/", "/b/"), payload.replace(b'"station":"a"', b'"station":"b"'))

    def of(station: str) -> dict:
        queries = {
            "row": "SELECT max_seq, received, duplicates FROM stations WHERE station = ?",
            "gaps": "SELECT first_seq, last_seq, dropped FROM gaps WHERE station = ? ORDER BY first_seq",
            "latest": "SELECT channel, seq, data FROM latest WHERE station = ? ORDER BY channel",
            "daily": "SELECT channel, business_day, seq, data FROM daily WHERE station = ? ORDER BY channel",
            "messages": "SELECT seq, schema, data FROM messages WHERE station = ? ORDER BY seq",
        }
        return {name: store.query(sql, (station,)) for name, sql in queries.items()}

    a, b = of("a"), of("b")
    assert a == b
    assert a["row"] == [
        {"max_seq": len(stream), "received": len(stream), "duplicates": len(order + late) - len(stream)}
    ]
    assert a["gaps"] == [] and [r["seq"] for r in a["messages"]] == list(range(1, len(stream) + 1))
    assert a["latest"]  # the stream has no daily channel: daily is covered by test_comparison


def test_two_workers_batches_of_every_other_seq_leave_the_gaps_one_by_one_leaves(open_store):
    """Two workers of the shared subscription each get every other message, in batches that commit in turn: the
    gaps opened and closed set-based per batch equal those of the messages stored one at a time: what never came
    stays a gap (one announced as dropped keeps its mark when a later batch splits another gap), the rest closes."""
    import random
    from datetime import UTC, datetime

    from benchmarks.bench_central import station_stream

    store = open_store()
    ingest = _ingest(store)
    stream = station_stream("a", 10, datetime(2026, 3, 1, 8, tzinfo=UTC), random.Random(3))  # seqs 1..70
    lost = {30, 31, 32, 50, 51}
    kept = [(i, m) for i, m in enumerate(stream, 1) if i not in lost]
    odd, even = [m for i, m in kept if i % 2], [m for i, m in kept if not i % 2]
    dropped = json.dumps({"schema": "markaz.events.outbox_dropped/1", "station": "a", "seq": 71,
                          "ts": "2026-03-01T09:00:00+00:00",
                          "data": {"count": 3, "first_seq": 30, "last_seq": 32, "dropped_total": 3}}).encode()  # fmt: skip
    announce = [("markaz/v1/a/events/outbox_dropped", dropped)]
    batches = [odd[:12], even[:20], odd[12:], announce, even[20:]]  # announced once 30..32 is a gap of its own
    for batch in batches:
        with store.batch() as tx:
            ingest.handle_batch([(t, p, False) for t, p in batch], tx)
    for batch in batches:
        for topic, payload in batch:
            ingest.handle(topic.replace("/a/", "/b/"), payload.replace(b'"station":"a"', b'"station":"b"').replace(
                b'"station": "a"', b'"station": "b"'))  # fmt: skip

    def gaps(station: str) -> list[tuple[int, int, int]]:
        rows = store.query("SELECT first_seq, last_seq, dropped FROM gaps WHERE station = ? ORDER BY first_seq",
                           (station,))  # fmt: skip
        return [(r["first_seq"], r["last_seq"], r["dropped"]) for r in rows]

    assert gaps("a") == gaps("b") == [(30, 32, 3), (50, 51, 0)]
    row = store.stations("a")[0]
    assert (row["max_seq"], row["received"], row["duplicates"]) == (71, 71 - len(lost), 0)
    assert store.stations("b")[0]["max_seq"] == 71
