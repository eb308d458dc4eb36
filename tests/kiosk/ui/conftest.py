"""Browser fixtures (Debian's Chromium through Playwright) for the kiosk's screens, and the station of the visits."""

from tests.kiosk.ui.test_visits import station, videos
from tests.ui.fixtures import chromium, page

__all__ = ["chromium", "page", "station", "videos"]
