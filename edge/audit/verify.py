"""Proving the audit log: recompute the chain, check every anchor's signature, that no anchored entry is gone, and
that the two copies of the anchors the station holds (database table, file beside it) agree with each other.

Pure functions over rows and anchors; `AuditLog.verify` reads them from the store and the file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.audit.chain import GENESIS, anchor_message, entry_hash

AnchorRecord = Mapping[str, Any]  # station, ts, head_seq, head_hash, key_id, signature (as in models.Anchor)
AnchorKey = tuple[Any, Any, Any, Any]


@dataclass
class VerifyReport:
    ok: bool
    entries: int
    anchors: int
    head_seq: int
    first_broken_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, seq: int | None, message: str) -> None:
        self.ok = False
        if self.first_broken_seq is None and seq is not None:
            self.first_broken_seq = seq
        self.problems.append(message)


def anchor_identity(anchor: AnchorRecord) -> AnchorKey:
    """What makes two records the same anchor, wherever they are kept."""
    return (anchor.get("head_seq"), anchor.get("head_hash"), anchor.get("ts"), anchor.get("signature"))


def read_anchors_file(path: Path) -> list[dict[str, Any]] | None:
    """The anchors in the file, in file order; None when the file does not exist (which is not the same as empty)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    anchors: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            anchors.append(record if isinstance(record, dict) else {"_invalid": f"{path}:{n} is not an anchor record"})
    return anchors


def compare_anchor_copies(
    db_anchors: Sequence[AnchorRecord],
    file_anchors: Sequence[AnchorRecord] | None,
    file_label: str,
    report: VerifyReport,
) -> None:
    """Each copy is checked against the other: the file must hold every anchor of the table and nothing else."""
    in_file = {anchor_identity(a) for a in file_anchors or [] if "_invalid" not in a}
    in_db = {anchor_identity(a) for a in db_anchors}
    if file_anchors is None:
        if db_anchors:
            report.fail(
                None, f"the anchors file {file_label} is missing, but the database holds {len(db_anchors)} anchors"
            )
        return
    for bad in file_anchors:
        if "_invalid" in bad:
            report.fail(None, str(bad["_invalid"]))
    if db_anchors and not in_file:
        report.fail(None, f"the anchors file {file_label} is empty, but the database holds {len(db_anchors)} anchors")
    elif len(in_file) < len(in_db):
        report.fail(
            None,
            f"the anchors file {file_label} was shrunk: it holds {len(in_file)} anchors, the database {len(in_db)}",
        )
    missing_from_file = [a for a in db_anchors if anchor_identity(a) not in in_file]
    if missing_from_file and in_file:
        first = missing_from_file[0]
        report.fail(
            None,
            f"{len(missing_from_file)} anchors of the database are not in the anchors file (the first signed at "
            f"{first.get('ts')} for entry {first.get('head_seq')}): the file was trimmed or replaced",
        )
    missing_from_db = [a for a in file_anchors if "_invalid" not in a and anchor_identity(a) not in in_db]
    if missing_from_db:
        first = missing_from_db[0]
        report.fail(
            None,
            f"{len(missing_from_db)} anchors of the file are not in the database (the first signed at "
            f"{first.get('ts')} for entry {first.get('head_seq')}): anchors were deleted from the database",
        )


def _signed(anchor: AnchorRecord, public_key: Ed25519PublicKey) -> bool:
    try:
        message = anchor_message(
            int(anchor["head_seq"]), str(anchor["head_hash"]), str(anchor["ts"]), str(anchor["station"])
        )
        public_key.verify(base64.b64decode(anchor["signature"]), message)
    except (InvalidSignature, KeyError, ValueError, TypeError):
        return False
    return True


def verify_chain(
    rows: Iterable[Mapping[str, Any]], anchors: Iterable[AnchorRecord], public_key: Ed25519PublicKey
) -> VerifyReport:
    """`rows` are audit_log rows in seq order (streamed: only anchored hashes are kept); `anchors` signed heads."""
    return _check_chain(rows, anchors, public_key)[0]


def _check_chain(
    rows: Iterable[Mapping[str, Any]], anchors: Iterable[AnchorRecord], public_key: Ed25519PublicKey
) -> tuple[VerifyReport, int | None]:
    """The report, and the newest entry a correctly signed anchor covers (None without any)."""
    report = VerifyReport(ok=True, entries=0, anchors=0, head_seq=0)
    newest_signed: int | None = None
    wanted: dict[int, list[AnchorRecord]] = {}
    for anchor in anchors:
        report.anchors += 1
        if "_invalid" in anchor:
            report.fail(None, str(anchor["_invalid"]))
        elif not _signed(anchor, public_key):
            report.fail(None, f"anchor of {anchor.get('ts')} for entry {anchor.get('head_seq')}: bad signature")
        else:
            head_seq = int(anchor["head_seq"])
            newest_signed = head_seq if newest_signed is None else max(newest_signed, head_seq)
            if head_seq != 0:
                wanted.setdefault(head_seq, []).append(anchor)

    prev = GENESIS
    expected_seq = 1
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            report.fail(expected_seq, f"entry {expected_seq} is missing (next present entry is {seq})")
            return report, newest_signed
        if row["prev_hash"] != prev:
            report.fail(
                seq, f"entry {seq}: prev_hash does not match entry {seq - 1} (an entry was removed or replaced)"
            )
            return report, newest_signed
        if entry_hash(prev, row) != row["hash"]:
            report.fail(seq, f"entry {seq}: content does not match its hash (the row was edited)")
            return report, newest_signed
        for anchor in wanted.pop(seq, []):
            if anchor["head_hash"] != row["hash"]:
                report.fail(seq, f"entry {seq}: hash differs from the one signed at {anchor['ts']}")
        report.entries += 1
        report.head_seq = seq
        prev = row["hash"]
        expected_seq += 1

    for head_seq in sorted(wanted):  # anchored entries that are no longer there
        anchor = wanted[head_seq][0]
        report.fail(
            report.head_seq + 1,
            f"entries after {report.head_seq} were cut off: an anchor signed at {anchor['ts']} covers entry {head_seq}",
        )
    return report, newest_signed


def verify_log(
    rows: Iterable[Mapping[str, Any]],
    db_anchors: Sequence[AnchorRecord],
    file_anchors: Sequence[AnchorRecord] | None,
    public_key: Ed25519PublicKey,
    anchor_every: int,
    file_label: str = "audit-anchors.jsonl",
) -> VerifyReport:
    """The whole check against every anchor the station holds: both copies compared, the chain against their union,
    and the unsigned tail no longer than the node ever leaves it (`anchor_every` entries)."""
    union: dict[AnchorKey, AnchorRecord] = {}
    for anchor in [*db_anchors, *(file_anchors or [])]:
        if "_invalid" not in anchor:  # reported by the comparison of the copies
            union.setdefault(anchor_identity(anchor), anchor)
    copies = VerifyReport(ok=True, entries=0, anchors=0, head_seq=0)
    compare_anchor_copies(db_anchors, file_anchors, file_label, copies)
    report, newest = _check_chain(rows, list(union.values()), public_key)
    report.problems[:0] = copies.problems
    report.ok = report.ok and copies.ok

    if report.entries and not union:
        report.fail(None, f"the station holds no anchor for its {report.entries} entries: the anchors were removed")
    elif report.ok and newest is not None and report.head_seq - newest >= anchor_every:
        report.fail(
            None,
            f"{report.head_seq - newest} entries after entry {newest} are unsigned, but the node signs at least every "
            f"{anchor_every}: newer anchors were removed",
        )
    return report
