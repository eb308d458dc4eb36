"""Document numbers in one canonical form, so the same document is the same number however it was written.

The attempt limit and the audit log key on a hash of the number: a full-width, Arabic-Indic or lower-case copy, or one
with MRZ fillers, must hash the same, and anything that cannot be a document number is refused rather than hashed to
a fresh identity (a Cyrillic 'А' looks like a Latin 'A' but would otherwise count as another document)."""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 64
# MRZ filler, spaces and the separators people type between groups of digits
_FILLERS = re.compile(r"[<\s\-./]+")
_CANONICAL = re.compile(rf"[A-Z0-9]{{1,{MAX_LENGTH}}}")


class InvalidDocumentNumber(ValueError):
    """Not a document number (the message never repeats it)."""


def normalise_document_number(raw: str) -> str:
    """NFKC (full-width and other compatibility forms fold to ASCII), every script's decimal digits as ASCII digits,
    upper case, fillers removed; raises InvalidDocumentNumber unless 1-64 letters A-Z and digits remain."""
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)
    text = _FILLERS.sub("", text.upper())
    if not _CANONICAL.fullmatch(text):
        raise InvalidDocumentNumber(
            f"document_number must be 1-{MAX_LENGTH} letters A-Z and digits (fillers '<', spaces and hyphens are ignored)"
        )
    return text
