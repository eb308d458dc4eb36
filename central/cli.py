"""`markaz central ...`: the central platform."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from fastapi import APIRouter

    from central.store import CentralStore

app = typer.Typer(help="Central platform: telemetry ingest, store, dashboard.", no_args_is_help=True)
audit_app = typer.Typer(help="Stations' audit logs against the anchors central holds.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
key_app = typer.Typer(help="Stations' audit anchor public keys: anchors signed otherwise are refused.",
                      no_args_is_help=True)  # fmt: skip
audit_app.add_typer(key_app, name="key")
alarms_app = typer.Typer(help="Alarms: evaluate the rules, list, acknowledge.", no_args_is_help=True)
app.add_typer(alarms_app, name="alarms")
user_app = typer.Typer(help="Central staff accounts (roles central_viewer, central_operator, central_admin).",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(user_app, name="user")

DB_HELP = "central's store: a SQLite file, or a postgresql:// URL"
KEY_HELP = "the station's audit anchor public key (PEM), from `markaz edge audit key` at the station"
CONFIG_HELP = "central's settings file (TOML; the alarm rules are its [alarms] table)"


@contextmanager
def _open_store(db: str, *errors: type[Exception], code: int = 2) -> Iterator[CentralStore]:
    """The store for one command, closed after it: one of `errors` raised inside ends the command with
    `error: ...` on stderr and exit `code` (2: what was asked cannot be done as asked)."""
    from central.store import CentralStore

    store = CentralStore(db)
    try:
        yield store
    except errors as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code) from None
    finally:
        store.close()


def _alarm_loop(store, ingest, config: Path | None):
    from central.alarms import AlarmEvaluator, load_alarm_settings
    from central.watch import AlarmLoop

    settings = load_alarm_settings(config)
    return AlarmLoop(ingest, AlarmEvaluator(store, settings), settings.evaluate_every_s)


STATION_CA_HELP = "the broker CA (path without suffix) that signs stations' MQTT certificates: serves enrolment"
BROKER_URL_HELP = "the broker URL told to enrolling stations (default: --mqtt)"


def _station_enrolment(ca: Path, broker_url: str, store: CentralStore) -> APIRouter:
    """Stations enrol on central's own server: the claim-code endpoint beside the dashboard; the anchor key each
    station sends with its claim is registered for it (central.anchors)."""
    from central.anchors import add_key
    from provisioning.pki import Issued
    from provisioning.station_enrolment import StationEnrolment, router

    issued = Issued(ca.with_suffix(".crt"), ca.with_suffix(".key"))
    if not issued.cert.is_file() or not issued.key.is_file():
        raise typer.BadParameter(f"--station-ca {ca}: no {issued.cert.name} and {issued.key.name} there")

    def register(station: str, pem: str) -> str:
        return add_key(store, station, pem.encode(), by="station-enrolment")

    return router(StationEnrolment(issued, broker_url=broker_url, register_anchor_key=register))


@app.command()
def serve(
    mqtt: Annotated[str, typer.Option("--mqtt", help="broker URL: mqtt://host:port or mqtts://host:port")],
    mqtt_ca: Annotated[Path | None, typer.Option("--mqtt-ca", help="CA certificate of the broker")] = None,
    mqtt_cert: Annotated[Path | None, typer.Option("--mqtt-cert", help="central's client certificate")] = None,
    mqtt_key: Annotated[Path | None, typer.Option("--mqtt-key", help="private key of --mqtt-cert")] = None,
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    host: Annotated[str, typer.Option(help="address of the web view")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the web view")] = 8090,
    worker: Annotated[int, typer.Option(help="worker number: several workers share the subscription")] = 1,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    station_ca: Annotated[Path | None, typer.Option("--station-ca", help=STATION_CA_HELP)] = None,
    broker_url: Annotated[str | None, typer.Option("--broker-url", help=BROKER_URL_HELP)] = None,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="serve HTTPS with this certificate")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="private key of --tls-cert")] = None,
) -> None:
    """Ingest every station's telemetry into --db, evaluate the alarms, serve the stations view on http://HOST:PORT/
    (https:// with --tls-cert); with --station-ca, stations enrol on the same server (`POST /api/v1/stations/enrol`)."""
    import logging

    import uvicorn

    from central.ingest import Ingest
    from central.store import CentralStore
    from central.web import create_app

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    store = CentralStore(db)
    enrolment = _station_enrolment(station_ca, broker_url or mqtt, store) if station_ca is not None else None
    ingest = Ingest(store, mqtt, mqtt_ca, mqtt_cert, mqtt_key, client_id=f"central-ingest-{worker}", protocol=5)
    alarms = _alarm_loop(store, ingest, config)
    ingest.start()
    alarms.start()
    try:
        # commands from the dashboard leave on the ingest's own connection (the broker ties a client id to a
        # certificate, so a second connection would need a certificate of its own)
        app = create_app(store, publish=ingest.publish_command, rollup_every_s=60.0)
        if enrolment is not None:
            app.include_router(enrolment)
        tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)} if tls_cert else {}
        uvicorn.run(app, host=host, port=port, log_level="info", **tls)  # type: ignore[arg-type]
    finally:
        alarms.stop()
        ingest.stop()
        store.close()


@app.command()
def ingest(
    mqtt: Annotated[str, typer.Option("--mqtt", help="broker URL: mqtt://host:port or mqtts://host:port")],
    mqtt_ca: Annotated[Path | None, typer.Option("--mqtt-ca", help="CA certificate of the broker")] = None,
    mqtt_cert: Annotated[Path | None, typer.Option("--mqtt-cert", help="this worker's client certificate")] = None,
    mqtt_key: Annotated[Path | None, typer.Option("--mqtt-key", help="private key of --mqtt-cert")] = None,
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    worker: Annotated[int, typer.Option(help="worker number: several workers share the subscription")] = 1,
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    mqtt_protocol: Annotated[
        str, typer.Option("--mqtt-protocol", help="3.1.1 (the default: a worker reads no MQTT 5 property) or 5")
    ] = "3.1.1",
) -> None:
    """Only ingest (no web view), evaluating the alarms too: one worker of the shared subscription, until SIGTERM. Each worker has its own
    certificate, since the broker ties client ids to certificates."""
    import logging
    import signal
    import threading

    from central.ingest import Ingest
    from central.store import CentralStore

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if mqtt_protocol not in ("3.1.1", "5"):
        raise typer.BadParameter("--mqtt-protocol is 3.1.1 or 5")
    store = CentralStore(db)
    protocol = 5 if mqtt_protocol == "5" else 4
    worker_ingest = Ingest(
        store, mqtt, mqtt_ca, mqtt_cert, mqtt_key, client_id=f"central-ingest-{worker}", protocol=protocol
    )
    alarms = _alarm_loop(store, worker_ingest, config)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker_ingest.start()
    alarms.start()
    try:
        stop.wait()
    finally:
        alarms.stop()
        worker_ingest.stop()
        store.close()


@app.command()
def dashboard(
    db: Annotated[str, typer.Option("--db", help=DB_HELP + " (written by the ingest workers)")] = "central.sqlite",
    host: Annotated[str, typer.Option(help="address of the web view")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the web view")] = 8090,
    mqtt: Annotated[
        str | None, typer.Option("--mqtt", help="broker URL for commands (without it the dashboard sends none)")
    ] = None,
    mqtt_ca: Annotated[Path | None, typer.Option("--mqtt-ca", help="CA certificate of the broker")] = None,
    mqtt_cert: Annotated[
        Path | None, typer.Option("--mqtt-cert", help="the dashboard's own client certificate")
    ] = None,
    mqtt_key: Annotated[Path | None, typer.Option("--mqtt-key", help="private key of --mqtt-cert")] = None,
) -> None:
    """Only the dashboard on http://HOST:PORT/ over --db (the ingest runs as its own service); with --mqtt it
    sends the commands operators give on its own broker connection."""
    import uvicorn

    from central.commands import CommandLink
    from central.store import CentralStore
    from central.web import create_app

    store = CentralStore(db)
    link = CommandLink(mqtt, mqtt_ca, mqtt_cert, mqtt_key) if mqtt else None
    try:
        if link is not None:
            link.start()
        app = create_app(store, publish=link.publish if link else None, rollup_every_s=60.0)
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if link is not None:
            link.stop()
        store.close()


@app.command()
def command(
    station: Annotated[str, typer.Option("--station", help="station id")],
    name: Annotated[str, typer.Option("--name", help="telemetry.snapshot, kiosk.enable, kiosk.disable, node.rebirth")],
    mqtt: Annotated[str, typer.Option("--mqtt", help="broker URL")],
    params: Annotated[str, typer.Option("--params", help='JSON object, e.g. {"device": "kiosk-1"}')] = "{}",
    command_id: Annotated[
        str | None, typer.Option("--id", help="command id (default: random); reuse it to retry")
    ] = None,
    mqtt_ca: Annotated[Path | None, typer.Option("--mqtt-ca")] = None,
    mqtt_cert: Annotated[Path | None, typer.Option("--mqtt-cert")] = None,
    mqtt_key: Annotated[Path | None, typer.Option("--mqtt-key")] = None,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the ack")] = 30.0,
) -> None:
    """Send a command to a station and print its ack (exit 1 if the station answered with an error)."""
    from central.commands import CommandTimeout, parse_params, send_command

    try:
        ack = send_command(mqtt, mqtt_ca, mqtt_cert, mqtt_key, station, name, parse_params(params), command_id, timeout)
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except CommandTimeout as exc:
        typer.echo(f"{exc}; the broker keeps it for the station's session", err=True)
        raise typer.Exit(3) from None
    typer.echo(ack.model_dump_json(exclude_none=True))
    if not ack.ok:
        raise typer.Exit(1)


@key_app.command("add")
def audit_key_add(
    station: Annotated[str, typer.Option("--station", help="station id")],
    public_key: Annotated[Path, typer.Option("--public-key", help=KEY_HELP)],
    by: Annotated[str, typer.Option("--by", help="who registers it (central's audit log)")] = "cli",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
) -> None:
    """Register a station's audit anchor public key: from now on its anchors are checked with it."""
    from central.anchors import BadKey, add_key

    if not public_key.is_file():
        typer.echo(f"error: no key file at {public_key}", err=True)
        raise typer.Exit(2)
    with _open_store(db, BadKey) as store:
        kid = add_key(store, station, public_key.read_bytes(), by)
    typer.echo(f"anchor key {kid} registered for {station}")


@key_app.command("list")
def audit_key_list(db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite") -> None:
    """The registered anchor keys, by station."""
    from central.anchors import keys

    with _open_store(db) as store:
        for k in keys(store):
            typer.echo(f"{k['station']}\t{k['key_id']}\t{k['added_at']}\t{k['added_by']}")


@audit_app.command("check")
def audit_check(
    station: Annotated[str, typer.Option("--station", help="station id")],
    export: Annotated[Path, typer.Option("--export", help="the file `markaz edge audit export` wrote at the station")],
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
) -> None:
    """Verify a station's exported audit log against the anchors the station sent central: exit 0 if every one
    matches, 1 naming what was rewritten or cut off, 2 if the file is not that station's export."""
    from central.audit import ExportError, check_export, read_export

    if not export.is_file():
        typer.echo(f"error: no export file at {export}", err=True)
        raise typer.Exit(2)
    with _open_store(db, ExportError) as store:
        report = check_export(station, read_export(export, station), store.audit_anchors(station))
    if report.ok:
        typer.echo(
            f"audit log of {station} matches central: {report.entries} entries, "
            f"{report.anchors_checked} anchors checked, head {report.head_seq}"
        )
        return
    typer.echo(f"audit log of {station} does NOT match central: {report.problems[0]}", err=True)
    for extra in report.problems[1:]:
        typer.echo(f"  also: {extra}", err=True)
    raise typer.Exit(1)


@app.command()
def retention(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    raw_days: Annotated[float, typer.Option(help="days the raw queue and device snapshots are kept")] = 7,
    five_minute_days: Annotated[float, typer.Option(help="days the 5-minute rollups are kept")] = 90,
    hourly_days: Annotated[float, typer.Option(help="days the hourly rollups are kept")] = 730,
) -> None:
    """One retention job (run it from a timer): roll the new raw snapshots up per 5 minutes and per hour, then prune
    what is past its time."""
    from datetime import timedelta

    from central.retention import RetentionPolicy, run_retention

    if min(raw_days, five_minute_days, hourly_days) <= 0:
        typer.echo("error: every retention time must be positive", err=True)
        raise typer.Exit(2)
    policy = RetentionPolicy(timedelta(days=raw_days), timedelta(days=five_minute_days), timedelta(days=hourly_days))
    with _open_store(db) as store:
        run = run_retention(store, policy)
    typer.echo(f"rolled up {run.rolled_up}, pruned {run.raw_pruned} raw snapshots and {run.rollups_pruned} rollups")


@alarms_app.command("run")
def alarms_run(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    config: Annotated[Path | None, typer.Option("--config", help=CONFIG_HELP)] = None,
    once: Annotated[bool, typer.Option("--once", help="evaluate once and exit (from a timer)")] = False,
) -> None:
    """Evaluate the alarm rules against --db (serve and ingest already do it; this is for a separate service)."""
    import logging
    import signal
    import threading

    from markaz.config import ConfigError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with _open_store(db, ConfigError) as store:
        loop = _alarm_loop(store, None, config)
        if once:
            run = loop.evaluator.run()
            typer.echo(
                f"raised {len(run.raised)}, escalated {len(run.escalated)}, cleared {len(run.cleared)}"
                + ("" if run.connectivity_judged else " (no ingest connected: offline not judged)")
            )
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        loop.start()
        stop.wait()
        loop.stop()


@alarms_app.command("list")
def alarms_list(
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    station: Annotated[str | None, typer.Option("--station", help="only this station")] = None,
    cleared: Annotated[bool, typer.Option("--cleared", help="the cleared ones too")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table")] = False,
) -> None:
    """The open alarms (newest first)."""
    from central.alarms import list_alarms

    with _open_store(db) as store:
        alarms = list_alarms(store, station, include_cleared=cleared)
    for a in alarms:
        if as_json:
            typer.echo(a.model_dump_json())
        else:
            subject = f"/{a.subject}" if a.subject else ""
            ack = f" by {a.acknowledged_by}" if a.acknowledged_by else ""
            typer.echo(
                f"{a.id:>6}  {a.severity:<8}  {a.state}{ack}  {a.station}{subject}  {a.rule}  since {a.since.isoformat()}"
                + (f"  escalated {a.escalation_level}" if a.escalation_level else "")
            )


@alarms_app.command("ack")
def alarms_ack(
    alarm_id: Annotated[int, typer.Argument(help="the alarm's id (see `alarms list`)")],
    by: Annotated[str, typer.Option("--by", help="the operator taking it on")],
    role: Annotated[str, typer.Option("--role", help="their role")] = "central_operator",
    comment: Annotated[str, typer.Option("--comment", help="why, or what was done")] = "",
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
) -> None:
    """Acknowledge an active alarm (central_operator or central_admin): exit 1 if it cannot be."""
    from central.alarms import AlarmError, acknowledge
    from central.roles import CentralRole

    try:
        staff_role = CentralRole(role)
    except ValueError:
        typer.echo(f"error: role must be one of {', '.join(r.value for r in CentralRole)}", err=True)
        raise typer.Exit(2) from None
    with _open_store(db, AlarmError, code=1) as store:
        alarm = acknowledge(store, alarm_id, by, staff_role, comment)
    typer.echo(f"alarm {alarm.id} acknowledged by {alarm.acknowledged_by} at {alarm.acknowledged_at}")


@app.command()
def compare(
    start: Annotated[str, typer.Option("--from", help="first business day, YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="last business day, YYYY-MM-DD (inclusive)")],
    service: Annotated[str | None, typer.Option("--service", help="one service's code (default: all)")] = None,
    rank_by: Annotated[str, typer.Option("--rank-by", help="the measure stations are ranked by")] = (
        "within_target_share"
    ),
    csv_file: Annotated[Path | None, typer.Option("--csv", help="write the comparison to this CSV file")] = None,
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
) -> None:
    """Compare the stations over a period: served, mean/p90 wait, within target, no-shows, match rate, report SLA."""
    from datetime import date

    from central.comparison import MEASURES, ComparisonError, to_csv
    from central.comparison import compare as run_compare

    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        typer.echo("error: --from and --to are dates, YYYY-MM-DD", err=True)
        raise typer.Exit(2) from None
    with _open_store(db, ComparisonError) as store:
        result = run_compare(store, first, last, service, rank_by)
    if csv_file is not None:
        partial = csv_file.with_name(csv_file.name + ".partial")
        partial.write_text(to_csv(result), encoding="utf-8")
        partial.replace(csv_file)
        typer.echo(f"wrote {len(result.stations)} stations to {csv_file}")
        return
    names = [m.name for m in MEASURES]
    typer.echo("rank  station  " + "  ".join(names))
    for s in result.stations:
        cells = [("*" if m in s.best else "") + ("-" if getattr(s, m) is None else str(getattr(s, m))) for m in names]
        typer.echo(f"{s.rank or '-':>4}  {s.station}  " + "  ".join(cells))


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="the sign-in name")],
    role: Annotated[str, typer.Option("--role", help="central_viewer, central_operator or central_admin")],
    db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input (for scripts)")
    ] = False,
) -> None:
    """Create a central staff account (asks for the password twice unless --password-stdin); audited."""
    import sys

    from central.staff.service import StaffError, StaffService

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _open_store(db, StaffError, ValueError) as store:
        staff = StaffService(store.db).add_user(username, password, role)
    typer.echo(f"added {staff.username} ({staff.role})")


@user_app.command("list")
def user_list(db: Annotated[str, typer.Option("--db", help=DB_HELP)] = "central.sqlite") -> None:
    """Central's staff accounts, their roles and whether each is locked."""
    from central.staff.service import StaffService

    with _open_store(db) as store:
        for u in StaffService(store.db).users():
            locked = f" locked until {u['locked_until']}" if u["locked_until"] else ""
            typer.echo(f"{u['username']}\t{u['role']}\t{'active' if u['active'] else 'disabled'}{locked}")


rollout_app = typer.Typer(help="Staged roll-outs of a profile version across stations (through central serve).",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(rollout_app, name="rollout")
CentralUrl = Annotated[str, typer.Option("--central", help="central's URL (markaz central serve)")]
CentralCa = Annotated[Path | None, typer.Option("--central-ca", help="CA of central's HTTPS certificate")]
UserOpt = Annotated[str, typer.Option("--user", help="a central_operator (password on stdin)")]


def _signed_in(central: str, user: str, ca: Path | None):
    """An HTTP client signed in to central (the password is read from stdin, never from the command line)."""
    import ssl
    import sys

    import httpx

    password = sys.stdin.readline().rstrip("\n")
    verify = ssl.create_default_context(cafile=str(ca)) if ca else True
    http = httpx.Client(base_url=central.rstrip("/"), timeout=30, verify=verify)
    answer = http.post("/signin", data={"username": user, "password": password})
    if answer.status_code != 303 or "markaz_central" not in http.cookies:
        typer.echo("error: central refused the sign-in", err=True)
        raise typer.Exit(1)
    return http


def _progress_line(r: dict) -> str:
    c = r["counts"]
    return (f"rollout {r['id']} version {r['version']}: {r['state']}, wave {r['waves_started']}/{r['waves']}, "
            f"applied {c['applied']}, failed {c['failed']}, asked {c['asked']}, waiting {c['waiting']}, "
            f"not attempted {c['not_attempted']}")  # fmt: skip


def _follow(http, rollout_id: str, every_s: float = 1.0) -> dict:
    import time

    last = ""
    while True:
        r = http.get(f"/api/rollouts/{rollout_id}").json()
        line = _progress_line(r)
        if line != last:
            typer.echo(line)
            last = line
        if r["state"] != "running":
            return r
        time.sleep(every_s)


@rollout_app.command("start")
def rollout_start(
    central: CentralUrl,
    user: UserOpt,
    stations: Annotated[str, typer.Option("--stations", help="station ids, comma-separated")],
    profile: Annotated[Path, typer.Option("--profile", help="TOML: keys over the device type's model default")],
    version: Annotated[str, typer.Option("--version", help="the profile version to apply")],
    kind: Annotated[str, typer.Option("--type", help="device type of the profile")] = "edge_node",
    device: Annotated[
        str | None, typer.Option("--device", help="a device id on every station (default: the node)")
    ] = None,
    first: Annotated[str, typer.Option("--first", help="first wave: a share (0.1) or station ids")] = "0.1",
    wave_size: Annotated[int, typer.Option("--wave-size", min=1)] = 10,
    failure_bound: Annotated[int, typer.Option("--failure-bound", min=1)] = 1,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds a station may stay silent")] = 300.0,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the progress until it ends")] = True,
    central_ca: CentralCa = None,
) -> None:
    """Roll a profile version out to stations in waves; with --wait, exit 1 when it stopped at its failure bound."""
    import json

    from markaz.config import ConfigError, read_toml

    try:
        overrides = read_toml(profile)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        share: float | list[str] = float(first)
    except ValueError:
        share = [s for s in first.split(",") if s]
    body = {"stations": [s for s in stations.split(",") if s], "version": version, "profile": overrides,
            "kind": kind, "device": device, "first": share, "wave_size": wave_size,
            "failure_bound": failure_bound, "timeout_s": timeout}  # fmt: skip
    http = _signed_in(central, user, central_ca)
    answer = http.post("/api/rollouts", json=body)
    if answer.status_code != 202:
        detail = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        typer.echo(f"error: {detail.get('detail', answer.text)}", err=True)
        for problem in detail.get("problems") or []:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    started = answer.json()
    typer.echo(_progress_line(started))
    if not wait:
        return
    done = _follow(http, started["id"])
    typer.echo(json.dumps(done, indent=2))
    if done["state"] != "finished":
        raise typer.Exit(1)


@rollout_app.command("show")
def rollout_show(
    central: CentralUrl,
    user: UserOpt,
    rollout_id: Annotated[str | None, typer.Argument(help="a roll-out id; none: every roll-out")] = None,
    central_ca: CentralCa = None,
) -> None:
    """A roll-out's progress (each station's wave, state and reason), or the list of roll-outs."""
    import json

    http = _signed_in(central, user, central_ca)
    answer = http.get(f"/api/rollouts/{rollout_id}" if rollout_id else "/api/rollouts")
    if answer.status_code != 200:
        typer.echo(f"error: {answer.text}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(answer.json(), indent=2))


def _rollout_action(http, action: str, rollout_id: str) -> dict:
    """POST a cancel or resume to central; exit 1 with central's reason when it refuses."""
    answer = http.post(f"/api/rollouts/{rollout_id}/{action}")
    if answer.status_code not in (200, 202):
        detail = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        typer.echo(f"error: {detail.get('detail', answer.text)}", err=True)
        raise typer.Exit(1)
    done = answer.json()
    typer.echo(_progress_line(done))
    return done


@rollout_app.command("cancel")
def rollout_cancel(
    central: CentralUrl,
    user: UserOpt,
    rollout_id: Annotated[str, typer.Argument(help="the roll-out to cancel")],
    central_ca: CentralCa = None,
) -> None:
    """Cancel a running roll-out before its next wave (the wave in flight finishes), or an interrupted one."""
    _rollout_action(_signed_in(central, user, central_ca), "cancel", rollout_id)


@rollout_app.command("resume")
def rollout_resume(
    central: CentralUrl,
    user: UserOpt,
    rollout_id: Annotated[str, typer.Argument(help="an interrupted roll-out")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="follow the progress until it ends")] = True,
    central_ca: CentralCa = None,
) -> None:
    """Resume an interrupted roll-out from its waves left; earlier failures still count towards its bound."""
    import json

    http = _signed_in(central, user, central_ca)
    _rollout_action(http, "resume", rollout_id)
    if not wait:
        return
    done = _follow(http, rollout_id)
    typer.echo(json.dumps(done, indent=2))
    if done["state"] != "finished":
        raise typer.Exit(1)
