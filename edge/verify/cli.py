"""`markaz verify ...`: face-match verification from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from edge.verify.pipeline import Verifier

app = typer.Typer(help="Face-match verification (card photo against live frames).", no_args_is_help=True)


def _verifier() -> Verifier:
    from edge.verify.service import shared_verifier
    from edge.verify.settings import VerifySettings
    from models.registry import ModelError

    try:
        return shared_verifier(VerifySettings())
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command("photos")
def photos(
    card_photo: Path = typer.Argument(..., exists=True, dir_okay=False, help="the document photo"),
    live: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="1-5 live frames"),
    as_json: bool = typer.Option(False, "--json", help="print the decision as JSON"),
) -> None:
    """One verification of a card photo against live frames, liveness included; exit 0 on match, 1 otherwise."""
    from edge.verify.decode import ImageRejected

    if not 1 <= len(live) <= 5:
        typer.echo("error: give 1 to 5 live frames", err=True)
        raise typer.Exit(2)
    verifier = _verifier()
    try:
        decision = verifier.verify(card_photo.read_bytes(), [p.read_bytes() for p in live])
    except ImageRejected as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    out = decision.as_dict()
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"{decision.decision} ({decision.reason}): {decision.message}")
        if decision.score is not None:
            typer.echo(
                f"  score {decision.score:.4f} (threshold {decision.threshold:.4f}), "
                f"distance {decision.distance:.4f} (threshold {decision.distance_threshold:.4f})"
            )
        if decision.liveness is not None:
            typer.echo(f"  liveness {decision.liveness:.4f} (threshold {decision.liveness_threshold:.2f})")
        typer.echo(f"  frames used {decision.frames_used}/{decision.frames}; timings ms {decision.timings_ms}")
    raise typer.Exit(0 if decision.decision == "match" else 1)


@app.command("pairs")
def pairs(
    pairs_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="lines `a<TAB>b`, paths relative to --root"
    ),
    root: Path = typer.Option(
        Path("."), "--root", exists=True, file_okay=False, help="folder the paths are relative to"
    ),
    as_json: bool = typer.Option(
        False, "--json", help='one JSON object per line: {"a","b","score","distance","decision"}'
    ),
) -> None:
    """Score many pairs for identity only (no liveness), models loaded once, each image embedded once."""
    from edge.verify import lfw
    from edge.verify.embed import score_from_distance

    rows = []
    for n, line in enumerate(pairs_file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            typer.echo(f"error: {pairs_file}:{n}: expected `a<TAB>b`", err=True)
            raise typer.Exit(2)
        rows.append((parts[0], parts[1]))
    missing = sorted({p for row in rows for p in row if not (root / p).is_file()})
    for p in missing:
        typer.echo(f"warning: {root / p} not found: its pairs get decision retry", err=True)
    verifier = _verifier()
    threshold = verifier.settings.distance_threshold
    embs = lfw.embed_files(verifier, root, [p for row in rows for p in row])
    for a, b in rows:
        ea, eb = embs.get(a), embs.get(b)
        if ea is None or eb is None:
            dist = score = None
            decision = "retry"
        else:
            dist = round(float(((ea - eb) ** 2).sum() ** 0.5), 6)
            score = round(score_from_distance(dist), 6)
            decision = "match" if dist <= threshold else "no_match"
        if as_json:
            sys.stdout.write(
                json.dumps({"a": a, "b": b, "score": score, "distance": dist, "decision": decision}) + "\n"
            )
        else:
            sys.stdout.write(f"{a}\t{b}\t{decision}\t{'-' if dist is None else f'{dist:.4f}'}\n")
    sys.stdout.flush()


@app.command("calibrate")
def calibrate_cmd(
    lfw_dir: Path = typer.Option(
        Path("../shared/lfw"), "--lfw", exists=True, file_okay=False, help="LFW folder (images/, pairsDev*.txt)"
    ),
    fmr: float = typer.Option(0.001, "--fmr", min=1e-6, max=0.5, help="target false-match rate"),
    as_json: bool = typer.Option(False, "--json"),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse LFW embeddings cached in the temp folder"),
) -> None:
    """Distance threshold at a target false-match rate over all cross-identity pairs of LFW View 1's images."""
    from edge.verify.calibrate import calibrate

    verifier = _verifier()

    def progress(done: int, total: int) -> None:
        if done % 1024 < 32 or done == total:
            typer.echo(f"embedded {done}/{total}", err=True)

    result = calibrate(verifier, lfw_dir, fmr, progress=progress, cache=cache)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            typer.echo(f"{k:34} {v}")
