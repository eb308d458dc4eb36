"""A station enrols with central the way a device enrols with its station: central makes a one-time claim code for
the station id; the edge node makes its MQTT key (it never leaves the node), sends a CSR with the code and gets its
client certificate from the broker CA, registered in the station registry (so the generated ACL and CRL know it).

Claims live beside the CA (`CA.station-claims.json`, only each code's SHA-256). `router` is the endpoint, part of
`markaz central serve --station-ca CA` (one server with the dashboard); `serve_app` wraps it alone for the older
`markaz provision station-enrolment-serve`. The answer names the broker the station is to use, so `station-enrol`
writes the node's whole MQTT link into its settings file.

The node also sends the public half of its audit anchor key: the claim code central's staff made is the proof that
this key is the station's, so central registers it then (central refuses anchors signed by any key it has not
registered), and nobody has to copy the key by hand."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from provisioning import pki
from provisioning.enrolment import code_hash, new_code
from provisioning.stations import StationRegistry

STATION_CERT_OU = "markaz station"
_LOCK = threading.Lock()  # one process serves the claims file; the lock keeps two enrolments from racing on it


class StationClaimRefused(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class StationClaim:
    code_hash: str
    station: str
    expires_at: str
    used_at: str | None = None


@dataclass(frozen=True)
class StationEnrolled:
    station: str
    certificate_pem: str
    ca_pem: str
    serial: str
    not_after: str
    broker: str | None = None


class StationEnrolment:
    def __init__(
        self,
        ca: pki.Issued,
        cert_days: int = 365,
        broker_url: str | None = None,
        register_anchor_key: Callable[[str, str], object] | None = None,
    ) -> None:
        """`broker_url`: the broker stations connect to (told in the answer; None: the station is told by hand).
        `register_anchor_key(station, pem)`: central's registry of anchor keys (raises ValueError for a bad key)."""
        self.ca = ca
        self.broker_url = broker_url
        self.register_anchor_key = register_anchor_key
        self.registry = StationRegistry(ca)
        self.path = Path(ca.cert).with_suffix(".station-claims.json")
        self.cert_days = cert_days

    def _claims(self) -> list[StationClaim]:
        return [StationClaim(**c) for c in json.loads(self.path.read_text())] if self.path.exists() else []

    def _save(self, claims: list[StationClaim]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump([asdict(c) for c in claims], fh, indent=2)
        os.replace(tmp, self.path)

    def create_claim(self, station: str, minutes: float = 60.0) -> tuple[str, dt.datetime]:
        """A one-time code for `station`; a newer code voids an unused older one."""
        from markaz.contracts.ids import check_station_id

        check_station_id(station)
        code = new_code()
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(minutes=minutes)
        with _LOCK:
            claims = self._claims()
            for c in claims:
                if c.station == station and c.used_at is None:
                    c.used_at = now.isoformat()
            claims.append(StationClaim(code_hash(code), station, expires.isoformat()))
            self._save(claims)
        return code, expires

    def enrol(self, code: str, csr_pem: str, anchor_key_pem: str | None = None) -> StationEnrolled:
        """Sign the station's CSR if `code` is a live, unused claim: CN = the claim's station (the CSR's subject is
        ignored), clientAuth, registered; an older certificate of the same station is revoked (a replaced node)."""
        now = dt.datetime.now(dt.UTC)
        with _LOCK:
            claims = self._claims()
            claim = next((c for c in claims if c.code_hash == code_hash(code)), None)
            if claim is None:
                raise StationClaimRefused("unknown", "unknown claim code")
            if claim.used_at:
                raise StationClaimRefused("used", "claim code already used; ask central for a new one")
            if dt.datetime.fromisoformat(claim.expires_at) <= now:
                raise StationClaimRefused("expired", "claim code expired; ask central for a new one")
            try:
                csr = pki.load_csr(csr_pem)
            except pki.BadCsr as exc:
                raise StationClaimRefused("bad_request", str(exc)) from None
            if anchor_key_pem is not None and self.register_anchor_key is not None:
                try:  # before the claim is spent: a bad key leaves the code usable
                    self.register_anchor_key(claim.station, anchor_key_pem)
                except ValueError as exc:
                    raise StationClaimRefused("bad_request", f"anchor key: {exc}") from None
            cert = pki.sign_device(self.ca, csr, claim.station, STATION_CERT_OU, self.cert_days)
            claim.used_at = now.isoformat()
            self._save(claims)
            issued = Path(self.ca.cert).parent / f"station-{claim.station}.crt"  # central keeps the public half only
            issued.write_text(pki.pem(cert))
            entry = self.registry.record(claim.station, issued)
        return StationEnrolled(
            claim.station, pki.pem(cert), Path(self.ca.cert).read_text(), entry.serial, entry.not_after, self.broker_url
        )


class StationEnrolRequest(BaseModel):
    claim: str = Field(min_length=4, max_length=64, description="the one-time code central gave the technician")
    csr: str = Field(min_length=64, max_length=8192, description="PEM request; the key stays on the edge node")
    anchor_key: str | None = Field(
        None, max_length=2048, description="the node's audit anchor public key (PEM, Ed25519), registered for it"
    )


class StationEnrolAnswer(BaseModel):
    station: str
    certificate: str = Field(description="the station's MQTT client certificate (PEM)")
    ca: str = Field(description="the broker CA (PEM): the station trusts the broker by it")
    serial: str
    not_after: str
    broker: str | None = Field(None, description="mqtts://host:port the station connects to")


def router(enrolment: StationEnrolment) -> Any:
    """`POST /api/v1/stations/enrol` with the claim and a CSR (no other credential: the code is the proof)."""
    from fastapi import APIRouter
    from fastapi.responses import JSONResponse

    api = APIRouter(tags=["station enrolment"])

    @api.post("/api/v1/stations/enrol", response_model=StationEnrolAnswer, summary="A station enrols by claim code")
    def enrol(body: StationEnrolRequest) -> Any:
        try:
            done = enrolment.enrol(body.claim, body.csr, body.anchor_key)
        except StationClaimRefused as exc:
            status = 422 if exc.reason == "bad_request" else 401
            return JSONResponse({"error": exc.reason, "detail": str(exc)}, status_code=status)
        return StationEnrolAnswer(
            station=done.station,
            certificate=done.certificate_pem,
            ca=done.ca_pem,
            serial=done.serial,
            not_after=done.not_after,
            broker=done.broker,
        )

    return api


def serve_app(enrolment: StationEnrolment) -> Any:
    """The endpoint alone (the older `station-enrolment-serve`); `markaz central serve --station-ca` serves it too."""
    from fastapi import FastAPI

    app = FastAPI(title="markaz central: station enrolment", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(router(enrolment))

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def enrol_station(central: str, code: str, keys_dir: Path, verify: Any = True) -> dict[str, Any]:
    """On the edge node: make the MQTT key (0600, in the node's keys folder), send the CSR and the audit anchor's
    public key, store certificate and CA."""
    import httpx

    from edge.keys import StationKeys

    keys_dir = Path(keys_dir)
    keys_dir.mkdir(parents=True, exist_ok=True)
    key_path = keys_dir / "mqtt-client.key"
    fresh = keys_dir / "mqtt-client.key.new"
    key = pki.write_private_key(fresh)
    resp = httpx.post(
        f"{central.rstrip('/')}/api/v1/stations/enrol",
        json={
            "claim": code,
            "csr": pki.make_csr(key, "station"),
            "anchor_key": StationKeys(keys_dir).anchor_public_pem.decode(),
        },
        verify=verify,
        timeout=30,
    )
    if resp.status_code != 200:
        fresh.unlink(missing_ok=True)
        try:
            detail = resp.json().get("detail", resp.text)
        except ValueError:
            detail = resp.text
        raise StationClaimRefused(str(resp.status_code), f"central refused the enrolment: {detail}")
    body: dict[str, Any] = resp.json()
    (keys_dir / "mqtt-client.crt").write_text(body["certificate"])
    (keys_dir / "mqtt-ca.crt").write_text(body["ca"])
    os.replace(fresh, key_path)
    return body
