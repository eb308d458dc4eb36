"""The reports domain over a real store: filing, validation, the procedure, statements, sharing, timers."""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import shutil
import sqlite3
from datetime import timedelta, timezone

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError

from edge.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from edge.reports import reference
from edge.reports.service import Filters, PartyIn
from edge.reports.vocabulary import PartyRole, ReportState
from tests.reports.conftest import AGENCY, KIOSK, OFFICER, SUPERVISOR, THEFT, VISITOR, verified_at_kiosk


def file_theft(node, actor=OFFICER):
    return node.reports.file("theft", THEFT, VISITOR, actor)


def test_reference_has_station_year_sequence_and_mod97_check_digits(rnode, clock):
    a, b = file_theft(rnode), file_theft(rnode)
    assert a["reference"].startswith("OLY-2026-000001-") and b["reference"].startswith("OLY-2026-000002-")
    ref = reference.parse(a["reference"])
    assert (ref.station_code, ref.year, ref.seq) == ("OLY", 2026, 1)
    clock.now = clock.now.replace(year=2027, month=1, day=2)
    assert file_theft(rnode)["reference"].startswith("OLY-2027-000001-"), "the sequence restarts each year"


@pytest.mark.parametrize("mistake", ["substitute", "swap"])
def test_a_mistyped_reference_is_refused_before_any_lookup(rnode, mistake, monkeypatch):
    good = file_theft(rnode)["reference"]
    digits = list(good)
    i = good.index("-", 4) + 5  # inside the sequence
    if mistake == "substitute":
        digits[i] = "7" if digits[i] != "7" else "3"
    else:
        digits[i], digits[i + 1] = "1", "0"  # 000001 -> 000010
    typo = "".join(digits)
    assert typo != good
    queries = []
    monkeypatch.setattr(rnode.store, "query_one", lambda *a, **k: queries.append(a) or None)
    with pytest.raises(Invalid, match="typing mistake"):
        rnode.reports.track(typo, KIOSK, pin="000000")
    assert queries == [], "refused by its check digits without reading the database"


def test_reference_accepts_arabic_indic_digits_and_lower_case():
    ref = reference.make("OLY", 2026, 123)
    arabic = ref.lower().translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert str(reference.parse(arabic)) == ref


def test_report_is_validated_against_its_type(rnode):
    with pytest.raises(Invalid, match="required"):
        rnode.reports.file("theft", {**THEFT, "items": []}, VISITOR, OFFICER)
    with pytest.raises(Invalid, match="no field"):
        rnode.reports.file("theft", {**THEFT, "colour": "red"}, VISITOR, OFFICER)
    with pytest.raises(Invalid, match="amount"):
        rnode.reports.file("theft", {**THEFT, "value": "a lot"}, VISITOR, OFFICER)
    with pytest.raises(Invalid, match="true or false"):
        rnode.reports.file("theft", {**THEFT, "suspect_seen": "maybe"}, VISITOR, OFFICER)
    with pytest.raises(Invalid, match="time zone"):
        rnode.reports.file("theft", {**THEFT, "occurred_at": "2026-11-22T21:30:00"}, VISITOR, OFFICER)
    with pytest.raises(Invalid, match="unknown report type"):
        rnode.reports.file("arson", THEFT, VISITOR, OFFICER)
    assert rnode.store.query_one("SELECT count(*) AS n FROM reports")["n"] == 0, "nothing half-filed"


def test_kiosk_files_only_after_a_face_match_and_only_kiosk_types(rnode):
    with pytest.raises(Forbidden, match="face match"):
        rnode.reports.file("theft", THEFT, VISITOR, KIOSK)
    verified_at_kiosk(rnode)
    filed = rnode.reports.file("theft", THEFT, VISITOR, KIOSK)
    assert filed["state"] == "submitted" and len(filed["pin"]) == 6
    with pytest.raises(Forbidden, match="desk"):
        rnode.reports.file(
            "harassment",
            {"occurred_at": "2026-11-22T21:30:00+03:00", "ongoing": True, "description": "x"},
            VISITOR,
            KIOSK,
        )
    unverified = PartyIn(PartyRole.COMPLAINANT, "Someone", None, "P1")
    with pytest.raises(Forbidden, match="face match"):
        rnode.reports.file("theft", THEFT, unverified, KIOSK)
    no_document = PartyIn(PartyRole.COMPLAINANT, "Someone")
    with pytest.raises(Forbidden, match="verified"):
        rnode.reports.file("theft", THEFT, no_document, KIOSK)
    parties = rnode.store.query("SELECT verified FROM report_parties")
    assert [p["verified"] for p in parties] == [1]


def test_a_date_time_later_than_the_station_clock_plus_the_skew_is_refused_naming_the_field(rnode, clock):
    from edge.reports.catalogue import CLOCK_SKEW

    riyadh = timezone(timedelta(hours=3))
    just_inside = (clock.now + CLOCK_SKEW).astimezone(riyadh).isoformat()
    assert rnode.reports.file("theft", {**THEFT, "occurred_at": just_inside}, VISITOR, OFFICER)["reference"]
    beyond = (clock.now + CLOCK_SKEW + timedelta(seconds=1)).astimezone(riyadh).isoformat()
    with pytest.raises(Invalid, match="future") as refused:
        rnode.reports.file("theft", {**THEFT, "occurred_at": beyond}, VISITOR, OFFICER)
    assert refused.value.details["field"] == "occurred_at" and refused.value.details["problem"] == "future"
    assert "المستقبل" in str(refused.value.details["detail_ar"])
    assert rnode.store.query_one("SELECT count(*) AS n FROM reports")["n"] == 1


def test_the_pin_is_hashed_while_the_station_writer_is_free_so_tickets_do_not_wait_for_it(rnode, monkeypatch):
    import threading

    real_hash, written = rnode.reports.pins.hash, []

    def hash_while_someone_writes(ref, pin):
        other = threading.Thread(target=lambda: written.append(rnode.queue.issue("general", KIOSK).number))
        other.start()
        other.join(20)  # a writer held by this filing would keep the ticket waiting until the filing ends
        assert written, "a ticket could not be issued while the PIN was hashed: the filing held the writer"
        return real_hash(ref, pin)

    monkeypatch.setattr(rnode.reports.pins, "hash", hash_while_someone_writes)
    filed = file_theft(rnode)
    assert written and rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["state"] == "submitted"


def test_a_filing_whose_reference_was_taken_meanwhile_hashes_its_pin_for_the_reference_it_got(rnode, monkeypatch):
    real_hash, calls, inner = rnode.reports.pins.hash, [], []

    def hash_and_be_overtaken(ref, pin):
        calls.append(ref)
        if len(calls) == 1:  # another filing lands between this one's guess and its write
            inner.append(file_theft(rnode))
        return real_hash(ref, pin)

    monkeypatch.setattr(rnode.reports.pins, "hash", hash_and_be_overtaken)
    outer = file_theft(rnode)
    assert inner[0]["reference"] == calls[0] and outer["reference"] != calls[0]
    assert calls[-1] == outer["reference"], "the PIN was hashed again for the reference the filing got"
    for filed in (outer, inner[0]):
        assert rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["reference"] == filed["reference"]


def test_pin_is_kept_as_a_keyed_hash_bound_to_the_reference_and_tracks_the_report(rnode):
    filed = file_theft(rnode)
    stored = rnode.store.query_one("SELECT pin_hash FROM reports")["pin_hash"]
    assert stored.startswith("k2:$argon2id$") and filed["pin"] not in stored  # slow hash of the keyed hash
    assert rnode.reports.pins.check(stored, filed["reference"], filed["pin"]).ok
    again = rnode.reports.pins.hash(filed["reference"], filed["pin"])
    assert again != stored and rnode.reports.pins.check(again, filed["reference"], filed["pin"]).ok  # salted
    other = file_theft(rnode)["reference"]
    assert not rnode.reports.pins.check(stored, other, filed["pin"]).ok, "moved to another report it does not match"
    key_file = rnode.settings.keys_dir / "report-pin-hmac.key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(key_file.read_bytes()) == 32
    view = rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])
    assert view["state"] == "submitted" and view["next_step_en"]
    assert "parties" not in view and "notes" not in view
    by_card = rnode.reports.track(filed["reference"], KIOSK, document_number="p98765432")
    assert by_card["reference"] == filed["reference"]


def test_a_copied_database_with_another_pin_key_refuses_the_right_pin_and_counts_it(rnode, make_node, clock, tmp_path):
    filed = file_theft(rnode)
    rnode.store.close()
    copy = tmp_path / "stolen"
    shutil.copytree(rnode.settings.data_dir, copy)
    (copy / "keys" / "report-pin-hmac.key").write_bytes(secrets.token_bytes(32))  # everything but the PIN key
    thief = make_node(clock=clock, data_dir=copy, reports={"station_code": "OLY"})
    with pytest.raises(Unauthorized):
        thief.reports.track(filed["reference"], KIOSK, pin=filed["pin"])
    fails = thief.store.query_one("SELECT failures FROM report_pin_failures WHERE reference = ?", [filed["reference"]])
    assert fails["failures"] == 1, "a refused PIN counts towards the lock whatever the reason"
    # what the database holds is a slow hash of HMAC(key, reference, PIN): the PIN itself does not verify against it,
    # nor does the PIN's digest under any key but the station's
    stored = thief.store.query_one("SELECT pin_hash FROM reports")["pin_hash"].removeprefix("k2:")
    real_key = (rnode.settings.keys_dir / "report-pin-hmac.key").read_bytes()
    message = f"{filed['reference']}\x00{filed['pin']}".encode()
    hasher = PasswordHasher()
    for candidate in (filed["pin"], hmac.new((copy / "keys" / "report-pin-hmac.key").read_bytes(), message, "sha256").hexdigest()):  # fmt: skip
        with pytest.raises(VerifyMismatchError):
            hasher.verify(stored, candidate)
    assert hasher.verify(stored, hmac.new(real_key, message, "sha256").hexdigest())
    original = make_node(clock=clock, data_dir=rnode.settings.data_dir, reports={"station_code": "OLY"})
    assert original.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["reference"] == filed["reference"]


def test_a_pin_stored_as_argon2_by_an_older_version_still_tracks_once_then_is_kept_keyed(rnode):
    from edge.auth.passwords import Passwords

    filed = file_theft(rnode)
    with rnode.store.write() as db:
        db.execute("UPDATE reports SET pin_hash = ?", [Passwords().hash(filed["pin"])])
    wrong = "111111" if filed["pin"] != "111111" else "222222"
    with pytest.raises(Unauthorized):
        rnode.reports.track(filed["reference"], KIOSK, pin=wrong)
    stored = rnode.store.query_one("SELECT pin_hash FROM reports")["pin_hash"]
    assert stored.startswith("$argon2id$"), "a wrong PIN upgrades nothing"
    assert rnode.store.query_one("SELECT failures FROM report_pin_failures")["failures"] == 1
    assert rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["state"] == "submitted"
    upgraded = rnode.store.query_one("SELECT pin_hash FROM reports")["pin_hash"]
    assert upgraded.startswith("k2:") and rnode.reports.pins.check(upgraded, filed["reference"], filed["pin"]).ok
    assert rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["state"] == "submitted"
    # the keyed hash alone (the form between the two) is upgraded the same way
    key = (rnode.settings.keys_dir / "report-pin-hmac.key").read_bytes()
    keyed = hmac.new(key, f"{filed['reference']}\x00{filed['pin']}".encode(), "sha256").hexdigest()
    with rnode.store.write() as db:
        db.execute("UPDATE reports SET pin_hash = ?", [f"k1:{keyed}"])
    assert rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["state"] == "submitted"
    assert rnode.store.query_one("SELECT pin_hash FROM reports")["pin_hash"].startswith("k2:$argon2id$")
    with pytest.raises(Unauthorized):
        rnode.reports.track(filed["reference"], KIOSK, pin=wrong)


def test_wrong_pins_are_slowed_then_locked_per_reference(rnode, clock):
    filed = file_theft(rnode)
    other = file_theft(rnode)
    s = rnode.settings.reports
    for _ in range(s.pin_slow_after_failures):
        with pytest.raises(Unauthorized):
            rnode.reports.track(filed["reference"], KIOSK, pin="111111" if filed["pin"] != "111111" else "222222")
    with pytest.raises(RateLimited):
        rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])  # even the right PIN must wait
    assert rnode.reports.track(other["reference"], KIOSK, pin=other["pin"]), "another reference is not slowed"
    for _ in range(s.pin_lock_after_failures):
        clock.advance(seconds=61)
        with contextlib.suppress(Unauthorized, RateLimited):
            rnode.reports.track(filed["reference"], KIOSK, pin="999999" if filed["pin"] != "999999" else "888888")
    clock.advance(seconds=61)
    with pytest.raises(RateLimited, match="too many"):
        rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])
    clock.advance(minutes=s.pin_lock_minutes + 1)
    assert rnode.reports.track(filed["reference"], KIOSK, pin=filed["pin"])["reference"] == filed["reference"]


def walk_to_investigation(node, ref):
    node.reports.transition(ref, "receive", "received at the desk", OFFICER)
    node.reports.assign(ref, "officer", "on duty", SUPERVISOR)
    node.reports.transition(ref, "investigate", "opening the case", OFFICER)


def test_the_procedure_refuses_illegal_moves_and_names_actor_and_reason(rnode):
    ref = file_theft(rnode)["reference"]
    with pytest.raises(Conflict, match="only from"):
        rnode.reports.transition(ref, "refer", "too early", OFFICER)
    with pytest.raises(Invalid, match="reason"):
        rnode.reports.transition(ref, "receive", "", OFFICER)
    with pytest.raises(Forbidden):
        rnode.reports.transition(ref, "close", "done here", OFFICER, outcome="resolved")
    walk_to_investigation(rnode, ref)
    rnode.reports.transition(ref, "return", "statement of the witness missing", SUPERVISOR)
    rnode.reports.transition(ref, "resume", "taking it up again", OFFICER)
    rnode.reports.transition(ref, "close", "the laptop was found", SUPERVISOR, outcome="resolved")
    page = rnode.reports.get(ref, SUPERVISOR)
    assert page["state"] == "closed" and page["outcome"] == "resolved"
    moves = [(t["action"], t["to_state"], t["actor"], t["reason"]) for t in page["timeline"]]
    assert moves[-1] == ("close", "closed", "staff:supervisor", "the laptop was found")
    assert ("return", "returned", "staff:supervisor", "statement of the witness missing") in moves
    actions = [r["action"] for r in rnode.store.query("SELECT action FROM audit_log WHERE entity = 'report'")]
    assert actions.count("report.transition") == 5


def test_statements_are_never_edited_a_correction_is_a_new_version(rnode):
    ref = file_theft(rnode)["reference"]
    walk_to_investigation(rnode, ref)
    party = rnode.reports.get(ref, OFFICER)["parties"][0]["id"]
    first = rnode.reports.record_statement(ref, party, "I parked at nine in the evening.", "signed", OFFICER)
    fixed = rnode.reports.record_statement(
        ref, party, "I parked at half past nine.", "signed", OFFICER, corrects=first["id"]
    )
    assert fixed["version"] == 2
    with pytest.raises(Conflict, match="already corrected"):
        rnode.reports.record_statement(ref, party, "again", "signed", OFFICER, corrects=first["id"])
    stmts = rnode.reports.get(ref, OFFICER)["statements"]
    assert [(s["version"], s["text"], s["superseded_by"]) for s in stmts] == [
        (1, "I parked at nine in the evening.", fixed["id"]),
        (2, "I parked at half past nine.", None),
    ]
    with pytest.raises(sqlite3.DatabaseError, match="never edited"), rnode.store.write() as db:
        db.execute("UPDATE report_statements SET acknowledgement = 'refused' WHERE id = ?", [first["id"]])
    with pytest.raises(sqlite3.DatabaseError, match="never deleted"), rnode.store.write() as db:
        db.execute("DELETE FROM report_statements")


def test_sealed_values_do_not_open_when_moved_to_another_row(rnode):
    file_theft(rnode)
    file_theft(rnode)
    a, b = rnode.store.query("SELECT id, name_ct FROM report_parties ORDER BY id")
    from edge.reports.sealing import SealError

    with pytest.raises(SealError):
        rnode.reports.sealer.open(a["name_ct"], f"report_parties.name_ct:{b['id']}")


def test_agency_reads_only_what_was_shared_until_the_date(rnode, clock):
    shared = file_theft(rnode)["reference"]
    private = file_theft(rnode)["reference"]
    with pytest.raises(Forbidden):
        rnode.reports.get(shared, AGENCY)
    rnode.reports.share(
        shared, "agency_viewer", "prosecution review of case", clock.now + timedelta(days=7), SUPERVISOR
    )
    assert [r["reference"] for r in rnode.reports.list_reports(AGENCY, Filters())] == [shared]
    page = rnode.reports.get(shared, AGENCY)
    assert page["parties"][0]["name"] == VISITOR.name and page["notes"] == []
    with pytest.raises(Forbidden):
        rnode.reports.get(private, AGENCY)
    clock.advance(days=8)
    with pytest.raises(Forbidden, match="ended"):
        rnode.reports.get(shared, AGENCY)
    assert rnode.reports.list_reports(AGENCY, Filters()) == []
    outcomes = [
        json.loads(r["after"])["outcome"]
        for r in rnode.store.query(
            "SELECT after FROM audit_log WHERE action = 'report.read' AND actor = 'agency_viewer' ORDER BY seq"
        )
    ]
    assert outcomes == ["denied", "ok", "denied", "denied"]
    mine = rnode.reports.reads_by(AGENCY)
    assert {m["reference"] for m in mine if m["action"] == "report.read"} == {shared, private}
    assert rnode.store.query("SELECT 1 FROM audit_log WHERE action = 'audit.read' AND actor = 'agency_viewer'")


def test_sharing_is_for_supervisors_and_agencies_of_the_table(rnode, clock):
    ref = file_theft(rnode)["reference"]
    until = clock.now + timedelta(days=3)
    with pytest.raises(Forbidden):
        rnode.reports.share(ref, "agency_viewer", "purpose given", until, OFFICER)
    with pytest.raises(Invalid, match="agency_viewer"):
        rnode.reports.share(ref, "officer", "purpose given", until, SUPERVISOR)
    with pytest.raises(Invalid, match="future"):
        rnode.reports.share(ref, "agency_viewer", "purpose given", clock.now - timedelta(days=1), SUPERVISOR)


def test_sla_breach_is_marked_audited_and_announced_once(rnode, clock):
    events = []
    rnode.events.subscribe("reports.sla_breached", lambda kind, payload: events.append(payload))
    file_theft(rnode)
    assert rnode.reports.check_sla() == []
    clock.advance(hours=rnode.settings.reports.sla_hours[ReportState.SUBMITTED] + 1)
    assert rnode.reports.check_sla() == [{"type": "theft", "state": "submitted", "overdue_s": 3600.0}]
    assert rnode.reports.check_sla() == []
    assert events == [{"type": "theft", "state": "submitted", "overdue_s": 3600.0}]
    assert rnode.reports.counts()["sla_breaches"] == 1
    assert rnode.reports.list_reports(SUPERVISOR, Filters(sla_breached=True))[0]["sla_breached"] is True


def test_retention_purges_personal_data_of_closed_reports_and_keeps_the_procedure(rnode, clock):
    ref = file_theft(rnode)["reference"]
    open_ref = file_theft(rnode)["reference"]
    walk_to_investigation(rnode, ref)
    party = rnode.reports.get(ref, OFFICER)["parties"][0]["id"]
    rnode.reports.record_statement(ref, party, "the statement text", "signed", OFFICER)
    rnode.reports.transition(ref, "close", "resolved at the station", SUPERVISOR, outcome="resolved")
    clock.advance(days=rnode.settings.reports.retention_days + 1)
    assert rnode.reports.purge_expired() == [ref]
    page = rnode.reports.get(ref, SUPERVISOR)
    assert page["details"] is None and page["parties"][0]["name"] is None and page["statements"][0]["text"] is None
    assert [t["to_state"] for t in page["timeline"]][-1] == "closed"
    assert rnode.reports.get(open_ref, SUPERVISOR)["parties"][0]["name"] == VISITOR.name
    with pytest.raises(Unauthorized):
        rnode.reports.track(ref, KIOSK, document_number=VISITOR.document_number)


def test_unknown_report_is_not_found_and_the_refusal_is_audited(rnode):
    ref = reference.make("OLY", 2026, 999)
    with pytest.raises(NotFound):
        rnode.reports.get(ref, SUPERVISOR)
    row = rnode.store.query_one("SELECT after FROM audit_log WHERE action = 'report.read' ORDER BY seq DESC")
    assert json.loads(row["after"])["outcome"] == "not_found"
