"""The station's secrets, kept as files beside (never inside) the database: the document HMAC key, the sign-in
name key, the reports' tracking-PIN key and the audit anchor signing key. Created on first start with owner-only permissions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cached_property
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.store.files import private_dir, restrict, write_private
from edge.verify.documents import normalise_document_number
from markaz.contracts.audit import anchor_key_id


class StationKeys:
    def __init__(self, keys_dir: Path) -> None:
        self.dir = private_dir(Path(keys_dir))
        for existing in self.dir.iterdir():  # public key files written 0644 by older versions
            if existing.is_file():
                restrict(existing)

    @cached_property
    def document_hmac_key(self) -> bytes:
        """Keys the hash of document numbers in the audit log, so the log never holds a number in the clear."""
        path = self.dir / "document-hmac.key"
        if not path.exists():
            write_private(path, secrets.token_bytes(32))
        return path.read_bytes()

    def hash_document(self, document_number: str) -> str:
        """The keyed hash of a document number in its canonical form (raises InvalidDocumentNumber for non-numbers)."""
        canonical = normalise_document_number(document_number)
        return hmac.new(self.document_hmac_key, canonical.encode(), hashlib.sha256).hexdigest()

    @cached_property
    def login_name_key(self) -> bytes:
        """Keys the pseudonym of a name typed at a failed sign-in: people type passwords into the name field, and
        the audit log is append-only, so it keeps only this keyed hash, never the typed text."""
        path = self.dir / "login-name-hmac.key"
        if not path.exists():
            write_private(path, secrets.token_bytes(32))
        return path.read_bytes()

    def pseudonymise_login_name(self, typed: str) -> str:
        digest = hmac.new(self.login_name_key, typed.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return "h:" + digest[:32]

    @cached_property
    def report_pin_key(self) -> bytes:
        """Keys the hash of reports' tracking PINs (the "pepper"): a copied database without this file gives nothing
        to test a PIN against (edge/reports/pins.py says why a keyed hash and not a slow one)."""
        path = self.dir / "report-pin-hmac.key"
        if not path.exists():
            write_private(path, secrets.token_bytes(32))
        return path.read_bytes()

    @cached_property
    def anchor_key(self) -> Ed25519PrivateKey:
        """Signs the audit chain's head; kept outside the database so a database edit cannot re-sign."""
        path = self.dir / "audit-anchor.pem"
        if not path.exists():
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            write_private(path, pem)
            pub = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            (self.dir / "audit-anchor.pub.pem").unlink(missing_ok=True)
            write_private(self.dir / "audit-anchor.pub.pem", pub)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(loaded, Ed25519PrivateKey)
        return loaded

    @property
    def anchor_public_key(self) -> Ed25519PublicKey:
        return self.anchor_key.public_key()

    def existing_anchor_public_key(self) -> Ed25519PublicKey | None:
        """The anchor key's public half without creating a key: checking old anchors needs the key that signed them."""
        if not (self.dir / "audit-anchor.pem").exists():
            return None
        return self.anchor_public_key

    @property
    def anchor_key_id(self) -> str:
        raw = self.anchor_public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return anchor_key_id(raw)

    @property
    def anchor_public_pem(self) -> bytes:
        """The anchor key's public half as PEM: what central registers for this station to check its anchors."""
        return self.anchor_public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
