"""Central's registry of stations on the broker CA: which station holds which MQTT certificate, which are revoked.

It lives beside the CA (`CA.stations.json`); the broker's ACL and CRL (`CA.crl`, Mosquitto's `crlfile`) are both
generated from it, so a station that is not registered, or is revoked, has no rights and cannot connect."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509

from provisioning import pki


@dataclass
class StationEntry:
    station: str
    serial: str
    not_after: str
    revoked_at: str | None = None


class StationRegistry:
    def __init__(self, ca: pki.Issued) -> None:
        self.ca = ca
        self.path = Path(ca.cert).with_suffix(".stations.json")
        self.crl_path = Path(ca.cert).with_suffix(".crl")

    def entries(self) -> list[StationEntry]:
        if not self.path.exists():
            return []
        return [StationEntry(**e) for e in json.loads(self.path.read_text())]

    def _save(self, entries: list[StationEntry]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps([asdict(e) for e in entries], indent=2))
        os.replace(tmp, self.path)

    def record(self, station: str, cert_path: Path) -> StationEntry:
        """Register a newly issued station certificate; an older one of the same station is revoked (replaced)."""
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        now = dt.datetime.now(dt.UTC).isoformat()
        entries = self.entries()
        for e in entries:
            if e.station == station and e.revoked_at is None:
                e.revoked_at = now
        entry = StationEntry(station, format(cert.serial_number, "X"), cert.not_valid_after_utc.isoformat())
        entries.append(entry)
        self._save(entries)
        self.write_crl()
        return entry

    def revoke(self, station: str) -> list[str]:
        now = dt.datetime.now(dt.UTC).isoformat()
        entries = self.entries()
        revoked = []
        for e in entries:
            if e.station == station and e.revoked_at is None:
                e.revoked_at = now
                revoked.append(e.serial)
        if not revoked:
            raise KeyError(f"station {station!r} has no live certificate in {self.path}")
        self._save(entries)
        self.write_crl()
        return revoked

    def active(self) -> list[str]:
        return sorted({e.station for e in self.entries() if e.revoked_at is None})

    def write_crl(self) -> Path:
        revoked = [(int(e.serial, 16), dt.datetime.fromisoformat(e.revoked_at)) for e in self.entries() if e.revoked_at]
        data = pki.make_crl(self.ca, revoked, days=30)
        tmp = self.crl_path.with_name(self.crl_path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.chmod(0o644)
        os.replace(tmp, self.crl_path)
        return self.crl_path


def render_acl(stations: list[str], central: Iterable[str] = (pki.CENTRAL_IDENTITY,)) -> str:
    """The Mosquitto ACL: central reads all and sends commands; each registered station only its own subtree (no
    `pattern` rules, so a certificate of an unregistered or revoked station has no rights at all)."""
    from provisioning.broker import _central_blocks

    lines = [
        "# markaz broker ACL, generated from the station registry (`markaz provision broker-acl`): do not edit.",
        _central_blocks(central).rstrip("\n"),
    ]
    for station in stations:
        lines += [
            "",
            f"user {station}",
            f"topic write markaz/v1/{station}/status",
            f"topic write markaz/v1/{station}/telemetry/#",
            f"topic write markaz/v1/{station}/events/#",
            f"topic write markaz/v1/{station}/cmd/+/ack",
            f"topic read markaz/v1/{station}/cmd/+",
            "topic read markaz/v1/_central/status/+",
        ]
    return "\n".join(lines) + "\n"
