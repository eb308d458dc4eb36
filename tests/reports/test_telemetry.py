"""Telemetry about reports carries counts only: every message the outbox holds validates against the contract and
contains no name, document number, reference or text of a report."""

from __future__ import annotations

import shutil

from edge.reports.vocabulary import ReportState
from markaz.contracts import mqtt as contract
from tests.conftest import FakeClock
from tests.reports.conftest import AGENCIES, OFFICER, SUPERVISOR, THEFT, VISITOR


def test_report_telemetry_is_counts_only_and_follows_the_contract(make_node, station_template, tmp_path):
    template, _ = station_template
    shutil.copytree(template, tmp_path / "tnode")
    clock = FakeClock()
    node = make_node(clock=clock, data_dir=tmp_path / "tnode", reports={"agencies": AGENCIES})
    node.start()
    try:
        refs = [node.reports.file("theft", THEFT, VISITOR, OFFICER)["reference"] for _ in range(2)]
        node.reports.transition(refs[0], "receive", "received at the desk", OFFICER)
        node.reports.assign(refs[0], "officer", "on duty", SUPERVISOR)
        node.reports.transition(refs[0], "investigate", "opening", OFFICER)
        node.reports.transition(refs[0], "refer", "to the prosecution", OFFICER)
        clock.advance(hours=node.settings.reports.sla_hours[ReportState.SUBMITTED] + 1)
        assert node.reports.check_sla() == [{"type": "theft", "state": "submitted", "overdue_s": 3600.0}]
        node.telemetry.publish_snapshot(["reports"], reason="command")
    finally:
        node.stop()
    node = make_node(data_dir=tmp_path / "tnode")
    rows = node.store.query("SELECT topic, payload FROM telemetry_outbox ORDER BY id")
    kinds = {}
    for row in rows:
        info, msg = contract.validate(row["topic"], row["payload"])
        kinds[info.key] = msg
        text = bytes(row["payload"]).decode()
        for secret in (VISITOR.name, VISITOR.document_number, "King Fahd", "laptop", *refs, "OLY-", "MKZ-"):
            assert secret not in text, f"{info.key} carries {secret!r}"
    counts = kinds["telemetry.reports"].data
    assert counts.referrals_pending == 1 and counts.sla_breaches == 1
    assert {(c.type, c.state, c.count) for c in counts.by_type_state} == {
        ("theft", "referred", 1),
        ("theft", "submitted", 1),
    }
    breach = kinds["events.report_sla_breach"].data
    assert (breach.type, breach.state) == ("theft", "submitted")
