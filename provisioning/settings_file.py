"""Writing what enrolment learnt into the edge node's settings file (`[edge]` and `[edge.mqtt]`): tomlkit keeps the
file's other settings, its comments and its order; the new text is validated as the node's settings before it
replaces the old one (atomically, same mode), the previous file is kept as FILE.bak, and writing the same values
again changes nothing (no new backup)."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument


@dataclass(frozen=True)
class SettingsWritten:
    path: Path
    changed: bool
    backup: Path | None  # the previous file, when there was one and it changed
    station_was: str | None  # the station id the file named before, when it named another


def _table(parent: TOMLDocument | Table, name: str) -> Table:
    if name not in parent:
        parent[name] = tomlkit.table()
    found = parent[name]
    if not isinstance(found, Table):
        raise ValueError(f"[{name}] is not a table")
    return found


def mqtt_settings_text(current: str, station: str, url: str, ca: Path, cert: Path, key: Path) -> tuple[str, str | None]:
    """The file's text with the station id and its MQTT link set; and the station id it named before (if other)."""
    doc = tomlkit.parse(current) if current.strip() else tomlkit.document()
    edge = _table(doc, "edge")
    before = edge.get("station_id")
    edge["station_id"] = station  # the broker ties the client id to the certificate's name: they must agree
    mqtt = _table(edge, "mqtt")
    mqtt["url"] = url
    mqtt["ca"] = str(ca)
    mqtt["cert"] = str(cert)
    mqtt["key"] = str(key)
    return tomlkit.dumps(doc), (str(before) if before is not None and str(before) != station else None)


def write_mqtt_settings(path: Path, station: str, url: str, ca: Path, cert: Path, key: Path) -> SettingsWritten:
    """Set `[edge] station_id` and `[edge.mqtt]` url/ca/cert/key in `path`, keeping everything else."""
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    path = Path(path)
    current = path.read_text() if path.exists() else ""
    text, station_was = mqtt_settings_text(current, station, url, ca, cert, key)
    if text == current:
        return SettingsWritten(path, False, None, None)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o640
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        load_settings(EdgeSettings, tmp, "edge")  # the node must be able to start on it: else nothing changes
        backup = None
        if current:
            backup = path.with_name(path.name + ".bak")
            backup.write_text(current)
            os.chmod(backup, mode)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)
    return SettingsWritten(path, True, backup, station_was)
