"""`markaz provision ...`: the technicians' tools."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Technicians' tools: station PKI, enrolment, broker credentials.", no_args_is_help=True)

CaOpt = Annotated[Path, typer.Option("--ca", help="CA path without suffix (reads CA.crt and CA.key)")]


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
    issued = issue(_ca(ca), out or ca.parent / f"station-{station}", station)
    typer.echo(f"station {station}: {issued.cert} {issued.key}")


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
        conf = broker.render(out, port, ca, cert, key, bind=bind, central=central or [CENTRAL_IDENTITY], user=user)
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
