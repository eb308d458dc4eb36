"""Checking a station's exported audit log against the anchors central holds for it.

A station holds its anchors itself (a table and a file), and whoever holds the station's key can rewrite both. The
anchors central was sent as they were signed are a copy the station cannot reach: every one of them must still
match the exported chain (same hash at the same entry), and no anchored entry may be gone. The anchors came over
the station's own authenticated MQTT session and are kept as received; their hashes are what is compared.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markaz.contracts.audit import EXPORT_FIELDS, EXPORT_FORMAT, GENESIS, entry_hash


class ExportError(ValueError):
    """The export file is not one (wrong format, another station, a line that is not an entry)."""


@dataclass
class CheckReport:
    station: str
    entries: int = 0
    anchors_checked: int = 0
    head_seq: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def read_export(path: Path, station: str) -> Iterator[dict[str, Any]]:
    """The entries of an export file, checked line by line as they are read."""
    with Path(path).open(encoding="utf-8") as lines:
        try:
            header = json.loads(next(lines, ""))
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise ExportError(f"{path} is not an audit export ({EXPORT_FORMAT})")
        if header.get("station") != station:
            raise ExportError(f"{path} is the export of station {header.get('station')!r}, not {station!r}")
        for n, line in enumerate(lines, 2):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or any(k not in row for k in EXPORT_FIELDS):
                raise ExportError(f"{path}:{n} is not an audit entry")
            yield row


def check_export(station: str, rows: Iterable[Mapping[str, Any]], anchors: Sequence[Mapping[str, Any]]) -> CheckReport:
    """Recompute the chain of `rows` (seq order) and hold it against central's `anchors` (head_seq, head_hash)."""
    report = CheckReport(station)
    wanted: dict[int, list[Mapping[str, Any]]] = {}
    for anchor in anchors:
        if int(anchor["head_seq"]) > 0:
            wanted.setdefault(int(anchor["head_seq"]), []).append(anchor)
    prev, expected = GENESIS, 1
    for row in rows:
        seq = row["seq"]
        if seq != expected:
            report.problems.append(f"entry {expected} is missing from the export (next present entry is {seq})")
            break
        if row["prev_hash"] != prev or entry_hash(prev, row) != row["hash"]:
            report.problems.append(f"entry {seq}: the chain is broken (content or link does not match its hash)")
            break
        for anchor in wanted.pop(seq, []):
            report.anchors_checked += 1
            if anchor["head_hash"] != row["hash"]:
                report.problems.append(
                    f"entry {seq}: its hash differs from the one the station sent central at {anchor['anchor_ts']}: "
                    "the history was rewritten"
                )
        report.entries += 1
        report.head_seq = seq
        prev = row["hash"]
        expected += 1
    if not report.problems and wanted:
        head = max(wanted)
        report.problems.append(
            f"the export ends at entry {report.head_seq}, but central holds an anchor of entry {head} (sent at "
            f"{wanted[head][0]['anchor_ts']}): entries were cut off"
        )
    if not anchors:
        report.problems.append(f"central holds no audit anchor of station {station}: nothing to check against")
    return report
