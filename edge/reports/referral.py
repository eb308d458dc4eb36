"""The referral package: the report, its parties, statements and timeline as JSON, signed with the station's
Ed25519 referral key so the prosecution can verify it offline.

Signed bytes: the `package` object as canonical JSON (keys sorted, no spaces, UTF-8). The envelope carries the
signer's public key and key id; trusting that key is the verifier's decision (`--public-key`), since a forger can
embed any key: without a trusted key only integrity is proved, not origin."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "markaz.referral/1"


def canonical(package: dict[str, Any]) -> bytes:
    return json.dumps(package, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class ReferralSigner:
    """The station's referral signing key, a file in the keys folder (0600), made on first use."""

    def __init__(self, keys_dir: Path) -> None:
        self.dir = Path(keys_dir)
        self.path = self.dir / "referral-signing.pem"
        self.public_path = self.dir / "referral-signing.pub.pem"

    @cached_property
    def key(self) -> Ed25519PrivateKey:
        if not self.path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            pub = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            self.public_path.write_bytes(pub)
        loaded = serialization.load_pem_private_key(self.path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise RuntimeError(f"{self.path} is not an Ed25519 key")
        return loaded

    def sign(self, package: dict[str, Any]) -> dict[str, Any]:
        public = self.key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "package": package,
            "signature": {
                "alg": "Ed25519",
                "key_id": key_id(public),
                "public_key": base64.b64encode(raw).decode(),
                "value": base64.b64encode(self.key.sign(canonical(package))).decode(),
            },
        }


class ReferralInvalid(Exception):
    """The package is malformed, altered, or not signed by a trusted key."""


@dataclass(frozen=True)
class Verified:
    referral_id: str
    reference: str
    station: str
    key_id: str
    trusted: bool  # signed by one of the keys the verifier was given (False: only integrity was checked)
    package: dict[str, Any]


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ReferralInvalid(f"{path} is not an Ed25519 public key")
    return key


def verify(document: Any, trusted: list[Ed25519PublicKey] | None = None) -> Verified:
    """Check a signed referral document; with `trusted` keys, the signer must be one of them."""
    if not isinstance(document, dict) or set(document) != {"package", "signature"}:
        raise ReferralInvalid("not a referral document: expected exactly 'package' and 'signature'")
    package, sig = document["package"], document["signature"]
    if not isinstance(package, dict) or package.get("format") != FORMAT:
        raise ReferralInvalid(f"package format is not {FORMAT}")
    if not isinstance(sig, dict) or sig.get("alg") != "Ed25519":
        raise ReferralInvalid("signature algorithm must be Ed25519")
    try:
        raw = base64.b64decode(sig["public_key"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw)
        value = base64.b64decode(sig["value"], validate=True)
    except (KeyError, ValueError, TypeError):
        raise ReferralInvalid("signature block is malformed") from None
    if sig.get("key_id") != key_id(public):
        raise ReferralInvalid("key id does not match the public key")
    is_trusted = False
    if trusted is not None:
        is_trusted = any(key_id(k) == key_id(public) for k in trusted)
        if not is_trusted:
            raise ReferralInvalid(f"signed by key {key_id(public)}, which is not a trusted station key")
    try:
        public.verify(value, canonical(package))
    except InvalidSignature:
        raise ReferralInvalid("signature does not match: the package was altered or not signed by this key") from None
    for name in ("referral_id", "reference", "station"):
        if not isinstance(package.get(name), str):
            raise ReferralInvalid(f"package has no {name}")
    return Verified(
        package["referral_id"], package["reference"], package["station"], key_id(public), is_trusted, package
    )
