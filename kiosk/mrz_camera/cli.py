"""`markaz kiosk mrz read IMAGE`: the MRZ of a photographed data page or ID card, answered only when it checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The machine-readable zone read by camera.", no_args_is_help=True)


@app.command("read")
def read(
    image: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A photo of the data page or card.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    engine: Annotated[str, typer.Option(help="glyphs (our OCR-B classifier) or tesseract.")] = "glyphs",
) -> None:
    """Find and read the MRZ; exit 0 with the fields when every check digit agrees, 1 with the field that failed. On a
    TD1 card the CAN printed beside the zone is given too (`can`); a photo of an ID card's photo side gives its CAN
    alone (`mrz_format` null)."""
    import cv2
    import numpy as np

    from kiosk.mrz_camera.can import read_can_front
    from kiosk.mrz_camera.read import MIN_LEAD, NO_ZONE, Engine, MrzNotRead, read_mrz

    picture = cv2.imdecode(np.fromfile(str(image), np.uint8), cv2.IMREAD_COLOR)
    if picture is None:
        typer.echo(f"error: {image} is not an image", err=True)
        raise typer.Exit(1)
    try:
        found = read_mrz(picture, Engine(engine))
    except ValueError:
        typer.echo(f"error: --engine must be one of {', '.join(Engine)}", err=True)
        raise typer.Exit(2) from None
    except MrzNotRead as exc:
        can = read_can_front(picture, MIN_LEAD) if exc.reason == NO_ZONE else None
        if can is None:
            typer.echo(f"error: MRZ not read: {exc.reason}", err=True)
            raise typer.Exit(1) from None
        _show({"mrz_format": None, "can": can}, json_output)  # the photo side of an ID card: its CAN, no MRZ
        return
    data = found.data
    fields: dict[str, str | None] = {
        "document_type": data.document_code,
        "mrz_format": data.format,
        "issuing_state": data.issuing_state,
        "document_number": data.document_number,
        "surname": data.surname,
        "given_names": data.given_names,
        "nationality": data.nationality,
        "birth_date": data.birth_date.isoformat() if data.birth_date else None,
        "expiry_date": data.expiry_date.isoformat() if data.expiry_date else None,
        "sex": data.sex.replace("<", "X"),
    }
    if data.format == "TD1":  # ID cards: the card access number printed beside the zone, null when none was sure
        fields["can"] = found.can
    _show(fields, json_output)


def _show(fields: dict[str, str | None], json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(fields, ensure_ascii=False))
        return
    for name, value in fields.items():
        typer.echo(f"{name:16}{value}")
