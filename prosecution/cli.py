"""`markaz prosecution serve`: the receiving service for referrals (tests and the demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="A stand-in for the public prosecution's intake: verifies and acknowledges referrals.", no_args_is_help=True
)


@app.command()
def serve(
    trust: Annotated[list[Path], typer.Option("--trust", help="a station's referral public key (PEM); repeatable")],
    data: Annotated[Path, typer.Option("--data", help="folder for the desk's database")] = Path("prosecution-data"),
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8090,
) -> None:
    """Serve POST /referrals: a package signed by a trusted station key gets a case number (once per referral id)."""
    import uvicorn

    from edge.reports.referral import ReferralInvalid, load_public_key
    from prosecution.app import create_app
    from prosecution.desk import IntakeDesk

    try:
        keys = [load_public_key(p) for p in trust]
    except (OSError, ValueError, ReferralInvalid) as exc:
        typer.echo(f"error: cannot load a trusted key: {exc}", err=True)
        raise typer.Exit(2) from None
    desk = IntakeDesk(data / "prosecution.sqlite", keys)
    typer.echo(f"prosecution intake on http://{host}:{port}/referrals ({len(keys)} trusted station keys)", err=True)
    uvicorn.run(create_app(desk), host=host, port=port, log_config=None, access_log=False)
