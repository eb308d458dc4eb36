"""`markaz config ...`: device profiles: the effective profile and its sources, validation, diffs, applying."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from firmware_config.schema import DeviceKind

app = typer.Typer(help="Device profiles (firmware_config/): show, validate, diff, apply.", no_args_is_help=True)

ProfilesOpt = Annotated[
    Path | None, typer.Option("--profiles", help="station and device layers (default DATA/profiles)")
]
DataOpt = Annotated[Path | None, typer.Option("--data", help="the edge node's data folder (device types, layers)")]


def _fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _kind(device: str, kind: str | None, data: Path | None) -> DeviceKind:
    from firmware_config.schema import DeviceKind

    if kind is not None:
        try:
            return DeviceKind(kind)
        except ValueError:
            _fail(f"unknown device type {kind!r}; expected one of {', '.join(DeviceKind)}", 2)
    if data is None:
        _fail("give --type, or --data to look the device up in the registry", 2)
        raise AssertionError
    import sqlite3

    with sqlite3.connect(f"file:{data / 'edge.sqlite'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT type FROM devices WHERE id = ?", [device]).fetchone()
    if row is None:
        _fail(f"no device {device!r} in the registry of {data}")
    return DeviceKind(row[0])


def _profiles(profiles: Path | None, data: Path | None) -> Path:
    if profiles is not None:
        return profiles
    if data is not None:
        return data / "profiles"
    _fail("give --profiles or --data", 2)
    raise AssertionError


@app.command("show")
def show(
    device: Annotated[str, typer.Option("--device")],
    kind: Annotated[str | None, typer.Option("--type", help="device type (default: from the registry)")] = None,
    data: DataOpt = None,
    profiles: ProfilesOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The effective profile of a device, with the layer each value came from (default, station, device)."""
    from firmware_config.layers import ProfileRejected, flatten, for_device

    try:
        eff = for_device(_profiles(profiles, data), _kind(device, kind, data), device)
    except ProfileRejected as exc:
        _fail(f"profile refused: {exc}")
    if as_json:
        typer.echo(
            json.dumps(
                {"version": eff.version, "sha256": eff.hash, "profile": eff.data, "sources": eff.sources}, indent=2
            )
        )
        return
    typer.echo(f"# {device} ({eff.kind}) version {eff.version}")
    for key, value in flatten(eff.data).items():
        typer.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}    # {eff.sources[key]}")


@app.command("validate")
def validate_cmd(
    path: Annotated[Path, typer.Argument(help="a station or device layer (TOML)")],
    kind: Annotated[str, typer.Option("--type")],
) -> None:
    """Check one layer against the schema: exit 1 naming each key, value and what was expected."""
    from firmware_config.layers import ProfileRejected, default_layer, effective, read_layer

    k = _kind("", kind, None)
    try:
        effective(k, [("default", default_layer(k)), (str(path), read_layer(path))])
    except ProfileRejected as exc:
        for problem in exc.problems:
            typer.echo(f"{exc.where}: {problem}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{path}: valid {k} profile layer")


@app.command("diff")
def diff_cmd(
    before: Annotated[Path, typer.Argument(help="JSON from `config show --json`, or a TOML layer")],
    after: Annotated[Path, typer.Argument()],
) -> None:
    """The keys that differ between two profile versions."""
    from firmware_config.layers import diff, read_layer

    def load(p: Path) -> dict[str, Any]:
        if p.suffix == ".json":
            body = json.loads(p.read_text())
            return dict(body.get("profile", body))
        return read_layer(p)

    changes = diff(load(before), load(after))
    for c in changes:
        typer.echo(f"{c.key}: {json.dumps(c.before, ensure_ascii=False)} -> {json.dumps(c.after, ensure_ascii=False)}")
    if not changes:
        typer.echo("no differences")


def _node_profiles(data: Path, config: Path | None) -> Any:
    """The edge node's ProfileService on DATA (the node may be serving at the same time: SQLite WAL)."""
    from provisioning.cli import _edge_node

    return _edge_node(data, config)


EdgeConfigOpt = Annotated[Path | None, typer.Option("--config", help="the edge node's TOML settings")]
NodeDataOpt = Annotated[Path, typer.Option("--data", help="the edge node's data folder")]


@app.command("desire")
def desire_cmd(
    device: Annotated[str, typer.Option("--device")],
    data: NodeDataOpt,
    version: Annotated[
        str | None, typer.Option("--version", help="the effective version you reviewed (`config show`)")
    ] = None,
    config: EdgeConfigOpt = None,
) -> None:
    """Set the profile a device should run: its effective profile from the station's layers. The device fetches it,
    applies it, checks its health and reports (see `config status`)."""
    from edge.errors import DomainError
    from provisioning.cli import _technician

    node = _node_profiles(data, config)
    try:
        wanted = node.profiles.desire(device, _technician(), version)
    except DomainError as exc:
        for problem in list(exc.details.get("problems", [])):  # type: ignore[call-overload]
            typer.echo(f"refused: {problem}", err=True)
        _fail(exc.message)
    finally:
        node.store.close()
    typer.echo(f"{device}: desired profile {wanted.version} (sha256 {wanted.sha256})")


@app.command("status")
def status_cmd(
    data: NodeDataOpt, config: EdgeConfigOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Desired vs reported profile of every device with a profile set."""
    node = _node_profiles(data, config)
    try:
        states = node.profiles.states()
    finally:
        node.store.close()
    if as_json:
        typer.echo(json.dumps(states, indent=2))
        return
    for device, s in sorted(states.items()):
        reasons = "; ".join(s["reported_reasons"])
        typer.echo(
            f"{device}\tdesired {s['desired_version']}\tin force {s['reported_version'] or '-'}\t"
            f"{s['reported_outcome'] or 'pending'} {reasons}".rstrip()
        )


@app.command("rollout")
def rollout_cmd(
    data: NodeDataOpt,
    devices: Annotated[str | None, typer.Option("--devices", help="comma-separated device ids")] = None,
    kind: Annotated[str | None, typer.Option("--type", help="every enabled device of this type")] = None,
    first: Annotated[str, typer.Option("--first", help="first wave: a share (0.1) or comma-separated ids")] = "0.1",
    wave_size: Annotated[int, typer.Option("--wave-size", min=1)] = 10,
    failure_bound: Annotated[int, typer.Option("--failure-bound", min=1, help="stop once this many failed")] = 1,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds to wait for each device's report")] = 120.0,
    concurrent: Annotated[
        bool, typer.Option("--concurrent", help="ask a whole wave at once; the bound is checked after each wave")
    ] = False,
    config: EdgeConfigOpt = None,
) -> None:
    """Roll each device's effective profile out in waves; stops by itself at the failure bound. Exit 1 if stopped."""
    from edge.errors import DomainError
    from provisioning.cli import _technician

    node = _node_profiles(data, config)
    try:
        if devices:
            targets = [d.strip() for d in devices.split(",") if d.strip()]
        elif kind:
            targets = [d["id"] for d in node.auth.list_devices() if d["type"] == kind and d["enabled"]]
        else:
            _fail("give --devices or --type", 2)
        try:
            wave: float | list[str] = float(first)
        except ValueError:
            wave = [d.strip() for d in first.split(",") if d.strip()]
        try:
            report = node.profiles.rollout(
                targets, _technician(), failure_bound, wave, wave_size, timeout, concurrent=concurrent
            )
        except (DomainError, ValueError) as exc:
            for problem in getattr(exc, "details", {}).get("problems", []):
                typer.echo(f"refused: {problem}", err=True)
            _fail(getattr(exc, "message", str(exc)))
    finally:
        node.store.close()
    typer.echo(
        json.dumps(
            {
                "applied": report.applied,
                "failed": report.failed,
                "not_attempted": report.not_attempted,
                "stopped": report.stopped,
                "waves": report.waves,
            },
            indent=2,
        )
    )
    if report.stopped:
        raise typer.Exit(1)
