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
