"""Browser fixtures for tests/ui; other test folders import the same ones: `from tests.ui.fixtures import chromium, page`."""

from tests.ui.fixtures import chromium, page

__all__ = ["chromium", "page"]
