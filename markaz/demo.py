"""`markaz demo`: one whole station on this machine, every part started for real, with its URLs printed.

Each part runs as its own process, as in a station and its centre:
- a station PKI (CA, broker, central and station certificates) made on the first run;
- Mosquitto with a TLS listener that requires client certificates and the markaz ACL;
- central, ingesting the station's telemetry and serving its dashboard;
- the edge node (HTTP API) with the sample catalogue, an admin, an officer and a kiosk, publishing over mTLS;
- a card reader: a private pcscd with Debian's vpcd driver and our virtual ePassport inserted in it;
- a kiosk agent on that reader, with a camera video of the passport's holder and a printer sink that keeps each
  receipt as a PNG (Chromium opens it in kiosk mode when a display exists);
- the hall: counter, supervisor and display screens, a demo display device and a trickle of visitors.
A little traffic is made so the KPIs and the dashboard show something. Ctrl-C stops everything."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from markaz import demo_hall

STATION = "demo-station"
DEMO_MRZ_FIELDS = dict(
    issuing_state="UTO",
    surname="ERIKSSON",
    given_names="ANNA MARIA",
    document_number="L898902C3",
    nationality="UTO",
    birth_date="740812",
    sex="F",
    expiry_date="341231",
)
REPO = Path(__file__).resolve().parent.parent
# The kiosk's demo visitor: the chip holds one photo of them and the camera "sees" another (tests/data/faces).
DEMO_HOLDER_CHIP = REPO / "tests" / "data" / "faces" / "obama_1.jpg"
DEMO_HOLDER_CAMERA = REPO / "tests" / "data" / "faces" / "obama_2.jpg"


def _port(preferred: int) -> int:
    """The preferred port if free (0: any free port)."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: {what} exited early; its log:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {what} did not come up in {seconds:.0f} s; see {log}")


def _http_ok(url: str) -> bool:
    import httpx

    return httpx.get(url, timeout=1).status_code == 200


def _tcp_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Station:
    data: Path
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)
    testbed: object | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def markaz(self) -> str:
        return str(Path(sys.executable).parent / "markaz")

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
        log = self.data / f"{name}.log"
        proc = subprocess.Popen(
            argv, stdout=log.open("ab"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.procs.append((name, proc))
        return proc, log

    def stop(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.testbed is not None:
            self.testbed.stop()
            self.testbed.cleanup()

    # -- parts ---------------------------------------------------------------------------------------------------
    def pki(self) -> dict[str, Path]:
        from provisioning.pki import CENTRAL_IDENTITY, issue, make_ca

        d = self.data / "pki"
        if not (d / "ca.key").exists():
            ca = make_ca(d / "ca", "markaz demo CA")
            issue(ca, d / "broker", "localhost", server=True, hosts=("localhost", "127.0.0.1"))
            issue(ca, d / f"station-{STATION}", STATION)
            issue(ca, d / "central", CENTRAL_IDENTITY)
        return {"ca": d / "ca.crt", "dir": d}

    def broker(self, pki: dict[str, Path], port: int) -> str:
        from provisioning import broker

        mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        # the demo's folder lives in the work tree, which the `mosquitto` user may not be able to enter
        user = "root" if os.geteuid() == 0 else broker.BROKER_USER
        d = pki["dir"]
        conf = broker.render(
            self.data / "broker",
            port,
            pki["ca"],
            d / "broker.crt",
            d / "broker.key",
            bind="127.0.0.1",
            log_dest=f"file {self.data / 'broker' / 'mosquitto.log'}",
            user=user,
        )
        proc, log = self.spawn("broker", [mosquitto, "-c", str(conf)])
        _wait(lambda: _tcp_open(port), "Mosquitto", proc, log)
        url = f"mqtts://127.0.0.1:{port}"
        self.lines.append(f"  MQTT broker (mTLS)   {url}  (Mosquitto; CA {pki['ca']})")
        return url

    def central(self, pki: dict[str, Path], mqtt: str, port: int) -> str:
        d = pki["dir"]
        proc, log = self.spawn(
            "central",
            [
                self.markaz,
                "central",
                "serve",
                "--mqtt",
                mqtt,
                "--mqtt-ca",
                str(pki["ca"]),
                "--mqtt-cert",
                str(d / "central.crt"),
                "--mqtt-key",
                str(d / "central.key"),
                "--db",
                str(self.data / "central.sqlite"),
                "--port",
                str(port),
            ],
        )
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _http_ok(base + "/signin"), "central", proc, log)
        self.lines.append(
            f"  central dashboard    {base}/   (operator central; central_password in the credentials file)"
        )
        return base

    def edge(self, pki: dict[str, Path], mqtt: str | None, port: int) -> str:
        d = pki["dir"]
        argv = [
            self.markaz,
            "edge",
            "serve",
            "--data",
            str(self.data / "edge"),
            "--port",
            str(port),
            "--sample-data",
            "--station",
            STATION,
        ]
        if mqtt:
            argv += [
                "--mqtt",
                mqtt,
                "--mqtt-ca",
                str(pki["ca"]),
                "--mqtt-cert",
                str(d / f"station-{STATION}.crt"),
                "--mqtt-key",
                str(d / f"station-{STATION}.key"),
            ]
        proc, log = self.spawn("edge", argv)
        base = f"http://127.0.0.1:{port}"
        _wait(lambda: _http_ok(base + "/healthz"), "the edge node", proc, log)
        edge_data = self.data / "edge"
        self.lines += [
            f"  edge node API docs   {base}/api/v1/docs",
            f"  edge health          {base}/healthz   metrics {base}/metrics",
            f"  staff sign-in        POST {base}/api/v1/auth/login  (admin / officer: {self.data / 'demo-credentials.txt'})",
            f"  KPIs                 {self.markaz} edge kpis --data {edge_data}",
            f"  audit check          {self.markaz} edge audit verify --data {edge_data}",
        ]
        return base

    def card_photo(self) -> Path:
        """The holder's portrait at the size real chips hold (10-20 KB), for the virtual passport."""
        import cv2

        path = self.data / "kiosk" / "chip-photo.jpg"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            image = cv2.imread(str(DEMO_HOLDER_CHIP))
            scale = 320 / max(image.shape[:2])
            small = cv2.resize(
                image, (int(image.shape[1] * scale), int(image.shape[0] * scale)), interpolation=cv2.INTER_AREA
            )
            cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, 85])
        return path

    def kiosk(self, edge: str, creds: dict[str, str], port: int) -> None:
        """The kiosk agent on the virtual reader, a camera video of the holder, a printer sink writing PNG receipts."""
        from kiosk.hardware.videos import still_video

        if self.testbed is None:
            self.lines.append("  kiosk                not started: no card reader")
            return
        folder = self.data / "kiosk"
        folder.mkdir(parents=True, exist_ok=True)
        token = folder / "device-token"
        if not token.exists():
            fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(creds["kiosk_token"])
        video = folder / "camera.avi"
        if not video.exists():
            still_video(video, [DEMO_HOLDER_CAMERA], seconds_each=2.0, fps=15)
        receipts = self.data / "receipts"
        printer_port = _port(9100)
        proc, log = self.spawn(
            "printer", [sys.executable, "-m", "kiosk.hardware.escpos_sink", str(printer_port), str(receipts)]
        )
        _wait(lambda: _tcp_open(printer_port), "the printer sink", proc, log, 30)
        import tomli_w

        config = folder / "kiosk.toml"
        config.write_text(
            tomli_w.dumps(
                {
                    "kiosk": {
                        "edge": edge,
                        "device_token_file": str(token),
                        "camera": str(video),
                        "printer": f"tcp://127.0.0.1:{printer_port}",
                        "csca": str(self.data / "card-pki" / "csca.pem"),
                        "port": port,
                        "station_name_ar": "مركز الشرطة التجريبي",
                        "station_name_en": "Demo police station",
                    }
                }
            )
        )
        proc, log = self.spawn(
            "kiosk",
            [self.markaz, "kiosk", "run", "--config", str(config)],
            env={"PCSCLITE_CSOCK_NAME": str(self.testbed.socket_path)},
        )
        url = f"http://127.0.0.1:{port}/"
        _wait(lambda: _http_ok(url + "healthz"), "the kiosk agent", proc, log)
        f = DEMO_MRZ_FIELDS
        self.lines += [
            f"  kiosk (touch UI)     {url}   key in {f['document_number']} / {f['birth_date']} / {f['expiry_date']}",
            f"  printed receipts     {receipts}/receipt-*.png",
        ]
        chromium = shutil.which("chromium")
        if chromium and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            self.spawn(
                "chromium",
                [
                    chromium,
                    "--kiosk",
                    "--no-first-run",
                    "--disable-sync",
                    "--disable-background-networking",
                    f"--user-data-dir={folder / 'chromium'}",
                    url,
                ],
            )
            self.lines.append("  Chromium             opened in kiosk mode on this display")

    def card_reader(self) -> None:
        from kiosk.card.mrz import compose_td3
        from kiosk.card.testbed import PcscdTestbed, TestbedError

        try:
            self.testbed = PcscdTestbed(rundir=self.data / "pcscd").start()
        except (TestbedError, OSError) as exc:
            self.lines.append(f"  card reader          not started: {exc}")
            return
        mrz = compose_td3(**DEMO_MRZ_FIELDS)
        pki = self.data / "card-pki"
        proc, log = self.spawn(
            "card",
            [
                self.markaz,
                "kiosk",
                "card",
                "emulate",
                "--mrz",
                mrz,
                "--photo",
                str(self.card_photo()),
                "--pki",
                str(pki),
                "--port",
                str(self.testbed.port),
            ],
        )
        csca = pki / "csca.pem"  # the test CSCA the emulator creates with its Document Signer
        _wait(csca.exists, "the virtual card", proc, log, 30)
        f = DEMO_MRZ_FIELDS
        self.lines += [
            "  card reader          pcscd + vpcd with a virtual ePassport inserted; read it with:",
            f"    PCSCLITE_CSOCK_NAME={self.testbed.socket_path} {self.markaz} kiosk card read "
            f"--doc-number {f['document_number']} --birth {f['birth_date']} --expiry {f['expiry_date']} --csca {csca} --json",
        ]


def _bootstrap(edge_data: Path, creds_file: Path) -> dict[str, str]:
    """First run only: an admin, an officer and a kiosk, their secrets kept in a file only the owner can read."""
    if creds_file.exists():
        return dict(line.split("=", 1) for line in creds_file.read_text().splitlines() if "=" in line)
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    node = EdgeNode(load_settings(EdgeSettings, data_dir=edge_data, sample_data=True, station_id=STATION))
    creds = {"admin_password": secrets.token_urlsafe(12), "officer_password": secrets.token_urlsafe(12)}
    try:
        node.auth.add_user("admin", creds["admin_password"], "admin")
        node.auth.add_user("officer", creds["officer_password"], "officer")
        creds["kiosk_token"] = node.auth.add_device("kiosk-1", "kiosk")
    finally:
        node.close()
    fd = os.open(creds_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("".join(f"{k}={v}\n" for k, v in creds.items()))
    return creds


def _central_staff(central_db: Path, creds: dict[str, str], creds_file: Path) -> dict[str, str]:
    """Once: a central operator for the dashboard (also on a demo folder made before central had sign-in)."""
    if "central_password" in creds:
        return creds
    from central.staff.service import StaffService
    from central.store import CentralStore

    creds["central_password"] = secrets.token_urlsafe(12)
    store = CentralStore(central_db)
    try:
        StaffService(store.db).add_user("central", creds["central_password"], "central_operator", actor="demo")
    finally:
        store.close()
    fd = os.open(creds_file, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a") as fh:
        fh.write(f"central_password={creds['central_password']}\n")
    return creds


def _register_anchor_key(edge_data: Path, central_db: Path) -> None:
    """Central checks every audit anchor with the key it holds for the station: the demo registers its station's
    (as provisioning would), so the anchors it sends are kept, not refused."""
    from central.anchors import add_key
    from central.store import CentralStore
    from edge.keys import StationKeys
    from edge.settings import EdgeSettings
    from markaz.config import load_settings

    settings = load_settings(EdgeSettings, data_dir=edge_data, station_id=STATION)
    store = CentralStore(central_db)
    try:
        add_key(store, STATION, StationKeys(settings.keys_dir).anchor_public_pem, "demo")
    finally:
        store.close()


def _some_traffic(base: str, creds: dict[str, str]) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=10) as c:
        kiosk = {"Authorization": f"Bearer {creds['kiosk_token']}"}
        if c.get("/api/v1/tickets", headers=kiosk).json()["tickets"]:
            return
        token = c.post(
            "/api/v1/auth/login", json={"username": "officer", "password": creds["officer_password"]}
        ).json()["token"]
        officer = {"Authorization": f"Bearer {token}"}
        for service in ("general", "report", "general", "follow-up", "general"):
            # a report ticket needs a verified identity at a kiosk: these walk-ins are issued at the desk
            c.post("/api/v1/tickets", json={"service": service}, headers=officer if service == "report" else kiosk)
        t = c.post("/api/v1/counters/1/call-next", headers=officer).json()
        c.post(f"/api/v1/tickets/{t['id']}/start", headers=officer)


def demo(
    data: Annotated[Path, typer.Option("--data", help="where the demo station keeps its files")] = Path("var/demo"),
    port: Annotated[int, typer.Option(help="edge node HTTP port (another is picked if taken)")] = 8080,
    central_port: Annotated[int, typer.Option(help="central dashboard port (another is picked if taken)")] = 8090,
    mqtt_port: Annotated[int, typer.Option(help="MQTT broker TLS port (another is picked if taken)")] = 8883,
    duration: Annotated[float, typer.Option(help="stop after this many seconds (0 = until Ctrl-C)")] = 0,
    kiosk_port: Annotated[int, typer.Option(help="kiosk UI port (another is picked if taken)")] = 8700,
) -> None:
    """Run a demo station: broker, central, the edge node with sample services, and a card reader with a
    virtual ePassport, printing their URLs."""
    data = data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    station = Station(data)
    creds = _bootstrap(data / "edge", data / "demo-credentials.txt")
    creds = demo_hall.ensure_display(data / "edge", creds, data / "demo-credentials.txt")
    creds = _central_staff(data / "central.sqlite", creds, data / "demo-credentials.txt")
    _register_anchor_key(data / "edge", data / "central.sqlite")
    trickle = None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        pki = station.pki()
        mqtt = station.broker(pki, _port(mqtt_port))
        station.central(pki, mqtt, _port(central_port))
        edge = station.edge(pki, mqtt, _port(port))
        _some_traffic(edge, creds)
        station.lines += demo_hall.lines(edge, data / "demo-credentials.txt")
        trickle = demo_hall.Trickle(edge, creds)
        trickle.start()
        station.card_reader()
        station.kiosk(edge, creds, _port(kiosk_port))
        typer.echo(
            "\n".join(
                [
                    "",
                    f"markaz demo station is running (station id: {STATION})",
                    *station.lines,
                    f"  logs                 {data}/*.log",
                    "Press Ctrl-C to stop.",
                ]
            )
        )
        deadline = time.monotonic() + duration if duration else None
        while deadline is None or time.monotonic() < deadline:
            for name, proc in station.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"demo: {name} stopped; see {data / (name + '.log')}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if trickle is not None:
            trickle.stop()
        station.stop()
        typer.echo("demo stopped")
