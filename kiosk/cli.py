"""`markaz kiosk ...`: the kiosk agent and its hardware tools."""

import typer

from kiosk.agent.cli import run
from kiosk.card.cli import app as card_app
from kiosk.mrz_camera.cli import app as mrz_app

app = typer.Typer(help="Kiosk agent and its hardware: card reader, camera, printer.", no_args_is_help=True)
app.add_typer(card_app, name="card")
app.add_typer(mrz_app, name="mrz")
app.command("run")(run)
