"""Browser fixtures (Debian's Chromium through Playwright) for the report workbench."""

from tests.ui.fixtures import chromium, page

__all__ = ["chromium", "page"]
