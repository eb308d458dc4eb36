"""`markaz edge ...`: run and administer the station's edge node."""

import typer

app = typer.Typer(help="The station's edge node: serve, migrate, back up, users, devices, audit.", no_args_is_help=True)
