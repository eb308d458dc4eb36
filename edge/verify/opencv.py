"""OpenCV, imported in this one place so its decoder's pixel cap is set before the library loads.

OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS once, when cv2 is imported. decode.py refuses large images from their headers
first; this cap stops an image whose header was misread before its pixels are allocated. Every module of the pipeline
imports cv2 from here."""

from __future__ import annotations

import logging
import os
import sys

from edge.verify.limits import MAX_IMAGE_PIXELS

log = logging.getLogger(__name__)

PIXEL_CAP_VARIABLE = "OPENCV_IO_MAX_IMAGE_PIXELS"


def _cap() -> int:
    """The cap in force: the contract's ceiling, or an operator's lower value from the environment."""
    given = os.environ.get(PIXEL_CAP_VARIABLE, "")
    return min(MAX_IMAGE_PIXELS, int(given)) if given.isdigit() and int(given) > 0 else MAX_IMAGE_PIXELS


_loaded_before = "cv2" in sys.modules
DECODER_MAX_PIXELS = _cap()
os.environ[PIXEL_CAP_VARIABLE] = str(DECODER_MAX_PIXELS)

import cv2  # noqa: E402  (after the variable is set, on purpose)

if _loaded_before:
    log.warning(
        "cv2 was imported before %s: OpenCV's decoder cap may not be in force (header checks still are)", __name__
    )

__all__ = ["DECODER_MAX_PIXELS", "PIXEL_CAP_VARIABLE", "cv2"]
