"""`markaz kiosk card ...`: read an ePassport/eID chip, or run the virtual card."""

import typer

app = typer.Typer(help="Smart-card reader tools (ICAO 9303 eMRTD over PC/SC).", no_args_is_help=True)
