"""`markaz kiosk run`: the kiosk agent process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def run(
    edge: Annotated[str | None, typer.Option(help="edge node base URL, e.g. https://edge.local:8443")] = None,
    identity: Annotated[
        Path | None, typer.Option(help="enrolled identity folder (`markaz provision enrol --out`): mutual TLS")
    ] = None,
    device_token_file: Annotated[Path | None, typer.Option(help="file holding this kiosk's device token")] = None,
    edge_ca: Annotated[Path | None, typer.Option(help="CA certificate of the edge's TLS certificate")] = None,
    reader: Annotated[str | None, typer.Option(help="card reader name pattern")] = None,
    camera: Annotated[str | None, typer.Option(help="device index, rtsp/http URL, or a video file (looped)")] = None,
    printer: Annotated[str | None, typer.Option(help="tcp://host:9100, usb:VID:PID or file:/path")] = None,
    csca: Annotated[Path | None, typer.Option(help="CSCA certificate file or folder (passive authentication)")] = None,
    host: Annotated[str | None, typer.Option(help="address of the UI (this machine only)")] = None,
    port: Annotated[int | None, typer.Option(help="port of the UI")] = None,
    config: Annotated[Path | None, typer.Option(help="TOML settings file (its kiosk table)")] = None,
) -> None:
    """Run the kiosk agent: the touch UI on http://HOST:PORT/, the visitor session, card, camera and printer."""
    import logging

    import uvicorn

    from kiosk.agent.build import build_app
    from kiosk.agent.settings import KioskSettings
    from kiosk.card.trust_store import TrustStoreError
    from kiosk.hardware.camera import CameraError
    from kiosk.hardware.printer import PrinterUriError
    from markaz.config import ConfigError, load_settings
    from markaz.web.assets import MissingAssets

    try:
        settings = load_settings(
            KioskSettings,
            config,
            "kiosk",
            edge=edge,
            identity=identity,
            device_token_file=device_token_file,
            edge_ca=edge_ca,
            reader=reader,
            camera=camera,
            printer=printer,
            csca=csca,
            host=host,
            port=port,
        )
        app = build_app(settings)
    except (ConfigError, ValueError, CameraError, PrinterUriError, TrustStoreError, MissingAssets, OSError) as exc:
        typer.echo(f"markaz kiosk run: {exc}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("httpx", "root", "escpos"):  # one line per request / printer connection drowns the agent's own
        logging.getLogger(chatty).setLevel(logging.WARNING)
    typer.echo(f"kiosk UI on http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", ws="websockets-sansio")
