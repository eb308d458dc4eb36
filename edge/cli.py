"""`markaz edge ...`: run and administer the station's edge node."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from edge.auth.roles import DeviceType, StaffRole

app = typer.Typer(help="The station's edge node: serve, migrate, back up, users, devices, audit.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
device_app = typer.Typer(help="Devices (kiosks, displays, counter terminals).", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(device_app, name="device")
app.add_typer(audit_app, name="audit")


def _register_reports() -> None:
    from edge.reports.cli import app as reports_app

    app.add_typer(reports_app, name="reports")


DataOpt = Annotated[Path, typer.Option("--data", help="the node's data folder (database, keys, anchors)")]
# Help texts go through rich markup, which would take "[edge]" for a style tag and print nothing: escape it.
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help=f"TOML settings file; its {escape('[edge]')} table is read")
]

# The options `serve` and `link` share: one declaration each.
StationOpt = Annotated[str | None, typer.Option("--station", help="this station's id (lower case, digits, - _)")]
MqttOpt = Annotated[str | None, typer.Option("--mqtt", help="broker URL: mqtt://host:port or mqtts://host:port")]
MqttCaOpt = Annotated[Path | None, typer.Option("--mqtt-ca", help="CA certificate of the broker")]
MqttCertOpt = Annotated[Path | None, typer.Option("--mqtt-cert", help="this station's client certificate")]
MqttKeyOpt = Annotated[Path | None, typer.Option("--mqtt-key", help="private key of --mqtt-cert")]
MqttKeepaliveOpt = Annotated[int | None, typer.Option("--mqtt-keepalive", help="seconds (default 30)")]
LogJsonOpt = Annotated[bool, typer.Option("--log-json", help="log one JSON object per line")]


def _mqtt_overrides(
    url: str | None, ca: Path | None, cert: Path | None, key: Path | None, keepalive: int | None
) -> dict[str, Any]:
    """The `mqtt` settings given on the command line (the rest come from the settings file)."""
    given = {"url": url, "ca": ca, "cert": cert, "key": key, "keepalive": keepalive}
    return {k: v for k, v in given.items() if v is not None}


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(data: Path | None, config: Path | None, **overrides: Any):
    from edge.settings import EdgeSettings
    from markaz.config import ConfigError, load_settings

    try:
        return load_settings(EdgeSettings, config, "edge", data_dir=data, **overrides)
    except ConfigError as exc:
        _fail(str(exc), 2)


def _node(data: Path, config: Path | None = None):
    from edge.node import EdgeNode

    return EdgeNode(_settings(data, config))


@contextmanager
def _reading(data: Path, config: Path | None = None) -> Iterator[Any]:
    """A node for reading only: nothing to anchor, the store just closes."""
    node = _node(data, config)
    try:
        yield node
    finally:
        node.store.close()


@contextmanager
def _changing(data: Path, config: Path | None = None) -> Iterator[Any]:
    """A node for one administrative change: a refused change becomes a one-line error, and what was written is
    anchored in the audit log before the node closes."""
    from edge.errors import DomainError

    node = _node(data, config)
    try:
        yield node
    except DomainError as exc:
        _fail(exc.message)
    finally:
        node.close()


@app.command()
def serve(
    data: DataOpt = Path("data"),
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    config: ConfigOpt = None,
    station: StationOpt = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="serve HTTPS with this certificate")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="private key of --tls-cert")] = None,
    sample_data: Annotated[bool, typer.Option("--sample-data", help="load the sample catalogue")] = False,
    catalogue: Annotated[
        Path | None, typer.Option("--catalogue", help="TOML catalogue of services and counters")
    ] = None,
    mqtt: MqttOpt = None,
    mqtt_ca: MqttCaOpt = None,
    mqtt_cert: MqttCertOpt = None,
    mqtt_key: MqttKeyOpt = None,
    mqtt_keepalive: MqttKeepaliveOpt = None,
    log_json: LogJsonOpt = False,
    device_port: Annotated[
        int | None, typer.Option("--device-port", help="also serve the mTLS device listener on this port")
    ] = None,
) -> None:
    """Run the edge node: the HTTP API, audit anchoring and (with --mqtt) the telemetry link."""
    mqtt_over = _mqtt_overrides(mqtt, mqtt_ca, mqtt_cert, mqtt_key, mqtt_keepalive)
    settings = _settings(
        data,
        config,
        host=host,
        port=port,
        station_id=station,
        tls_cert=tls_cert,
        tls_key=tls_key,
        sample_data=sample_data or None,
        catalogue=catalogue,
        log_json=log_json or None,
        mqtt=mqtt_over or None,
    )
    if device_port is not None:
        settings.provisioning.mtls_port = device_port
    if (settings.tls_cert is None) != (settings.tls_key is None):
        _fail("--tls-cert and --tls-key go together", 2)
    import uvicorn

    from edge.api.app import create_app
    from edge.node import EdgeNode
    from markaz.logs import setup_logging

    setup_logging(settings.log_level, settings.log_json)
    node = EdgeNode(settings)
    scheme = "https" if settings.tls_cert else "http"
    base = f"{scheme}://{settings.host}:{settings.port}"
    typer.echo(f"markaz edge node {settings.station_id}: {base}/api/v1/docs (API docs), {base}/healthz", err=True)
    main = dict(
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        timeout_graceful_shutdown=5,
        proxy_headers=False,  # served directly, not behind a proxy: client addresses are taken as they are
    )
    if settings.provisioning.mtls_port is not None:
        from provisioning import listener

        if not node.enrolment.pki.ready:
            _fail("the device listener needs the station CA (install it with `markaz provision station-ca`)", 2)
        typer.echo(f"device listener (mTLS): https://{settings.host}:{settings.provisioning.mtls_port}", err=True)
        listener.run(create_app(node), main, settings.provisioning.mtls_port, settings.host, node.enrolment.pki)
        return
    uvicorn.run(create_app(node), **main)


@app.command()
def link(
    data: DataOpt = Path("data"),
    config: ConfigOpt = None,
    station: StationOpt = None,
    mqtt: MqttOpt = None,
    mqtt_ca: MqttCaOpt = None,
    mqtt_cert: MqttCertOpt = None,
    mqtt_key: MqttKeyOpt = None,
    mqtt_keepalive: MqttKeepaliveOpt = None,
    log_json: LogJsonOpt = False,
    supervised: Annotated[bool, typer.Option("--supervised", hidden=True)] = False,
    settings_json: Annotated[str | None, typer.Option("--settings-json", hidden=True)] = None,
) -> None:
    """Run the station's MQTT link alone: publish the outbox of --data to the broker and take central's commands.

    `markaz edge serve` runs it itself unless its setting `mqtt.link` is `external` (e.g. a systemd unit of its own).
    It shares the node's database file (SQLite in WAL mode); start the node first."""
    from pydantic import ValidationError

    from edge.telemetry.link_process import LinkConfig, run
    from markaz.logs import setup_logging

    if settings_json is not None:  # from the supervising node: its effective settings
        try:
            link_config = LinkConfig.model_validate_json(settings_json)
        except ValidationError as exc:
            _fail(f"--settings-json: {exc.errors()[0]['msg']}", 2)
    else:
        mqtt_over = _mqtt_overrides(mqtt, mqtt_ca, mqtt_cert, mqtt_key, mqtt_keepalive)
        s = _settings(data, config, station_id=station, log_json=log_json or None, mqtt=mqtt_over or None)
        link_config = LinkConfig(
            data_dir=s.data_dir,
            station_id=s.station_id,
            mqtt=s.mqtt,
            synchronous=s.synchronous,
            log_level=s.log_level,
            log_json=s.log_json,
        )
    setup_logging(link_config.log_level, link_config.log_json)
    raise typer.Exit(run(link_config, supervised=supervised))


@app.command()
def migrate(data: DataOpt, config: ConfigOpt = None) -> None:
    """Apply the database migrations not yet applied (the node also does this at start)."""
    from edge.store.db import Store
    from edge.store.migrations import apply_migrations

    settings = _settings(data, config)
    store = Store(settings.db_path, migrate=False)
    try:
        with store._write_lock:
            done = apply_migrations(store._writer)
    finally:
        store.close()
    for mig in done:
        typer.echo(f"applied {mig.version:04d}_{mig.name}")
    typer.echo(f"database {settings.db_path} is up to date")


@app.command()
def backup(
    data: DataOpt, path: Annotated[Path, typer.Argument(help="where to write the copy")], config: ConfigOpt = None
) -> None:
    """Write a consistent copy of the database while the node serves (SQLite online backup)."""
    from edge.store.db import backup_database

    settings = _settings(data, config)
    try:
        backup_database(settings.db_path, path)
    except FileNotFoundError as exc:
        _fail(str(exc))
    typer.echo(
        f"backed up {settings.db_path} to {path} (keys in {settings.keys_dir} are not included: keep them apart)"
    )


@app.command()
def kpis(
    data: DataOpt,
    config: ConfigOpt = None,
    day: Annotated[str | None, typer.Option(help="business day YYYY-MM-DD (default today)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Print the queue KPIs of a business day, per service and for the station."""
    try:
        wanted = date.fromisoformat(day) if day else None
    except ValueError:
        _fail(f"--day must be YYYY-MM-DD, got {day!r}", 2)
    with _reading(data, config) as node:
        result = node.queue.kpis(wanted)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    def fmt(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}" if v <= 1 else f"{v:.0f}"
        return str(v)

    cols = {
        "waiting": "waiting",
        "longest_wait_s": "longest s",
        "mean_wait_s": "mean wait s",
        "p90_wait_s": "p90 wait s",
        "mean_service_s": "service s",
        "served": "served",
        "no_shows": "no-show",
        "within_target_share": "in target",
        "counters_open": "open",
    }
    table = Table(title=f"KPIs {result.business_day} ({result.timezone})")
    table.add_column("service")
    for header in cols.values():
        table.add_column(header, justify="right")
    for s in result.services:
        table.add_row(s.service, *[fmt(getattr(s, c)) for c in cols])
    table.add_row("[b]station[/b]", *[fmt(getattr(result.station, c)) for c in cols])
    import shutil

    Console(width=max(120, shutil.get_terminal_size().columns)).print(table)


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="user name")],
    role: Annotated[str, typer.Option(help=", ".join(StaffRole))],
    data: DataOpt,
    config: ConfigOpt = None,
) -> None:
    """Create a staff account; the password is read as one line from standard input (prompted on a terminal)."""
    if sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            _fail("passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with _changing(data, config) as node:
        node.auth.add_user(name, password, role)
    typer.echo(f"user {name} ({role}) created", err=True)


@user_app.command("list")
def user_list(data: DataOpt, config: ConfigOpt = None) -> None:
    """List staff accounts."""
    with _reading(data, config) as node:
        for u in node.auth.list_users():
            typer.echo(f"{u['username']}\t{u['role']}\t{'active' if u['active'] else 'disabled'}")


@user_app.command("reset-sign-in")
def user_reset_sign_in(
    name: Annotated[str, typer.Argument(help="the locked-out account")],
    approved_by: Annotated[str, typer.Option("--by", help="the supervisor or admin approving it, in person")],
    data: DataOpt,
    config: ConfigOpt = None,
) -> None:
    """Approve a sign-in reset: prints a one-time code, alone on standard output, that lets the account sign in
    through its lock-out with its own password. The approval is written to the audit log."""
    from edge.auth.principal import Principal
    from edge.auth.roles import Permission, allowed

    with _changing(data, config) as node:
        approver = next((u for u in node.auth.list_users() if u["username"] == approved_by and u["active"]), None)
        if approver is None or not allowed(approver["role"], Permission.STAFF_RESET_SIGN_IN):
            _fail(f"--by must name an active supervisor or admin account, not {approved_by!r}")
        # The command runs with the node's files, not a sign-in: the log says so, and who approved it.
        code, expires = node.auth.approve_reset(name, Principal("system", "cli", "system"), approved_by=approved_by)
    typer.echo(code)
    typer.echo(f"valid until {expires.isoformat(timespec='seconds')}, for {name} only", err=True)


@device_app.command("add")
def device_add(
    device_id: Annotated[str, typer.Argument(help="device id, e.g. kiosk-1")],
    data: DataOpt,
    device_type: Annotated[str, typer.Option("--type", help=", ".join(DeviceType))] = DeviceType.KIOSK.value,
    config: ConfigOpt = None,
) -> None:
    """Register a device; its API token is printed once, alone on standard output (only its hash is kept)."""
    with _changing(data, config) as node:
        token = node.auth.add_device(device_id, device_type)
    typer.echo(token)


@device_app.command("list")
def device_list(data: DataOpt, config: ConfigOpt = None) -> None:
    """List registered devices."""
    with _reading(data, config) as node:
        for d in node.auth.list_devices():
            typer.echo(
                f"{d['id']}\t{d['type']}\t{'enabled' if d['enabled'] else 'disabled'}\t{d['last_seen_at'] or '-'}"
            )


@audit_app.command("export")
def audit_export(
    data: DataOpt,
    file: Annotated[Path, typer.Argument(help="the JSON-lines file to write (a header line, then one entry a line)")],
    config: ConfigOpt = None,
) -> None:
    """Write the whole audit log with its hashes to FILE, for `markaz central audit check`."""
    import json
    import os

    from markaz.contracts.audit import EXPORT_FIELDS, EXPORT_FORMAT

    settings = _settings(data, config)
    if not settings.db_path.exists():
        _fail(f"no database at {settings.db_path}", 2)
    partial = file.with_name(file.name + ".partial")
    count = 0
    with _reading(data, config) as node, partial.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"format": EXPORT_FORMAT, "station": node.audit.station}) + "\n")
        for row in node.audit.export_rows():
            out.write(json.dumps({k: row[k] for k in EXPORT_FIELDS}, ensure_ascii=False) + "\n")
            count += 1
    os.replace(partial, file)  # a half-written export never takes the name
    typer.echo(f"exported {count} audit entries of {node.audit.station} to {file}")


@audit_app.command("key")
def audit_key(data: DataOpt, config: ConfigOpt = None) -> None:
    """Print the station's audit anchor public key (PEM), for `markaz central audit key add` (made if missing)."""
    from edge.keys import StationKeys

    settings = _settings(data, config)
    typer.echo(StationKeys(settings.keys_dir).anchor_public_pem.decode(), nl=False)


@audit_app.command("verify")
def audit_verify(data: DataOpt, config: ConfigOpt = None) -> None:
    """Prove the audit chain against every signed anchor the station holds: exit 0, or 1 naming the first broken
    entry (or what was done to the anchors)."""
    from edge.audit.log import AnchorKeyMissing

    settings = _settings(data, config)
    if not settings.db_path.exists():
        _fail(f"no database at {settings.db_path}", 2)
    with _reading(data, config) as node:
        try:
            report = node.audit.verify()
        except AnchorKeyMissing as exc:
            _fail(exc.message, 2)
    if report.ok:
        typer.echo(
            f"audit log intact: {report.entries} entries, {report.anchors} signed anchors, head {report.head_seq}"
        )
        return
    where = f" at entry {report.first_broken_seq}" if report.first_broken_seq is not None else ""
    typer.echo(f"audit log BROKEN{where}: {report.problems[0]}", err=True)
    for extra in report.problems[1:]:
        typer.echo(f"  also: {extra}", err=True)
    raise typer.Exit(1)


def _register_outbox() -> None:
    try:
        from edge.telemetry.cli import outbox
    except ImportError:  # the telemetry part is not installed in this tree yet
        return
    app.command("outbox")(outbox)


_register_outbox()
_register_reports()
