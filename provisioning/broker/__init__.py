"""Mosquitto configuration for the markaz topic tree: templates and their rendering."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from string import Template

from provisioning.pki import CENTRAL_IDENTITY


def render(
    dest_dir: Path,
    port: int,
    ca: Path,
    cert: Path,
    key: Path,
    bind: str = "0.0.0.0",
    persistence: bool = True,
    max_queued_messages: int = 100_000,
    log_dest: str = "syslog",
    extra: str = "",
) -> Path:
    """Write mosquitto.conf and acl into `dest_dir`; returns the config path (run `mosquitto -c` on it)."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    here = resources.files(__package__)
    acl = dest_dir / "acl"
    acl.write_text(Template(here.joinpath("acl.template.conf").read_text()).substitute(central=CENTRAL_IDENTITY))
    conf = dest_dir / "mosquitto.conf"
    conf.write_text(
        Template(here.joinpath("mosquitto.template.conf").read_text()).substitute(
            persistence="true" if persistence else "false",
            data_dir=dest_dir,
            max_queued_messages=max_queued_messages,
            acl_file=acl,
            log_dest=log_dest,
            port=port,
            bind=bind,
            ca=ca,
            cert=cert,
            key=key,
            extra=extra,
        )
    )
    return conf
