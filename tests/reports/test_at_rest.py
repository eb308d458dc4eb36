"""Personal data at rest: the database file, its WAL and a backup hold no readable name, document number or
statement text; the key lives in the keys folder, owner-only."""

from __future__ import annotations

import os
import stat

from edge.reports.service import PartyIn
from edge.reports.vocabulary import DocumentType, PartyRole
from tests.reports.conftest import OFFICER, SUPERVISOR, THEFT

NAME = "Zubaida Faisal Al-Qahtani"
NAME_AR = "زبيدة فيصل القحطاني"
DOCUMENT = "X4471932Q"
STATEMENT = "I saw a man in a grey jacket open the boot of the white sedan"
WITNESS = "Marwan Tariq Haddad"


def test_db_wal_and_backup_hold_no_readable_personal_data(rnode, tmp_path):
    complainant = PartyIn(
        PartyRole.COMPLAINANT, f"{NAME} / {NAME_AR}", DocumentType.ID_CARD, DOCUMENT, "SAU", "1985-02-03"
    )
    ref = rnode.reports.file("theft", THEFT, complainant, OFFICER)["reference"]
    rnode.reports.transition(ref, "receive", "received at the desk", OFFICER)
    rnode.reports.assign(ref, "officer", "on duty tonight", SUPERVISOR)
    rnode.reports.transition(ref, "investigate", "opening the case", OFFICER)
    witness = rnode.reports.add_party(
        ref, PartyIn(PartyRole.WITNESS, WITNESS, DocumentType.PASSPORT, "W1234567"), OFFICER
    )
    rnode.reports.record_statement(ref, witness["id"], STATEMENT, "signed", OFFICER)
    rnode.reports.add_note(ref, f"called {WITNESS} back", OFFICER)
    rnode.reports.transition(ref, "refer", f"statement of {WITNESS} recorded", OFFICER)
    page = rnode.reports.get(ref, SUPERVISOR)
    assert page["statements"][0]["text"] == STATEMENT, "the data is there, only sealed"

    db, wal = rnode.store.path, rnode.store.path.with_name(rnode.store.path.name + "-wal")
    backup = tmp_path / "backup.sqlite"
    rnode.store.backup(backup)
    assert wal.exists() and wal.stat().st_size > 0, "the WAL is checked while it still holds the writes"
    secrets_ = [
        NAME,
        NAME_AR,
        DOCUMENT,
        DOCUMENT.lower(),
        STATEMENT,
        WITNESS,
        "W1234567",
        "King Fahd Road",
        "silver laptop",
    ]
    for path in (db, wal, backup):
        blob = path.read_bytes()
        found = [s for s in secrets_ if s.encode() in blob]
        assert not found, f"{path.name} holds {found}"
    rnode.store.close()
    for path in (db, backup):  # after the checkpoint folds the WAL into the file
        blob = path.read_bytes()
        assert not [s for s in secrets_ if s.encode() in blob]

    key = rnode.keys.dir / "reports-data.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert key.read_bytes() not in db.read_bytes()
