"""Proving the audit log: recompute the chain, check every anchor's signature and that no anchored entry is gone."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.audit.chain import GENESIS, anchor_message, entry_hash


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


def read_anchors_file(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    anchors = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                anchors.append(json.loads(line))
            except json.JSONDecodeError:
                anchors.append({"_invalid": f"{path}:{n} is not JSON"})
    return anchors


def verify_chain(rows: list[dict[str, Any]], anchors: list[dict[str, Any]], public_key: Ed25519PublicKey) -> VerifyReport:
    """`rows` are audit_log rows in seq order; `anchors` the signed heads from the file outside the database."""
    report = VerifyReport(ok=True, entries=len(rows), anchors=len(anchors), head_seq=rows[-1]["seq"] if rows else 0)
    prev = GENESIS
    by_seq: dict[int, str] = {}
    expected_seq = 1
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            report.fail(expected_seq, f"entry {expected_seq} is missing (next present entry is {seq})")
            return report
        if row["prev_hash"] != prev:
            report.fail(seq, f"entry {seq}: prev_hash does not match entry {seq - 1} (an entry was removed or replaced)")
            return report
        if entry_hash(prev, row) != row["hash"]:
            report.fail(seq, f"entry {seq}: content does not match its hash (the row was edited)")
            return report
        by_seq[seq] = row["hash"]
        prev = row["hash"]
        expected_seq += 1

    for anchor in anchors:
        if "_invalid" in anchor:
            report.fail(None, anchor["_invalid"])
            continue
        try:
            sig = base64.b64decode(anchor["signature"])
            public_key.verify(sig, anchor_message(anchor["head_seq"], anchor["head_hash"], anchor["ts"], anchor["station"]))
        except (InvalidSignature, KeyError, ValueError):
            report.fail(None, f"anchor of {anchor.get('ts')} for entry {anchor.get('head_seq')}: bad signature")
            continue
        head_seq = anchor["head_seq"]
        if head_seq == 0:
            continue
        if head_seq not in by_seq:
            report.fail(
                report.head_seq + 1,
                f"entries after {report.head_seq} were cut off: an anchor signed at {anchor['ts']} covers entry {head_seq}",
            )
        elif by_seq[head_seq] != anchor["head_hash"]:
            report.fail(head_seq, f"entry {head_seq}: hash differs from the one signed at {anchor['ts']}")
    return report
