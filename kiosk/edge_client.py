"""The kiosk's side of the edge API: catalogue, face verification, tickets and heartbeats, with its device token.

Each call maps the edge's answers onto what the session understands, so HTTP never reaches the state machine.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kiosk.session.messages import (
    FiledReport,
    Identity,
    IssuedTicket,
    ReportField,
    ReportType,
    Service,
    TrackedReport,
)
from kiosk.session.vocabulary import FaceOutcome, TrackFailure

log = logging.getLogger(__name__)

API = "/api/v1"
# Services that need a verified identity when the edge's catalogue does not say (older edge nodes)
IDENTITY_BY_DEFAULT = frozenset({"report"})


class EdgeUnavailable(RuntimeError):
    """The edge could not be reached or answered with a server error."""


class DeviceDisabled(RuntimeError):
    """The edge refuses this kiosk's token: disabled by central (kiosk.disable) or revoked."""


class EdgeRefused(RuntimeError):
    """The edge refused a request (4xx other than auth); the message is the edge's detail, `detail_ar` its Arabic
    wording when the edge gives one (e.g. a date in the future)."""

    def __init__(self, detail: str, detail_ar: str = "") -> None:
        super().__init__(detail)
        self.detail_ar = detail_ar


class TrackRefused(RuntimeError):
    """The edge would not show the report: why, and how long to wait when it is locked."""

    def __init__(self, failure: TrackFailure, retry_after_s: int = 0) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.retry_after_s = retry_after_s


# The chip's document code -> the edge's document type (ICAO 9303: P passport, I/A/C identity cards)
DOCUMENT_TYPES = {"P": "passport", "I": "id_card", "A": "id_card", "C": "id_card"}


@dataclass(frozen=True)
class VerificationAnswer:
    outcome: FaceOutcome
    reason: str = ""
    attempts_left: int = 0
    verification_id: int | None = None


def read_token(path: Path) -> str:
    """The device token from its file (written at enrolment); a clear error when it is missing or empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"{path}: device token file cannot be read: {exc.strerror}") from None
    if not token:
        raise ValueError(f"{path}: device token file is empty")
    return token


class EdgeClient:
    """HTTP(S) to the edge node; `ca` pins the station CA, `cert`/`key` present the device certificate (mutual TLS,
    then `token` is None: the certificate is the kiosk's identity)."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        ca: Path | None = None,
        cert: Path | None = None,
        key: Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        verify: Any = True
        if ca or (cert and key):
            verify = ssl.create_default_context(cafile=str(ca) if ca else None)
            if cert and key:
                verify.load_cert_chain(str(cert), str(key))
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API,
            headers={"User-Agent": "markaz-kiosk", **({"Authorization": f"Bearer {token}"} if token else {})},
            verify=verify,
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise EdgeUnavailable(f"edge unreachable: {type(exc).__name__}") from None
        if response.status_code == 401:
            raise DeviceDisabled(_detail(response))
        if response.status_code >= 500:
            raise EdgeUnavailable(f"edge answered {response.status_code}: {_detail(response)}")
        return response

    def services(self) -> tuple[Service, ...]:
        response = self._send("GET", "/services")
        if response.status_code != 200:
            raise EdgeRefused(_detail(response))
        return tuple(
            Service(
                code=s["code"],
                name_ar=s["name_ar"],
                name_en=s["name_en"],
                needs_identity=bool(s.get("needs_identity", s["code"] in IDENTITY_BY_DEFAULT)),
            )
            for s in response.json()["services"]
            if s.get("active", True)
        )

    def verify(self, card_photo: bytes, frames: list[bytes], document_number: str) -> VerificationAnswer:
        files = [("card_photo", ("card", card_photo, "application/octet-stream"))]
        files += [("live", (f"live{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
        try:
            response = self._send("POST", "/verifications", files=files, data={"document_number": document_number})
        except EdgeUnavailable as exc:
            return VerificationAnswer(FaceOutcome.UNAVAILABLE, str(exc))
        finally:
            del files
        if response.status_code == 429:
            return VerificationAnswer(FaceOutcome.EXHAUSTED, "attempts_used_up")
        if response.status_code == 422:
            # a live frame the edge cannot use at all: as good as no face
            return VerificationAnswer(FaceOutcome.NO_FACE, "no_face", attempts_left=1)
        if response.status_code != 200:
            return VerificationAnswer(FaceOutcome.UNAVAILABLE, _detail(response))
        body = response.json()
        return VerificationAnswer(
            FaceOutcome(body["decision"]), body["reason"], int(body["attempts_left"]), int(body["verification_id"])
        )

    def issue(self, service: str, verification_id: int | None = None) -> IssuedTicket:
        """A ticket; the visitor's face match goes with it (a service that needs identity is refused without one)."""
        body: dict[str, object] = {"service": service}
        if verification_id is not None:
            body["verification_id"] = verification_id
        response = self._send("POST", "/tickets", json=body)
        if response.status_code != 201:
            raise EdgeRefused(_detail(response))
        t = response.json()
        return IssuedTicket(
            id=t["id"],
            number=t["number"],
            service=t["service"],
            reference=ticket_reference(t["business_day"], t["number"]),
            estimated_wait_s=t.get("estimated_wait_s"),
        )

    def report_types(self) -> tuple[ReportType, ...]:
        """The report types this kiosk may file (the edge lists only kiosk-fileable ones to a kiosk)."""
        response = self._send("GET", "/reports/types")
        if response.status_code != 200:
            raise EdgeRefused(_detail(response))
        return tuple(
            ReportType(
                t["code"],
                t["name_ar"],
                t["name_en"],
                tuple(
                    ReportField(
                        f["name"],
                        f["kind"],
                        f["label_ar"],
                        f["label_en"],
                        bool(f.get("required")),
                        int(f.get("max_length") or 2000),
                    )
                    for f in t["fields"]
                ),
            )
            for t in response.json()["types"]
        )

    def file_report(self, type_code: str, details: dict[str, Any], identity: Identity) -> FiledReport:
        """File for the visitor whose chip and face were just verified here: the chip's identity is the complainant."""
        complainant: dict[str, Any] = {
            "role": "complainant",
            "name": f"{identity.given_names} {identity.surname}".strip(),
            "document_type": DOCUMENT_TYPES.get(identity.document_code[:1], "other"),
            "document_number": identity.document_number,
        }
        if identity.nationality:
            complainant["nationality"] = identity.nationality
        if identity.birth_date:
            complainant["birth_date"] = identity.birth_date
        response = self._send(
            "POST", "/reports", json={"type": type_code, "details": details, "complainant": complainant}
        )
        if response.status_code != 201:
            raise EdgeRefused(_detail(response), _detail_ar(response))
        r = response.json()
        return FiledReport(r["reference"], r["pin"], r["type"], r["filed_at"], r["next_step_ar"], r["next_step_en"])

    def track(self, reference: str, pin: str) -> TrackedReport:
        try:  # not through _send: here a 401 is the visitor's wrong PIN, not this kiosk's token
            response = self._http.request("POST", "/reports/track", json={"reference": reference, "pin": pin})
        except httpx.HTTPError:
            raise TrackRefused(TrackFailure.UNAVAILABLE) from None
        if response.status_code == 429:
            retry = response.headers.get("retry-after", "0")
            raise TrackRefused(TrackFailure.LOCKED, int(retry) if retry.isdigit() else 0)
        if response.status_code == 422:
            raise TrackRefused(TrackFailure.MISTYPED)
        if response.status_code in (401, 404):
            raise TrackRefused(TrackFailure.WRONG)
        if response.status_code != 200:
            raise TrackRefused(TrackFailure.UNAVAILABLE)
        v = response.json()
        return TrackedReport(
            reference=v["reference"],
            type_name_ar=v["type_name_ar"],
            type_name_en=v["type_name_en"],
            state=v["state"],
            filed_at=v["filed_at"],
            state_since=v["state_since"],
            next_step_ar=v["next_step_ar"],
            next_step_en=v["next_step_en"],
            steps=tuple((s["state"], s["at"]) for s in v["steps"]),
            outcome=v.get("outcome"),
            referral=v.get("referral"),
            case_number=v.get("case_number"),
        )

    def cancel(self, ticket_id: int) -> None:
        self._send("POST", f"/tickets/{ticket_id}/cancel")

    def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self._send("POST", "/devices/heartbeat", json=body)
        if response.status_code != 200:
            raise EdgeRefused(_detail(response))
        result: dict[str, Any] = response.json()
        return result

    def desired_profile(self) -> dict[str, Any] | None:
        """The profile the edge wants on this kiosk: version, sha256 and the profile itself (None: none set)."""
        response = self._send("GET", "/profiles/self")
        if response.status_code != 200:
            raise EdgeRefused(_detail(response))
        body: dict[str, Any] | None = response.json()
        return body

    def report_profile(self, body: dict[str, Any]) -> None:
        """What this kiosk did with its desired profile: answers, version in force, outcome, reasons."""
        response = self._send("POST", "/profiles/self/report", json=body)
        if response.status_code != 200:
            raise EdgeRefused(_detail(response))


def ticket_reference(business_day: str, number: str) -> str:
    """What the receipt's QR holds: the ticket's business day and number, unique within the station."""
    return f"{business_day}/{number}"


def _detail_ar(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("detail_ar") or "")[:300] if isinstance(body, dict) else ""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or body)[:200]
    return str(body)[:200]
