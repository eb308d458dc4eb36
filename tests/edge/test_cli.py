"""The umbrella command: version, and help for every sub-command."""

from __future__ import annotations

import pytest

from markaz import __version__
from tests.conftest import run_markaz


def test_version():
    r = run_markaz("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"markaz {__version__}"


def _commands():
    import typer.main

    from markaz.cli import app

    root = typer.main.get_command(app)
    paths = []

    def walk(cmd, prefix):
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _commands(), ids=lambda p: " ".join(p) or "markaz")
def test_every_command_has_help(path):
    r = run_markaz(*path, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage:" in r.stdout
