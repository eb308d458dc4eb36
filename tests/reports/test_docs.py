"""docs/reports.md names every transition of the procedure table, so the page cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from edge.reports.procedure import TRANSITIONS

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"


def test_the_procedure_table_in_the_docs_matches_the_code():
    rows = {
        line.split("|")[1].strip(): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and line.count("|") == 5
    }
    for t in TRANSITIONS:
        assert t.action.value in rows, f"docs/reports.md lacks the {t.action.value} transition"
        cells = [c.strip() for c in rows[t.action.value].split("|")]
        assert {s.strip() for s in cells[2].split(",")} == {s.value for s in t.sources} or cells[2].startswith("every")
        assert cells[3] == t.target.value
