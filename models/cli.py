"""`markaz models ...`: list and verify the shipped ONNX models."""

import typer

app = typer.Typer(help="The shipped ONNX models and their manifest.", no_args_is_help=True)
