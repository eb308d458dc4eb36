"""Browser fixtures (Debian's Chromium through Playwright) for the kiosk's screens."""

from tests.ui.fixtures import chromium, page

__all__ = ["chromium", "page"]
