"""Fixtures for reports: a node on a real SQLite file with a settable clock, staff of every role, a kiosk whose
visitor passed face verification, and the data-sharing table naming the prosecution's user."""

from __future__ import annotations

import shutil

import pytest

from edge.auth.principal import Principal
from edge.reports.service import PartyIn
from edge.reports.vocabulary import DocumentType, PartyRole
from tests.conftest import FakeClock

AGENCIES = {
    "prosecution": {"name_en": "Public Prosecution", "sees": "statements", "users": ["agency_viewer"]},
    "traffic": {"name_en": "Traffic Department", "sees": "procedure", "users": ["traffic1"]},
}
OFFICER = Principal("staff", "officer", "officer")
SUPERVISOR = Principal("staff", "supervisor", "supervisor")
AGENCY = Principal("staff", "agency_viewer", "agency_viewer")
KIOSK = Principal("device", "kiosk-1", "kiosk")

VISITOR = PartyIn(
    PartyRole.COMPLAINANT,
    "Huda Khalid Al-Mansour",
    DocumentType.PASSPORT,
    "P98765432",
    "SAU",
    "1990-04-12",
    None,
    verified=True,
)
THEFT = {
    "occurred_at": "2026-11-22T21:30:00+03:00",
    "place": "King Fahd Road parking, level 2",
    "items": ["silver laptop", "black backpack"],
    "value": "4500",
    "suspect_seen": False,
    "description": "My car window was broken and the bag taken from the back seat.",
}


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def rnode(make_node, station_template, tmp_path, clock):
    template, _ = station_template
    data = tmp_path / "rnode"
    shutil.copytree(template, data)
    return make_node(clock=clock, data_dir=data, reports={"agencies": AGENCIES, "station_code": "OLY"})


def verified_at_kiosk(node, document_number: str = VISITOR.document_number, kiosk: str = "kiosk-1") -> None:
    """What a face match at the kiosk leaves in the verification part's store (its own table, written for real)."""
    from markaz.clock import iso

    with node.store.write() as db:
        db.execute(
            "INSERT INTO verification_attempts (document_hash, kiosk, at, decision) VALUES (?, ?, ?, 'match')",
            [node.keys.hash_document(document_number), kiosk, iso(node.clock())],
        )
