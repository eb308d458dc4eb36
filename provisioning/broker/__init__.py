"""Mosquitto configuration for the markaz topic tree: templates and their rendering.

The rendered folder is self-contained and starts the way Debian runs Mosquitto: as root it drops to the user
`mosquitto` before it reads certificates, the ACL or its persistence folder, so the TLS files are copied in
(readable by that user's group), the persistence folder belongs to it, and every path is absolute.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from string import Template

from provisioning.pki import CENTRAL_IDENTITY

BROKER_USER = "mosquitto"  # Debian's default `user` of mosquitto.conf


class BrokerConfigError(ValueError):
    """The configuration could not be written so that the broker can start (the message says why)."""


def _account(user: str) -> tuple[int, int] | None:
    """(uid, gid) of the broker's user, or None when it does not exist here (then nothing is chowned)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _reachable(path: Path, uid: int, gid: int) -> Path | None:
    """The first folder on the way to `path` that the user cannot enter, or None."""
    groups = {gid} | {g.gr_gid for g in grp.getgrall() if pwd.getpwuid(uid).pw_name in g.gr_mem}
    for folder in [*reversed(path.parents), path]:
        st = folder.stat()
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return folder
    return None


def _central_blocks(identities: Iterable[str]) -> str:
    blocks = []
    for identity in identities:
        if not identity or any(ch in identity for ch in " \t\n/+#"):
            raise BrokerConfigError(f"central identity {identity!r}: a certificate common name without spaces, / + #")
        blocks.append(
            f"user {identity}\ntopic read markaz/v1/#\ntopic write markaz/v1/+/cmd/+\n"
            "topic write markaz/v1/_central/status/+\n"
        )
    if not blocks:
        raise BrokerConfigError("at least one central identity is needed")
    return "\n".join(blocks)


def unreachable(dest_dir: Path, user: str = BROKER_USER) -> Path | None:
    """The folder on the way to `dest_dir` that the broker's user cannot enter (so it would not start), or None."""
    account = _account(user) if user != "root" else None
    return _reachable(Path(dest_dir).absolute(), *account) if account is not None else None


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
    central: Iterable[str] = (CENTRAL_IDENTITY,),
    user: str = BROKER_USER,
) -> Path:
    """Write mosquitto.conf, acl, tls/ and data/ into `dest_dir`; returns the config path (`mosquitto -c` on it).

    `central` lists the certificate names of central's processes: client ids are tied to certificates, so two
    processes (two ingest workers, the command tool) each need a certificate of their own."""
    dest_dir = Path(dest_dir).absolute()
    dest_dir.mkdir(parents=True, exist_ok=True)
    account = _account(user) if os.geteuid() == 0 and user != "root" else None
    here = resources.files(__package__)
    tls = dest_dir / "tls"
    tls.mkdir(exist_ok=True)
    copies = {}
    for name, source in (("ca.crt", ca), ("broker.crt", cert), ("broker.key", key)):
        target = tls / name
        if Path(source).absolute() != target:
            shutil.copyfile(source, target)
        copies[name] = target
    data = dest_dir / "data"
    data.mkdir(exist_ok=True)
    acl = dest_dir / "acl"
    acl.write_text(
        Template(here.joinpath("acl.template.conf").read_text()).substitute(central_blocks=_central_blocks(central))
    )
    conf = dest_dir / "mosquitto.conf"
    conf.write_text(
        Template(here.joinpath("mosquitto.template.conf").read_text()).substitute(
            persistence="true" if persistence else "false",
            data_dir=data,
            max_queued_messages=max_queued_messages,
            acl_file=acl,
            log_dest=log_dest,
            port=port,
            bind=bind,
            ca=copies["ca.crt"],
            cert=copies["broker.crt"],
            key=copies["broker.key"],
            extra=extra,
            user=user,
        )
    )
    # Owner root (or whoever renders), group the broker's: it reads, cannot rewrite its own ACL or key.
    gid = account[1] if account is not None else -1
    for path, mode in (
        (tls, 0o750),
        (copies["ca.crt"], 0o644),
        (copies["broker.crt"], 0o644),
        (copies["broker.key"], 0o640),
        (acl, 0o640),
        (conf, 0o644),
    ):
        if account is not None:
            os.chown(path, -1, gid)
        path.chmod(mode)
    if account is not None:
        os.chown(data, account[0], account[1])  # Mosquitto writes mosquitto.db here
    data.chmod(0o700)
    if log_dest.startswith("file "):
        log_file = Path(log_dest[5:].strip())
        log_file.touch()
        if account is not None:
            os.chown(log_file, account[0], account[1])
    return conf
