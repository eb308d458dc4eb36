"""The device's side of its identity: make the key here, send a CSR, keep the certificate and chain, renew in time.

Files in the identity folder: `device.key` (0600, never sent anywhere), `device.crt`, `chain.pem` (station
intermediate, then root) and `identity.json` (device id, edge URL, serial, expiry)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from cryptography import x509

from provisioning import pki


class EnrolFailed(Exception):
    """The edge refused (its message is kept) or could not be reached."""


@dataclass(frozen=True)
class Identity:
    dir: Path

    @property
    def key(self) -> Path:
        return self.dir / "device.key"

    @property
    def cert(self) -> Path:
        return self.dir / "device.crt"

    @property
    def chain(self) -> Path:
        return self.dir / "chain.pem"

    @property
    def meta(self) -> Path:
        return self.dir / "identity.json"

    def exists(self) -> bool:
        return self.key.exists() and self.cert.exists() and self.chain.exists()

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())

    def root_pem(self) -> Path:
        """The last certificate of the chain (the root): what the device trusts the edge's server certificate by."""
        return self.dir / "root-ca.crt"

    def httpx_cert(self) -> tuple[str, str]:
        return (str(self.cert), str(self.key))

    def wipe(self) -> None:
        """Decommissioning: overwrite and delete the private key, then the rest."""
        if self.key.exists():
            size = self.key.stat().st_size
            with open(self.key, "r+b") as fh:
                fh.write(b"\0" * size)
            self.key.unlink()
        for path in (self.cert, self.chain, self.meta, self.root_pem()):
            path.unlink(missing_ok=True)


def _error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        detail = body.get("detail") or body.get("message")
        return detail if isinstance(detail, str) else resp.text
    except ValueError:
        return resp.text


def _store(identity: Identity, result: dict, edge: str) -> None:
    identity.cert.write_text(result["certificate"])
    identity.chain.write_text(result["chain"])
    certs = x509.load_pem_x509_certificates(result["chain"].encode())
    identity.root_pem().write_text(pki.pem(certs[-1]))
    identity.meta.write_text(
        json.dumps(
            {
                "device_id": result["device_id"],
                "type": result["device_type"],
                "edge": edge,
                "serial": result["serial"],
                "not_after": result["not_after"],
            },
            indent=2,
        )
    )


def enrol(
    edge: str,
    code: str,
    out: Path,
    verify: bool | str = True,
    model: str | None = None,
    serial: str | None = None,
    wait_s: float = 0.0,
    poll_s: float = 2.0,
) -> dict:
    """Enrol with `code`; with approval required, poll up to `wait_s` seconds. Returns the edge's answer."""
    identity = Identity(Path(out))
    # Reuse a key made by an earlier, pending attempt: the approval is for that key.
    key = pki.load_private_key(identity.key) if identity.key.exists() else pki.write_private_key(identity.key)
    body = {"claim": code, "csr": pki.make_csr(key, "enrolling"), "model": model, "serial": serial}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            resp = httpx.post(f"{edge.rstrip('/')}/api/v1/enrolment", json=body, verify=verify, timeout=15)
        except httpx.HTTPError as exc:
            raise EnrolFailed(f"edge {edge} not reachable: {exc}") from None
        if resp.status_code == 200:
            result = resp.json()
            _store(identity, result, edge)
            return result
        if resp.status_code == 202:
            if time.monotonic() >= deadline:
                return resp.json()
            time.sleep(poll_s)
            continue
        raise EnrolFailed(f"edge refused ({resp.status_code}): {_error(resp)}")


def needs_renewal(identity: Identity, margin_days: float, now: datetime | None = None) -> bool:
    left = identity.certificate().not_valid_after_utc - (now or datetime.now(UTC))
    return left < timedelta(days=margin_days)


def renew(identity: Identity, edge: str) -> dict:
    """Ask the edge for a new certificate over mTLS with the current one, under a new key (the old key is replaced
    only once the new certificate is stored)."""
    new_key_path = identity.dir / "device.key.new"
    key = pki.write_private_key(new_key_path)
    import ssl

    ctx = ssl.create_default_context(cafile=str(identity.root_pem()))
    ctx.load_cert_chain(str(identity.cert), str(identity.key))
    try:
        resp = httpx.post(
            f"{edge.rstrip('/')}/api/v1/enrolment/renew",
            json={"csr": pki.make_csr(key, "renewing")},
            verify=ctx,
            timeout=15,
        )
    except httpx.HTTPError as exc:
        new_key_path.unlink(missing_ok=True)
        raise EnrolFailed(f"edge {edge} not reachable: {exc}") from None
    if resp.status_code != 200:
        new_key_path.unlink(missing_ok=True)
        raise EnrolFailed(f"edge refused renewal ({resp.status_code}): {_error(resp)}")
    result = resp.json()
    new_key_path.replace(identity.key)
    _store(identity, result, edge)
    return result


def check_standing(identity: Identity, edge: str) -> str:
    """Ask the edge whether this device is still in service; a decommissioned device wipes its keys at once, and
    one whose certificate is inside the edge's renewal margin renews it (automatic renewal: run it periodically)."""
    try:
        resp = httpx.get(f"{edge.rstrip('/')}/api/v1/enrolment/self", verify=mtls_context(identity), timeout=15)
    except httpx.HTTPError as exc:
        raise EnrolFailed(f"edge {edge} not reachable over mTLS: {exc}") from None
    if resp.status_code == 410:
        identity.wipe()
        return "wiped"
    if resp.status_code != 200:
        raise EnrolFailed(f"edge refused ({resp.status_code}): {_error(resp)}")
    body = resp.json()
    if body.get("renew"):
        renew(identity, edge)
        return f"{body['state']}, renewed"
    return str(body["state"])


def mtls_context(identity: Identity):
    """An SSL context presenting the device's certificate and trusting the root of its chain."""
    import ssl

    ctx = ssl.create_default_context(cafile=str(identity.root_pem()))
    ctx.load_cert_chain(str(identity.cert), str(identity.key))
    return ctx
