"""`markaz central ...`: the central platform."""

import typer

app = typer.Typer(help="Central platform: telemetry ingest, store, dashboard.", no_args_is_help=True)
