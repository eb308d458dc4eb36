"""gettext message catalogues (.po, through Babel), compiled in memory when first used: no build step, no .mo on disk.

Each screen family keeps its own catalogue folder (`<dir>/<lang>/LC_MESSAGES/markaz.po`) beside its templates, so
two parts of the system never edit the same .po file; this package's own folder holds the strings of the shared
base template. Later folders override earlier ones for the same message id.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from markaz.web.languages import Language

DOMAIN = "markaz"
BASE_CATALOGUES = Path(__file__).with_name("locales")


class CatalogueError(Exception):
    """A catalogue that cannot be read (bad syntax, a missing language): named with its file."""


def _compile(po_file: Path, language: Language) -> Translations:
    try:
        with po_file.open("rb") as fh:
            catalog = read_po(fh, locale=language.value, domain=DOMAIN, abort_invalid=True)
    except Exception as exc:  # Babel raises several types for broken files; all mean the same to the operator
        raise CatalogueError(f"{po_file}: not a readable gettext catalogue: {exc}") from exc
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def load_translations(language: Language, folders: Iterable[Path] = ()) -> Translations:
    """The merged translations for `language`: the base catalogue, then each folder's, later ones winning."""
    merged: Translations | None = None
    for folder in (BASE_CATALOGUES, *folders):
        po_file = Path(folder) / language.value / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_file.is_file():
            if folder == BASE_CATALOGUES:
                raise CatalogueError(f"{po_file}: the base catalogue for {language.value!r} is missing")
            continue
        translations = _compile(po_file, language)
        if merged is None:
            merged = translations
        else:
            # Translations.merge lets the newer catalogue's messages replace the older's
            merged.merge(translations)
    assert merged is not None
    return merged


def missing_messages(language: Language, folders: Iterable[Path], message_ids: Iterable[str]) -> list[str]:
    """Message ids that have no translation in `language`: a test uses it to keep catalogues complete."""
    translations = load_translations(language, folders)
    # a plural message (ngettext) is found by its singular id, for every count
    return sorted(
        mid
        for mid in set(message_ids)
        if translations.gettext(mid) == mid and any(translations.ngettext(mid, mid, n) == mid for n in (1, 2, 3, 11))
    )
