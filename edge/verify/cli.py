"""`markaz verify ...`: face-match verification from the command line."""

import typer

app = typer.Typer(help="Face-match verification (card photo against live frames).", no_args_is_help=True)
