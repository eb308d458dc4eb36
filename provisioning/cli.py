"""`markaz provision ...`: the technicians' tools."""

import typer

app = typer.Typer(help="Technicians' tools: station PKI, enrolment, broker credentials.", no_args_is_help=True)
