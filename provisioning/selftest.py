"""Hardware and link self-test of a device after installation or repair: every check named, a JSON report, and the
failed checks named in the exit status of `markaz provision selftest`."""

from __future__ import annotations

import email.utils
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Report:
    role: str
    checks: list[Check] = field(default_factory=list)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    sent: str = "not sent"  # how the outcome went to central (through the edge's outbox), or why it did not

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "at": self.at,
            "ok": self.ok,
            "failed": self.failed,
            "checks": [asdict(c) for c in self.checks],
            "sent_to_central": self.sent,
        }


def _run(report: Report, name: str, fn: Callable[[], tuple[bool, str]]) -> None:
    try:
        ok, detail = fn()
    except Exception as exc:  # a check that crashes is a failed check with its reason, never a crashed self-test
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    report.checks.append(Check(name, ok, detail))


# -- kiosk ------------------------------------------------------------------------------------------------------


def check_reader(pattern: str) -> tuple[bool, str]:
    from smartcard.System import readers

    names = [str(r) for r in readers()]
    match = [n for n in names if pattern in n]
    return (bool(match), f"reader {match[0]!r}" if match else f"no reader matching {pattern!r} among {names}")


def check_test_card(pattern: str, key: tuple[str, str, str] | None, wait_s: float = 5.0) -> tuple[bool, str]:
    """Read the station's test card through the reader as a visitor's card would be read (access with its MRZ key,
    EF.COM, DG1, DG2): the reader, pcscd and the chip path work end to end. Says nothing personal about the card."""
    if key is None:
        return False, "no test card key: give --test-card DOCUMENT:BIRTH:EXPIRY (YYMMDD) of the station's test card"
    from kiosk.card.emrtd import EmrtdSession
    from kiosk.card.errors import AccessDenied, CardError, NoCard
    from kiosk.card.mrz import KeyedMrzSource
    from kiosk.card.reader import PcscReader

    reader = PcscReader(pattern or None)
    started = time.perf_counter()
    try:
        try:
            connection = reader.wait_for_card(wait_s)
        except NoCard:
            return False, f"no card in the reader within {wait_s:g} s: put the test card in"
        try:
            result = EmrtdSession(connection).read(KeyedMrzSource(*key))
        except AccessDenied:
            return False, "the card refused the test card's key: is it the station's test card?"
        except CardError as exc:
            return False, f"test card unreadable: {type(exc).__name__}"
        finally:
            connection.close()
    finally:
        reader.close()
    ms = (time.perf_counter() - started) * 1000
    if result.document_number != key[0]:
        return False, "the card read is not the test card (document number differs)"
    groups = ", ".join(f"DG{n}" for n in result.data_groups)
    photo = "photo" if result.photo.data else "no photo"
    del result
    return True, f"test card read ({groups}; {photo}) in {ms:.0f} ms"


def check_camera(source: str, width: int, height: int, detector: Path) -> tuple[bool, str]:
    """Frames at the expected resolution, with a face the YuNet detector finds (someone stands in front of it)."""
    import cv2

    cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
    try:
        if not cap.isOpened():
            return False, f"camera {source!r} does not open"
        ok, frame = cap.read()
        if not ok:
            return False, f"camera {source!r} delivers no frame"
        h, w = frame.shape[:2]
        if (w, h) != (width, height):
            return False, f"frames are {w}x{h}, profile expects {width}x{height}"
        det = cv2.FaceDetectorYN.create(str(detector), "", (w, h), 0.7)
        _, faces = det.detect(frame)
        n = 0 if faces is None else len(faces)
        return n > 0, f"{w}x{h}, {n} face(s) detected"
    finally:
        cap.release()


TEST_PAGE = b"\x1b@" + b"markaz self-test\n" + b"\n\n\n" + b"\x1dV\x00"  # ESC @ init, text, GS V 0 full cut


def check_printer(uri: str) -> tuple[bool, str]:
    """Print a test page to the ESC/POS sink (a folder for file://, a raw socket for tcp://)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        folder = Path(parsed.path)
        if not folder.is_dir():
            return False, f"printer folder {folder} missing"
        page = folder / f"selftest-{int(time.time() * 1000)}.escpos"
        page.write_bytes(TEST_PAGE)
        return True, f"test page {page}"
    with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 9100), timeout=3) as sock:
        sock.sendall(TEST_PAGE)
    return True, f"test page sent to {parsed.hostname}:{parsed.port}"


def check_edge(identity_dir: Path, edge: str, max_skew_s: float) -> list[Check]:
    """The edge answers over mTLS with this device's certificate; the clocks agree within `max_skew_s`."""
    import httpx

    from provisioning.device import Identity, mtls_context

    identity = Identity(identity_dir)
    if not identity.exists():
        return [Check("edge_mtls", False, f"no identity in {identity_dir}"), Check("clock_skew", False, "no edge")]
    try:
        resp = httpx.get(f"{edge.rstrip('/')}/api/v1/enrolment/self", verify=mtls_context(identity), timeout=10)
    except httpx.HTTPError as exc:
        return [Check("edge_mtls", False, f"{edge}: {exc}"), Check("clock_skew", False, "no edge")]
    ok = resp.status_code == 200
    checks = [Check("edge_mtls", ok, f"{edge}: HTTP {resp.status_code}")]
    date = resp.headers.get("date")
    if date is None:
        checks.append(Check("clock_skew", False, "edge sent no Date header"))
    else:
        skew = abs((email.utils.parsedate_to_datetime(date) - datetime.now(UTC)).total_seconds())
        checks.append(Check("clock_skew", skew <= max_skew_s, f"{skew:.1f} s (bound {max_skew_s} s)"))
    return checks


def check_resources(path: Path, min_disk_mb: float, min_memory_mb: float) -> list[Check]:
    import psutil

    disk = psutil.disk_usage(str(path)).free / 2**20
    mem = psutil.virtual_memory().available / 2**20
    return [
        Check("disk", disk >= min_disk_mb, f"{disk:.0f} MB free at {path} (need {min_disk_mb:.0f})"),
        Check("memory", mem >= min_memory_mb, f"{mem:.0f} MB available (need {min_memory_mb:.0f})"),
    ]


def kiosk_selftest(
    profile: dict[str, Any],
    identity: Path,
    edge: str | None,
    detector: Path,
    test_card: tuple[str, str, str] | None = None,
    max_skew_s: float = 5.0,
    min_disk_mb: float = 200,
    min_memory_mb: float = 200,
) -> Report:
    report = Report("kiosk")
    _run(report, "reader", lambda: check_reader(profile["reader"]["pattern"]))
    _run(report, "test_card", lambda: check_test_card(profile["reader"]["pattern"], test_card))
    cam = profile["camera"]
    _run(report, "camera", lambda: check_camera(str(cam["source"]), cam["width"], cam["height"], detector))
    _run(report, "printer", lambda: check_printer(profile["printer"]["uri"]))
    if edge is not None:
        report.checks.extend(check_edge(identity, edge, max_skew_s))
    report.checks.extend(check_resources(identity if identity.exists() else Path("."), min_disk_mb, min_memory_mb))
    return report


def send_kiosk_report(report: Report, identity_dir: Path, edge: str | None) -> None:
    """The outcome (check names only) to the edge over mTLS; the edge passes it to central as `events/selftest`."""
    import httpx

    from provisioning.device import Identity, mtls_context

    identity = Identity(identity_dir)
    if edge is None or not identity.exists():
        report.sent = "not sent: no edge or no identity"
        return
    body = {"ok": report.ok, "failed": report.failed}
    try:
        resp = httpx.post(
            f"{edge.rstrip('/')}/api/v1/enrolment/self/selftest", json=body, verify=mtls_context(identity), timeout=10
        )
    except httpx.HTTPError as exc:
        report.sent = f"not sent: {type(exc).__name__}"
        return
    report.sent = "sent through the edge" if resp.status_code == 202 else f"not sent: HTTP {resp.status_code}"


# -- edge node --------------------------------------------------------------------------------------------------


def check_broker(url: str, ca: Path, cert: Path, key: Path) -> tuple[bool, str]:
    """A TLS connection with the station's certificate, and an MQTT CONNECT the broker accepts."""
    import paho.mqtt.client as paho

    parsed = urlparse(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"selftest-{os.getpid()}")
    client.tls_set(ca_certs=str(ca), certfile=str(cert), keyfile=str(key), cert_reqs=ssl.CERT_REQUIRED)
    result: list[str] = []
    client.on_connect = lambda c, u, f, rc, p: result.append(str(rc))
    try:
        client.connect(parsed.hostname or "127.0.0.1", parsed.port or 8883, 10)
    except (OSError, ssl.SSLError) as exc:
        return False, f"{url}: {exc}"
    client.loop_start()
    deadline = time.monotonic() + 5
    while not result and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    return (bool(result) and result[0] == "Success"), f"{url}: {result[0] if result else 'no CONNACK'}"


def check_models() -> tuple[bool, str]:
    from models.registry import MANIFEST, MODELS_DIR, check, load_manifest

    entries = load_manifest(MANIFEST).values()
    for entry in entries:
        check(entry, MODELS_DIR)
    return True, f"{len(entries)} model files match the manifest"


def check_writable(folder: Path) -> tuple[bool, str]:
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".selftest-{os.getpid()}"
    probe.write_bytes(b"x")
    os.fsync(os.open(probe, os.O_RDONLY))
    probe.unlink()
    return True, f"{folder} writable"


def edge_selftest(
    data: Path,
    backups: Path,
    mqtt: dict[str, Any] | None,
    config: Path | None = None,
    station: str | None = None,
    min_disk_mb: float = 500,
    min_memory_mb: float = 300,
) -> Report:
    report = Report("edge_node")
    if mqtt is not None:
        _run(report, "broker_mtls", lambda: check_broker(mqtt["url"], mqtt["ca"], mqtt["cert"], mqtt["key"]))
    _run(report, "models", check_models)
    _run(report, "backups_writable", lambda: check_writable(backups))

    def audit() -> tuple[bool, str]:
        from edge.node import EdgeNode
        from edge.settings import EdgeSettings
        from markaz.config import load_settings

        node = EdgeNode(load_settings(EdgeSettings, config, "edge", data_dir=data, station_id=station))
        try:
            verdict = node.audit.verify()
        finally:
            node.store.close()
        return verdict.ok, f"{verdict.entries} entries" if verdict.ok else "; ".join(verdict.problems[:2])

    _run(report, "audit_chain", audit)
    report.checks.extend(check_resources(data, min_disk_mb, min_memory_mb))
    try:  # into the node's outbox: its MQTT link publishes it, now or once the broker is back
        from edge.node import EdgeNode
        from edge.settings import EdgeSettings
        from markaz.config import load_settings

        node = EdgeNode(load_settings(EdgeSettings, config, "edge", data_dir=data, station_id=station))
        try:
            node.telemetry.record_selftest(None, "edge_node", report.ok, report.failed)
        finally:
            node.store.close()
        report.sent = "queued in the node's outbox"
    except Exception as exc:
        report.sent = f"not sent: {type(exc).__name__}: {exc}"
    return report
