"""Message ids used by a folder of templates (Babel's Jinja2 extractor): tests keep the Arabic catalogues complete."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir

METHOD_MAP = [("**.html", "jinja2")]
OPTIONS_MAP = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"}}


def template_messages(folder: Path) -> set[str]:
    """Every `_()` / `gettext()` message id in the templates under `folder`."""
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(folder), method_map=METHOD_MAP, options_map=OPTIONS_MAP
    ):
        if isinstance(message, tuple):  # ngettext: (singular, plural); a catalogue keys the pair by the singular
            if message[0]:
                found.add(message[0])
        elif message:
            found.add(message)
    return found
