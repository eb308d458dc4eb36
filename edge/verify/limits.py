"""The limits of a verification upload: the contract's ceilings, which settings may lower but never raise."""

from __future__ import annotations

MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
MAX_LIVE_FRAMES = 5
# multipart framing and the document number on top of the image bytes
FORM_OVERHEAD = 256 * 1024
# the whole body at the ceilings: the route's own backstop (the service enforces its settings' lower limits first)
MAX_BODY_BYTES = (1 + MAX_LIVE_FRAMES) * MAX_IMAGE_BYTES + FORM_OVERHEAD
# at most this many colour components in a JPEG 2000 codestream (OpenJPEG holds 4 bytes per sample per component)
MAX_COMPONENTS = 4
