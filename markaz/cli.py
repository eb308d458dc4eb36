"""The umbrella command `markaz`: each part of the system brings its own sub-app, mirroring the folders."""

from __future__ import annotations

from typing import Annotated

import typer

from markaz import __version__

app = typer.Typer(
    name="markaz",
    help="markaz: the edge service of a police station's self-service hall, and the central view of all stations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"markaz {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Sub-commands per part: edge, kiosk, verify, models, central, provision, demo."""


def _register() -> None:
    # Imports are light on purpose: heavy libraries (onnxruntime, cv2, pyscard, paho) load inside commands.
    from central.cli import app as central_app
    from edge.cli import app as edge_app
    from edge.verify.cli import app as verify_app
    from firmware_config.cli import app as config_app
    from kiosk.cli import app as kiosk_app
    from markaz.demo import demo
    from models.cli import app as models_app
    from prosecution.cli import app as prosecution_app
    from provisioning.cli import app as provision_app

    app.add_typer(edge_app, name="edge")
    app.add_typer(kiosk_app, name="kiosk")
    app.add_typer(verify_app, name="verify")
    app.add_typer(models_app, name="models")
    app.add_typer(central_app, name="central")
    app.add_typer(provision_app, name="provision")
    app.add_typer(config_app, name="config")
    app.add_typer(prosecution_app, name="prosecution")
    app.command("demo")(demo)


_register()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
