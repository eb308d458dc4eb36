"""The report queries a busy station runs all day stay index lookups however many reports the store holds:
SQLite's own EXPLAIN QUERY PLAN for the exact SQL the service sends (recorded from the real store) never scans the
reports table, and the workbench list's common filters read their rows already in the list's order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest

from edge.reports.service import Filters, PartyIn
from edge.reports.vocabulary import PartyRole, ReportState
from tests.reports.conftest import AGENCY, OFFICER, SUPERVISOR, THEFT

FULL_SCAN = re.compile(r"\bSCAN (r|reports)\b(?! USING)")


@contextmanager
def recorded(node) -> Iterator[list[tuple[str, list]]]:
    """The SQL the service sends through the store's read path, with its parameters."""
    seen: list[tuple[str, list]] = []
    store, query, query_one = node.store, node.store.query, node.store.query_one

    def q(sql, params=()):
        seen.append((sql, list(params)))
        return query(sql, params)

    def q1(sql, params=()):
        seen.append((sql, list(params)))
        return query_one(sql, params)

    store.query, store.query_one = q, q1
    try:
        yield seen
    finally:
        store.query, store.query_one = query, query_one


def plan(node, sql: str, params: list) -> str:
    rows = node.store.read().conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return "\n".join(str(tuple(r)[-1]) for r in rows)


@pytest.fixture
def filed(rnode):
    refs = [
        rnode.reports.file("theft", THEFT, PartyIn(PartyRole.COMPLAINANT, "Huda"), OFFICER)["reference"]
        for _ in range(2)
    ]
    return rnode, refs


ORDERED = {  # a filter alone -> the index that gives both the rows and their order
    "none": (Filters(), "reports_newest"),
    "state": (Filters(state=ReportState.RECEIVED), "reports_state_newest"),
    "type": (Filters(type="theft"), "reports_type_newest"),
    "officer": (Filters(officer="officer"), "reports_officer_newest"),
    "breached": (Filters(sla_breached=True), "reports_breached_newest"),
}


@pytest.mark.parametrize("name", list(ORDERED))
def test_each_list_filter_reads_its_rows_in_order_from_an_index(filed, name: str) -> None:
    node, _ = filed
    filters, index = ORDERED[name]
    with recorded(node) as seen:
        node.reports.list_reports(SUPERVISOR, filters)
    (sql, params), *_ = [(s, p) for s, p in seen if "FROM reports r" in s]
    shown = plan(node, sql, params)
    assert index in shown, shown
    assert not FULL_SCAN.search(shown) and "TEMP B-TREE" not in shown, shown


@pytest.mark.parametrize(
    "filters",
    [
        Filters(state=ReportState.RECEIVED, type="theft", officer="officer"),  # the benchmark's filter
        Filters(state=ReportState.UNDER_INVESTIGATION, officer="officer"),
        Filters(type="general", sla_breached=False),
        Filters(offset=150),
        Filters(document="L898902C3"),  # the search by a party's document number
    ],
)
def test_combined_filters_and_agency_lists_never_scan_every_report(filed, filters: Filters) -> None:
    node, refs = filed
    node.reports.share(refs[0], "agency_viewer", "case review", node.clock() + timedelta(days=1), SUPERVISOR)
    for actor in (OFFICER, AGENCY):
        with recorded(node) as seen:
            node.reports.list_reports(actor, filters)
        for sql, params in seen:
            if "FROM reports" in sql:
                shown = plan(node, sql, params)
                assert not FULL_SCAN.search(shown), f"{actor.subject}: {sql}\n{shown}"


def test_a_report_page_and_tracking_find_the_report_by_its_reference_index(filed) -> None:
    node, refs = filed
    plans = []
    conn = node.store.read().conn
    # the shapes ReportService.get / track / referral_document use (they read through the connection directly)
    for sql in ("SELECT id FROM reports WHERE reference = ?", "SELECT * FROM reports r WHERE r.reference = ?"):
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", [refs[0]]).fetchall()
        plans.append("\n".join(str(tuple(r)[-1]) for r in rows))
    for shown in plans:
        assert re.search(r"SEARCH (r|reports) USING INDEX sqlite_autoindex_reports_\d \(reference=\?\)", shown), shown


@pytest.mark.parametrize("name", list(ORDERED))
def test_an_older_page_is_a_range_of_the_same_ordering_index_not_an_offset(filed, name: str) -> None:
    node, refs = filed
    filters, index = ORDERED[name]
    with recorded(node) as seen:
        node.reports.list_page(SUPERVISOR, replace(filters, before=refs[-1]))
    (sql, params), *_ = [(s, p) for s, p in seen if "FROM reports r" in s]
    shown = plan(node, sql, params)
    assert f"{index} (" in shown and "(filed_at,reference)<(?,?)" in shown, shown
    assert not FULL_SCAN.search(shown) and "TEMP B-TREE" not in shown, shown


def test_keyset_pages_list_every_report_once_in_order_while_new_ones_are_filed(rnode) -> None:
    def file() -> str:
        return rnode.reports.file("theft", THEFT, PartyIn(PartyRole.COMPLAINANT, "Huda"), OFFICER)["reference"]

    refs = [file() for _ in range(5)]
    first, more = rnode.reports.list_page(OFFICER, Filters(limit=2))
    assert [r["reference"] for r in first] == refs[:2:-1] and more
    file()  # filed between two pages: an OFFSET would now show refs[2] twice
    second, more = rnode.reports.list_page(OFFICER, Filters(limit=2, before=first[-1]["reference"]))
    third, more_after = rnode.reports.list_page(OFFICER, Filters(limit=2, before=second[-1]["reference"]))
    assert [r["reference"] for r in second + third] == refs[2::-1] and more and not more_after
