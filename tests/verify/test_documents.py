"""Document numbers in their canonical form: one document, one hash, however the number was written."""

from __future__ import annotations

import pytest

from edge.verify.documents import InvalidDocumentNumber, normalise_document_number


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("A1234567", "A1234567"),
        (" a1234567 ", "A1234567"),
        ("Ａ１２３４５６７", "A1234567"),  # full-width forms (NFKC)
        ("A١٢٣٤٥٦٧", "A1234567"),  # Arabic-Indic digits
        ("A۱۲۳۴۵۶۷", "A1234567"),  # Extended Arabic-Indic (Persian) digits
        ("L898902C<", "L898902C"),  # MRZ filler
        ("AB-12 34", "AB1234"),
    ],
)
def test_forms_of_one_number_normalise_alike(written, canonical):
    assert normalise_document_number(written) == canonical


@pytest.mark.parametrize("bad", ["", "<<<", "Х123", "A\u200b1", "A" * 65, "🙂1"])
def test_what_cannot_be_a_document_number_is_refused_without_repeating_it(bad):
    with pytest.raises(InvalidDocumentNumber) as exc:
        normalise_document_number(bad)
    assert bad not in str(exc.value) or not bad
