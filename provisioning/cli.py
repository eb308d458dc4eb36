"""`markaz provision ...`: the technicians' tools."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from edge.auth.principal import Principal

app = typer.Typer(help="Technicians' tools: station PKI, enrolment, broker credentials.", no_args_is_help=True)

CaOpt = Annotated[Path, typer.Option("--ca", help="CA path without suffix (reads CA.crt and CA.key)")]
BROKER_URL_HELP = "the broker stations connect to (mqtts://host:port), told to each station as it enrols"


def _ca(ca: Path):
    from provisioning.pki import Issued

    issued = Issued(ca.with_suffix(".crt"), ca.with_suffix(".key"))
    if not issued.cert.exists() or not issued.key.exists():
        typer.echo(f"{issued.cert} / {issued.key}: CA not found (create it with `markaz provision ca`)", err=True)
        raise typer.Exit(2)
    return issued


@app.command("ca")
def ca_cmd(
    out: Annotated[Path, typer.Option("--out", help="path without suffix: writes OUT.crt and OUT.key")] = Path(
        "pki/ca"
    ),
    name: Annotated[str, typer.Option(help="common name of the CA")] = "markaz station CA",
) -> None:
    """Create the CA that signs the broker's, central's and every station's MQTT certificates."""
    from provisioning.pki import make_ca

    if out.with_suffix(".key").exists():
        typer.echo(f"{out.with_suffix('.key')} exists: refusing to replace a CA", err=True)
        raise typer.Exit(1)
    issued = make_ca(out, name)
    typer.echo(f"CA: {issued.cert} (key {issued.key}, keep it offline)")


@app.command("station-cert")
def station_cert(
    station: Annotated[str, typer.Option("--station", help="station id: the certificate's CN and broker user name")],
    ca: CaOpt = Path("pki/ca"),
    out: Annotated[Path | None, typer.Option("--out", help="path without suffix")] = None,
) -> None:
    """A client certificate for a station's edge node (the ACL lets it write only under markaz/v1/STATION/)."""
    from markaz.contracts.ids import InvalidId, check_station_id
    from provisioning.pki import issue

    try:
        check_station_id(station)
    except InvalidId as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    from provisioning.stations import StationRegistry

    authority = _ca(ca)
    issued = issue(authority, out or ca.parent / f"station-{station}", station)
    StationRegistry(authority).record(station, issued.cert)
    typer.echo(f"station {station}: {issued.cert} {issued.key} (registered; regenerate the ACL: broker-acl)")


@app.command("station-claim")
def station_claim(
    station: Annotated[str, typer.Option("--station", help="station id: its MQTT certificate's CN")],
    ca: CaOpt = Path("pki/ca"),
    minutes: Annotated[float, typer.Option("--minutes", min=1, help="how long the code is valid")] = 60.0,
) -> None:
    """At central: a one-time claim code a station's edge node enrols with (`station-enrol`); the code last."""
    from markaz.contracts.ids import InvalidId
    from provisioning.station_enrolment import StationEnrolment

    try:
        code, expires = StationEnrolment(_ca(ca)).create_claim(station, minutes)
    except InvalidId as exc:
        _fail(str(exc), 2)
    typer.echo(f"station {station}, valid until {expires:%Y-%m-%d %H:%M} UTC:")
    typer.echo(code)


@app.command("station-enrolment-serve")
def station_enrolment_serve(
    ca: CaOpt = Path("pki/ca"),
    host: Annotated[str, typer.Option("--host")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port")] = 8444,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="serve HTTPS with this certificate")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key")] = None,
    cert_days: Annotated[int, typer.Option("--cert-days", min=1, max=825)] = 365,
    broker_url: Annotated[str | None, typer.Option("--broker-url", help=BROKER_URL_HELP)] = None,
) -> None:
    """At central, alone: the endpoint stations enrol on (`POST /api/v1/stations/enrol`). `markaz central serve
    --station-ca CA` serves the same endpoint beside the dashboard; this command stays for existing set-ups."""
    import uvicorn

    from provisioning.station_enrolment import StationEnrolment, serve_app

    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together", 2)
    app_ = serve_app(StationEnrolment(_ca(ca), cert_days, broker_url))
    ssl = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} if tls_cert else {}
    uvicorn.run(app_, host=host, port=port, log_level="info", **ssl)  # type: ignore[arg-type]


@app.command("station-enrol")
def station_enrol(
    central: Annotated[str, typer.Option("--central", help="central's URL (its station enrolment endpoint)")],
    claim: Annotated[str, typer.Option("--claim", help="the one-time code from central")],
    data: DataOpt,
    central_ca: Annotated[Path | None, typer.Option("--central-ca", help="CA of central's HTTPS certificate")] = None,
    config: Annotated[Path, typer.Option("--config", help="the node's settings file to write [edge.mqtt] into")] = Path(
        "/etc/markaz/edge.toml"
    ),
    broker: Annotated[str | None, typer.Option("--broker", help="mqtts://host:port, if central names none")] = None,
) -> None:
    """On the edge node: make the MQTT key (it stays in DATA/keys), enrol with central, store the certificate, and
    write the station id and the MQTT link (broker URL, CA, certificate, key) into --config (other settings and
    comments kept, the previous file as CONFIG.bak)."""
    import ssl

    import httpx

    from markaz.config import ConfigError
    from provisioning.settings_file import write_mqtt_settings
    from provisioning.station_enrolment import StationClaimRefused, enrol_station

    keys = (data / "keys").resolve()
    verify = ssl.create_default_context(cafile=str(central_ca)) if central_ca else True
    try:
        body = enrol_station(central, claim, keys, verify=verify)
    except StationClaimRefused as exc:
        _fail(str(exc))
    except httpx.HTTPError as exc:
        _fail(f"central unreachable: {type(exc).__name__}: {exc}")
    url = broker or body.get("broker")
    typer.echo(f"station {body['station']}: MQTT certificate {body['serial']} valid until {body['not_after']}")
    if not url:
        _fail(f"central named no broker: run again with --broker mqtts://HOST:PORT (certificate kept in {keys})")
    try:
        written = write_mqtt_settings(
            config, body["station"], url, keys / "mqtt-ca.crt", keys / "mqtt-client.crt", keys / "mqtt-client.key"
        )
    except (ConfigError, ValueError, OSError) as exc:
        _fail(f"{config} not changed: {exc} (certificate kept in {keys})")
    if written.station_was:
        typer.echo(f"warning: {config} named station {written.station_was}; it is now {body['station']}", err=True)
    if written.changed:
        typer.echo(f"wrote [edge.mqtt] of {config}" + (f" (previous file: {written.backup})" if written.backup else ""))
    else:
        typer.echo(f"{config} already has these MQTT settings")


@app.command("revoke-station")
def revoke_station(
    station: Annotated[str, typer.Option("--station", help="station id")],
    ca: CaOpt = Path("pki/ca"),
) -> None:
    """Revoke a station's MQTT certificate: the CRL (Mosquitto `crlfile`) is rewritten; restart or reload the broker."""
    from provisioning.stations import StationRegistry

    registry = StationRegistry(_ca(ca))
    try:
        serials = registry.revoke(station)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"station {station}: revoked {', '.join(serials)}; CRL {registry.crl_path}")


@app.command("broker-acl")
def broker_acl(
    out: Annotated[Path, typer.Option("--out", help="ACL file to write")],
    ca: CaOpt = Path("pki/ca"),
) -> None:
    """Write the broker ACL from the station registry: only registered, unrevoked stations get rights."""
    from provisioning.stations import StationRegistry, render_acl

    registry = StationRegistry(_ca(ca))
    out.write_text(render_acl(registry.active()))
    typer.echo(f"ACL for {len(registry.active())} stations: {out}")


@app.command("central-cert")
def central_cert(
    ca: CaOpt = Path("pki/ca"),
    out: Annotated[Path | None, typer.Option("--out", help="path without suffix")] = None,
) -> None:
    """The client certificate of central (CN central.markaz: reads every station, sends commands)."""
    from provisioning.pki import CENTRAL_IDENTITY, issue

    issued = issue(_ca(ca), out or ca.parent / "central", CENTRAL_IDENTITY)
    typer.echo(f"central: {issued.cert} {issued.key}")


@app.command("broker-cert")
def broker_cert(
    host: Annotated[list[str], typer.Option("--host", help="DNS name or IP clients use (repeatable)")],
    ca: CaOpt = Path("pki/ca"),
    out: Annotated[Path | None, typer.Option("--out", help="path without suffix")] = None,
) -> None:
    """The broker's server certificate."""
    from provisioning.pki import issue

    issued = issue(_ca(ca), out or ca.parent / "broker", host[0], server=True, hosts=tuple(host))
    typer.echo(f"broker: {issued.cert} {issued.key}")


@app.command("broker-config")
def broker_config(
    out: Annotated[Path, typer.Option("--out", help="directory for mosquitto.conf, acl and persistence")],
    ca: Annotated[Path, typer.Option("--ca-cert", help="CA certificate")],
    cert: Annotated[Path, typer.Option("--cert", help="broker certificate")],
    key: Annotated[Path, typer.Option("--key", help="broker key")],
    port: Annotated[int, typer.Option(help="TLS listener port")] = 8883,
    bind: Annotated[str, typer.Option(help="listen address")] = "0.0.0.0",
    central: Annotated[
        list[str] | None,
        typer.Option("--central", help="certificate name of one central process (repeatable; default central.markaz)"),
    ] = None,
    user: Annotated[str, typer.Option("--user", help="the user Mosquitto drops to when started as root")] = "mosquitto",
    crl: Annotated[Path | None, typer.Option("--crl", help="CRL of the CA (revoked stations refused)")] = None,
) -> None:
    """Render the Mosquitto configuration, ACL, TLS files and persistence folder from provisioning/broker/.

    The folder is ready for Mosquitto as Debian runs it (started as root, then the user `mosquitto`)."""
    from provisioning import broker
    from provisioning.pki import CENTRAL_IDENTITY

    for path in (ca, cert, key):
        if not path.is_file():
            typer.echo(f"{path}: no such file", err=True)
            raise typer.Exit(2)
    try:
        conf = broker.render(
            out,
            port,
            ca,
            cert,
            key,
            bind=bind,
            central=central or [CENTRAL_IDENTITY],
            user=user,
            extra=f"crlfile {crl.resolve()}" if crl else "",
        )
    except broker.BrokerConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    blocked = broker.unreachable(out, user)
    if blocked is not None:
        typer.echo(
            f"warning: {blocked}: the user {user!r} cannot enter this folder, so Mosquitto will not start from "
            f"{conf}; move it (e.g. to /etc/mosquitto/markaz) or open the folder to that user",
            err=True,
        )
    typer.echo(f"run: mosquitto -c {conf}")


# -- device identity: root -> station intermediate -> devices --------------------------------------------------

DataOpt = Annotated[Path, typer.Option("--data", help="the edge node's data folder")]
EdgeConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file; its [edge] table is read")]
TECHNICIAN_CLI = "technician-cli"


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _edge_node(data: Path, config: Path | None):
    from edge.node import EdgeNode
    from edge.settings import EdgeSettings
    from markaz.config import ConfigError, load_settings

    try:
        return EdgeNode(load_settings(EdgeSettings, config, "edge", data_dir=data))
    except ConfigError as exc:
        _fail(str(exc), 2)


def _technician() -> Principal:
    import getpass

    from edge.auth.principal import Principal

    # At the node's console: the operating-system account is the actor (the API uses the signed-in technician).
    return Principal("staff", f"{getpass.getuser()}@console", "technician")


def _run_changing(data: Path, config: Path | None, change):
    from edge.errors import DomainError

    node = _edge_node(data, config)
    try:
        return change(node)
    except DomainError as exc:
        _fail(exc.message)
    finally:
        node.close()


@app.command("root")
def root_cmd(
    out: Annotated[Path, typer.Option("--out", help="path without suffix: writes OUT.crt and OUT.key")] = Path(
        "pki/root"
    ),
    name: Annotated[str, typer.Option(help="common name")] = "markaz root CA",
) -> None:
    """Create central's root CA, which signs one intermediate per station (keep its key offline)."""
    from provisioning.pki import make_ca

    if out.with_suffix(".key").exists():
        _fail(f"{out.with_suffix('.key')} exists: refusing to replace a root CA")
    issued = make_ca(out, name, path_length=1)
    typer.echo(f"root CA: {issued.cert} (key {issued.key}, keep it offline)")


@app.command("station-ca")
def station_ca_cmd(
    station: Annotated[str, typer.Option("--station", help="station id")],
    root: Annotated[Path, typer.Option("--root", help="root CA path without suffix")],
    data: DataOpt,
) -> None:
    """Issue the station's intermediate CA from the root and install it in the edge node's keys folder."""
    import shutil

    from edge.store.files import private_dir
    from provisioning.pki import Issued, make_intermediate

    root_ca = Issued(root.with_suffix(".crt"), root.with_suffix(".key"))
    if not root_ca.key.exists():
        _fail(f"{root_ca.key}: root CA not found (create it with `markaz provision root`)", 2)
    private_dir(data)
    keys = private_dir(data / "keys")
    if (keys / "station-ca.key").exists():
        _fail(f"{keys / 'station-ca.key'} exists: refusing to replace the station CA")
    issued = make_intermediate(root_ca, keys / "station-ca", station)
    shutil.copyfile(root_ca.cert, keys / "root-ca.crt")
    typer.echo(f"station {station}: intermediate {issued.cert}, root {keys / 'root-ca.crt'}")


@app.command("claim")
def claim_cmd(
    device: Annotated[str, typer.Option("--device", help="device id, e.g. kiosk-3")],
    device_type: Annotated[str, typer.Option("--type", help="kiosk, display or counter_terminal")],
    data: DataOpt,
    minutes: Annotated[float | None, typer.Option(help="validity (default: the setting claim_minutes)")] = None,
    qr_svg: Annotated[Path | None, typer.Option("--qr-svg", help="also write the QR code as an SVG file")] = None,
    config: EdgeConfigOpt = None,
) -> None:
    """A one-time claim code for enrolling a device: a QR for the technician's phone, the code on the last line."""
    import segno

    claim = _run_changing(
        data, config, lambda node: node.enrolment.create_claim(device, device_type, _technician(), minutes)
    )
    qr = segno.make(claim.code, error="m")
    if qr_svg is not None:
        qr.save(str(qr_svg), scale=8)
    import io

    buf = io.StringIO()
    qr.terminal(out=buf, compact=True)
    typer.echo(buf.getvalue())
    typer.echo(f"device {claim.device_id} ({claim.device_type}), valid until {claim.expires_at:%H:%M:%S} UTC:")
    typer.echo(claim.code)


@app.command("approve")
def approve_cmd(device: Annotated[str, typer.Option("--device")], data: DataOpt, config: EdgeConfigOpt = None) -> None:
    """Approve a device's pending enrolment (when the edge requires approval)."""
    _run_changing(data, config, lambda node: node.enrolment.approve(device, _technician()))
    typer.echo(f"{device}: approved; its next request gets the certificate")


@app.command("revoke")
def revoke_cmd(device: Annotated[str, typer.Option("--device")], data: DataOpt, config: EdgeConfigOpt = None) -> None:
    """Revoke a device's certificates (the CRL is re-published) and disable it."""
    serials = _run_changing(data, config, lambda node: node.enrolment.revoke(device, _technician()))
    typer.echo(f"{device}: revoked {', '.join(serials) or 'no live certificate'}; disabled")


@app.command("decommission")
def decommission_cmd(
    device: Annotated[str, typer.Option("--device")], data: DataOpt, config: EdgeConfigOpt = None
) -> None:
    """Retire a device: revoke, remove from the registry (on the device, `markaz provision wipe` removes its keys)."""
    serials = _run_changing(data, config, lambda node: node.enrolment.decommission(device, _technician()))
    typer.echo(f"{device}: revoked {', '.join(serials) or 'no live certificate'}; removed from the registry")


@app.command("inventory")
def inventory_cmd(
    data: DataOpt, config: EdgeConfigOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """The station's devices: id, type, model, serial, certificate serial and expiry, last seen, profile version."""
    import json

    node = _edge_node(data, config)
    try:
        from provisioning.profiles import with_profiles

        rows = with_profiles(node.enrolment.inventory(), node.profiles.states())
    finally:
        node.store.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(
            "\t".join(
                str(r[k] or "-")
                for k in (
                    "id",
                    "type",
                    "model",
                    "serial_number",
                    "cert_serial",
                    "cert_not_after",
                    "last_seen_at",
                    "profile_version",
                    "desired_version",
                    "reported_outcome",
                )
            )
        )


@app.command("enrol")
def enrol_cmd(
    edge: Annotated[str, typer.Option("--edge", help="the edge node's URL, e.g. https://edge.local:8443")],
    claim: Annotated[str, typer.Option("--claim", help="the one-time claim code")],
    out: Annotated[Path, typer.Option("--out", help="identity folder on this device")] = Path("identity"),
    edge_ca: Annotated[Path | None, typer.Option("--edge-ca", help="CA to verify the edge's HTTPS certificate")] = None,
    model: Annotated[str | None, typer.Option(help="hardware model, for the inventory")] = None,
    serial: Annotated[str | None, typer.Option(help="hardware serial number, for the inventory")] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for a technician's approval")] = 0.0,
) -> None:
    """On the device: make a key (it never leaves), send a CSR with the claim code, store certificate and chain."""
    from provisioning.device import EnrolFailed, Identity, enrol

    if Identity(out).exists():
        _fail(f"{out} already holds an identity (renew it, or wipe it first)")
    try:
        result = enrol(
            edge, claim, out, verify=str(edge_ca) if edge_ca else True, model=model, serial=serial, wait_s=wait
        )
    except EnrolFailed as exc:
        _fail(str(exc))
    if result["status"] != "issued":
        _fail(f"enrolment of {result['device_id']} waits for a technician's approval; run again with --wait", 3)
    typer.echo(
        f"enrolled {result['device_id']} ({result['device_type']}): certificate {result['serial']} "
        f"valid until {result['not_after']}, in {out}"
    )


@app.command("renew")
def renew_cmd(
    out: Annotated[Path, typer.Option("--out", help="identity folder on this device")] = Path("identity"),
    edge: Annotated[str | None, typer.Option("--edge", help="mTLS URL of the edge (default: the enrolled one)")] = None,
    margin_days: Annotated[float | None, typer.Option(help="renew only if fewer days are left")] = None,
) -> None:
    """Renew this device's certificate over mTLS, under a new key."""
    import json

    from provisioning.device import EnrolFailed, Identity, needs_renewal, renew

    identity = Identity(out)
    if not identity.exists():
        _fail(f"{out}: no identity (enrol first)", 2)
    if margin_days is not None and not needs_renewal(identity, margin_days):
        typer.echo(f"certificate valid beyond {margin_days} days: nothing to do")
        return
    url = edge or json.loads(identity.meta.read_text())["edge"]
    try:
        result = renew(identity, url)
    except EnrolFailed as exc:
        _fail(str(exc))
    typer.echo(f"renewed {result['device_id']}: certificate {result['serial']} valid until {result['not_after']}")


@app.command("check")
def check_cmd(
    out: Annotated[Path, typer.Option("--out", help="identity folder on this device")] = Path("identity"),
    edge: Annotated[str | None, typer.Option("--edge", help="mTLS URL of the edge (default: the enrolled one)")] = None,
) -> None:
    """On the device: ask the edge for this device's standing; a decommissioned device wipes its keys."""
    import json

    from provisioning.device import EnrolFailed, Identity, check_standing

    identity = Identity(out)
    if not identity.exists():
        _fail(f"{out}: no identity (enrol first)", 2)
    try:
        state = check_standing(identity, edge or json.loads(identity.meta.read_text())["edge"])
    except EnrolFailed as exc:
        _fail(str(exc))
    typer.echo(f"device standing: {state}")


@app.command("wipe")
def wipe_cmd(
    out: Annotated[Path, typer.Option("--out", help="identity folder on this device")] = Path("identity"),
) -> None:
    """On a decommissioned device: overwrite and delete its private key and certificates."""
    from provisioning.device import Identity

    Identity(out).wipe()
    typer.echo(f"{out}: keys and certificates wiped")


@app.command("selftest")
def selftest_cmd(
    role: Annotated[str, typer.Option("--role", help="kiosk or edge_node")] = "kiosk",
    profile: Annotated[Path | None, typer.Option("--profile", help="kiosk: `markaz config show --json` output")] = None,
    out: Annotated[Path, typer.Option("--out", help="kiosk: identity folder")] = Path("identity"),
    edge: Annotated[str | None, typer.Option("--edge", help="kiosk: mTLS URL of the edge (default: enrolled)")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="edge node: its data folder")] = None,
    backups: Annotated[Path | None, typer.Option("--backups", help="edge node: backup folder")] = None,
    mqtt: Annotated[str | None, typer.Option("--mqtt")] = None,
    mqtt_ca: Annotated[Path | None, typer.Option("--mqtt-ca")] = None,
    mqtt_cert: Annotated[Path | None, typer.Option("--mqtt-cert")] = None,
    mqtt_key: Annotated[Path | None, typer.Option("--mqtt-key")] = None,
    report_path: Annotated[Path | None, typer.Option("--report", help="also write the JSON report here")] = None,
    station: Annotated[str | None, typer.Option("--station", help="edge node: station id (default: settings)")] = None,
    test_card: Annotated[
        str | None, typer.Option("--test-card", help="kiosk: the test card's MRZ key DOCUMENT:BIRTH:EXPIRY (YYMMDD)")
    ] = None,
    config: EdgeConfigOpt = None,
) -> None:
    """Test this device's parts and links; prints a JSON report, exits 1 naming the failed checks."""
    import json

    from provisioning import selftest

    if role == "kiosk":
        if profile is None:
            _fail("--profile is needed for a kiosk", 2)
        body = json.loads(profile.read_text())
        meta = out / "identity.json"
        url = edge or (json.loads(meta.read_text())["edge"] if meta.exists() else None)
        from models.registry import MODELS_DIR

        parts = test_card.split(":") if test_card else []
        if test_card and len(parts) != 3:
            _fail("--test-card: DOCUMENT:BIRTH:EXPIRY, e.g. L898902C3:740812:340415", 2)
        key = (parts[0], parts[1], parts[2]) if parts else None
        detector = MODELS_DIR / "face_detection_yunet_2023mar.onnx"
        report = selftest.kiosk_selftest(body.get("profile", body), out, url, detector, key)
        selftest.send_kiosk_report(report, out, url)
    elif role == "edge_node":
        if data is None:
            _fail("--data is needed for an edge node", 2)
        link = None
        if mqtt:
            link = {"url": mqtt, "ca": mqtt_ca, "cert": mqtt_cert, "key": mqtt_key}
        report = selftest.edge_selftest(data, backups or data / "backups", link, config, station)
    else:
        _fail(f"unknown role {role!r}: kiosk or edge_node", 2)
    text = json.dumps(report.as_dict(), indent=2)
    if report_path is not None:
        report_path.write_text(text)
    typer.echo(text)
    if not report.ok:
        typer.echo(f"self-test FAILED: {', '.join(report.failed)}", err=True)
        raise typer.Exit(1)
