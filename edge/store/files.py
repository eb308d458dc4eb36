"""Owner-only files: everything the node keeps in its data folder holds password and token hashes, the audit log or
keys, so each file is created 0600 (folders 0700) whatever the process umask, and made so again when found wider.

SQLite creates `-wal`, `-shm` and `-journal` with the permissions of the database file itself, so a database created
0600 here keeps its companions 0600 too.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) owner-only, and make an existing one owner-only: it is the node's own."""
    path = Path(path)
    if not path.exists():
        path.mkdir(parents=True, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)
    return path


def restrict(path: Path) -> None:
    """Make an existing file owner-only (files written by an older version, or copied in)."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return
    if mode != FILE_MODE:
        os.chmod(path, FILE_MODE)


def create_private(path: Path) -> None:
    """Create an empty owner-only file if none exists (before a library opens it with the umask's permissions)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    restrict(path)


def write_private(path: Path, data: bytes) -> None:
    """Write a new owner-only file and make it durable; refuses to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(Path(path).parent)


def append_durably(path: Path, data: bytes) -> None:
    """Append `data` in one write to an owner-only file and fsync it (and its folder when the file is new), so what
    is acknowledged survives a power cut."""
    path = Path(path)
    new = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        if new:
            os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a file's creation or rename durable: on Linux the folder entry needs its own fsync."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
