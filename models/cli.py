"""`markaz models ...`: list and verify the shipped ONNX models."""

import json

import typer

from models.registry import MANIFEST, MODELS_DIR, ModelError, check, load_manifest

app = typer.Typer(help="The shipped ONNX models and their manifest.", no_args_is_help=True)


@app.command("list")
def list_models(as_json: bool = typer.Option(False, "--json", help="one JSON object per model")) -> None:
    """List the models of the manifest: name, version, file, licence, role."""
    for entry in load_manifest(MANIFEST).values():
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "name": entry.name,
                        "version": entry.version,
                        "file": entry.file,
                        "sha256": entry.sha256,
                        "licence": entry.licence,
                        "source": entry.source,
                        "input": entry.input,
                        "output": entry.output,
                        "params": entry.params,
                    }
                )
            )
        else:
            typer.echo(f"{entry.name:16} {entry.version:26} {entry.file:44} {entry.licence}")


@app.command("verify")
def verify_models() -> None:
    """Check every model file against the manifest's sha256; exit 1 on any missing or mismatched file."""
    failed = 0
    for entry in load_manifest(MANIFEST).values():
        try:
            check(entry, MODELS_DIR)
            typer.echo(f"ok       {entry.name:16} {entry.file}")
        except ModelError as exc:
            failed += 1
            typer.echo(f"FAILED   {exc}", err=True)
    if failed:
        raise typer.Exit(1)
