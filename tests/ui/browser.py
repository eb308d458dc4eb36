"""Debian's Chromium driven by Playwright for Python: the launch flags from DESIGN.md, never `playwright install`."""

from __future__ import annotations

import shutil
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# A kiosk screen: 1280 x 800 landscape, the common 15-16" touch panel
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> Path:
    """Debian's Chromium, or a clear error naming the package to install."""
    if not CHROMIUM.is_file():
        found = shutil.which("chromium")
        if found:
            return Path(found)
        raise RuntimeError(f"{CHROMIUM} not found: install Debian's chromium (`make deps`)")
    return CHROMIUM


def is_local(url: str) -> bool:
    """Pages and assets must come from this machine: the kiosk works with no internet."""
    return url.startswith(("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "data:", "about:", "blob:"))
