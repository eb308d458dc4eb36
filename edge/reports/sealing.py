"""Personal data sealed field by field with AES-256-GCM; the key is a file in the station's keys folder (0600),
never in the database. Each ciphertext is bound (as associated data) to its table, column and row, so a sealed
name moved to another report or column no longer opens."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "g1"


def _private_key_file(path: Path, size: int) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
    data = path.read_bytes()
    if len(data) != size:
        raise RuntimeError(f"{path}: expected a {size}-byte key")
    return data


class SealError(Exception):
    """A sealed value that does not open: wrong key, or moved from where it was sealed."""


class Sealer:
    def __init__(self, keys_dir: Path) -> None:
        self.key_path = Path(keys_dir) / "reports-data.key"
        self._aead = AESGCM(_private_key_file(self.key_path, 32))

    def seal(self, value: Any, where: str) -> str | None:
        """`value` (JSON-able; None stays None) sealed for `where` (e.g. "report_parties.name_ct:12")."""
        if value is None:
            return None
        nonce = secrets.token_bytes(12)
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        ct = self._aead.encrypt(nonce, plain, where.encode())
        return f"{_VERSION}:{base64.b64encode(nonce + ct).decode()}"

    def open(self, sealed: str | None, where: str) -> Any:
        if sealed is None:
            return None
        version, _, body = sealed.partition(":")
        if version != _VERSION:
            raise SealError(f"unknown sealing version {version!r}")
        raw = base64.b64decode(body)
        try:
            plain = self._aead.decrypt(raw[:12], raw[12:], where.encode())
        except InvalidTag:
            raise SealError(f"sealed value for {where} does not open (wrong key or moved)") from None
        return json.loads(plain)
