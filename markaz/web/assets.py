"""Static assets served from the project and from Debian packages: no CDN, nothing fetched at run time.

`/static/web/` is this package's CSS and client script; `/static/fonts/` is Debian's `fonts-noto-core` folder
(Noto Sans Arabic and Noto Sans), installed by `make`.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/static/web"
FONTS_PREFIX = "/static/fonts"
# Debian's fonts-noto-core; MARKAZ_FONT_DIR points elsewhere on other systems
FONT_DIR = Path(os.environ.get("MARKAZ_FONT_DIR", "/usr/share/fonts/truetype/noto"))
ARABIC_FONT = "NotoSansArabic-Regular.ttf"
ARABIC_FONT_BOLD = "NotoSansArabic-Bold.ttf"
LATIN_FONT = "NotoSans-Regular.ttf"
LATIN_FONT_BOLD = "NotoSans-Bold.ttf"
REQUIRED_FONTS = (ARABIC_FONT, ARABIC_FONT_BOLD, LATIN_FONT, LATIN_FONT_BOLD)


class MissingAssets(Exception):
    """An asset the screens need is not installed: says which and how to install it."""


def font_path(name: str) -> Path:
    """The path of one installed font file (the receipt renderer draws with the same fonts the screens use)."""
    path = FONT_DIR / name
    if not path.is_file():
        raise MissingAssets(f"{path}: font not found; install Debian's fonts-noto-core (`make deps`)")
    return path


def check_assets() -> None:
    """Fail at start-up, with the fix, rather than showing a visitor boxes instead of Arabic letters."""
    for name in REQUIRED_FONTS:
        font_path(name)


def mount_assets(app: Starlette) -> None:
    """Serve the shared CSS, client script and fonts under `/static/` on `app`."""
    check_assets()
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC_DIR), name="web-static")
    app.mount(FONTS_PREFIX, StaticFiles(directory=FONT_DIR), name="web-fonts")
