"""docs/openapi.json is generated from the API itself; a stale copy fails here (regenerate with `make docs`)."""

from markaz.docs import DOCS, openapi_document


def test_committed_openapi_document_is_current():
    assert (DOCS / "openapi.json").read_text(encoding="utf-8") == openapi_document(), "run `make docs`"
