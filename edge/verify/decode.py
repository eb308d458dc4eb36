"""Decode JPEG, PNG and JPEG 2000 images from bytes, refusing oversized, unknown, corrupt or truncated files.

Three guards, in order: the size each format's own header states (for JPEG 2000 the codestream's SIZ marker, never a
box that merely looks like a header), checked before any pixel memory exists; a strict JPEG pass (libjpeg-turbo with
its warnings as errors: a cut-off file with an end marker appended is refused, not filled with grey); and OpenCV's own
decoder cap (edge/verify/opencv.py) behind both."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import numpy as np
import simplejpeg

from edge.verify.limits import MAX_COMPONENTS, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS
from edge.verify.opencv import DECODER_MAX_PIXELS, cv2

MAX_BYTES = MAX_IMAGE_BYTES
MAX_PIXELS = MAX_IMAGE_PIXELS

Data = bytes | bytearray


class ImageRejected(Exception):
    """An upload that is not a usable image. `too_large` maps to HTTP 413, anything else to 422.

    The message names the problem and the field, never the content."""

    def __init__(self, field: str, problem: str, message: str, too_large: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = problem
        self.message = message
        self.too_large = too_large


class _Corrupt(Exception):
    """A header that cannot be read; the message says which part, never the bytes."""


def sniff(data: Data) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "jp2"
    if data[:4] == b"\xff\x4f\xff\x51":
        return "j2k"
    return None


def _jpeg_size(data: Data) -> tuple[int, int]:
    # libjpeg-turbo's own header reading: the frame it will decode, whatever markers precede it
    try:
        height, width, _colour, _subsampling = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        raise _Corrupt("libjpeg-turbo cannot read it") from None
    return width, height


def _png_size(data: Data) -> tuple[int, int]:
    # IHDR is the first chunk by definition, and libpng reads it from there
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise _Corrupt("no IHDR chunk")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _boxes(data: Data, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """The boxes of a JPEG 2000 file between start and end: (type, payload start, payload end)."""
    at = start
    while at < end:
        if at + 8 > end:
            raise _Corrupt("box header cut short")
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if length == 1:  # a 64-bit length follows the type
            if at + 16 > end:
                raise _Corrupt("box header cut short")
            (length,) = struct.unpack(">Q", data[at + 8 : at + 16])
            header = 16
        elif length == 0:  # the last box runs to the end of the file
            length = end - at
        if length < header or at + length > end:
            raise _Corrupt(f"box {kind!r} overruns the file")
        yield kind, at + header, at + length
        at += length


def _siz(data: Data, start: int, end: int) -> tuple[int, int]:
    """The image size from a codestream's SIZ marker segment, which directly follows SOC and is what OpenJPEG decodes."""
    if end - start < 42 or data[start : start + 4] != b"\xff\x4f\xff\x51":
        raise _Corrupt("codestream does not start with SOC and SIZ")
    lsiz, _rsiz, xsiz, ysiz, xosiz, yosiz = struct.unpack(">HHIIII", data[start + 4 : start + 24])
    (csiz,) = struct.unpack(">H", data[start + 40 : start + 42])
    if lsiz != 38 + 3 * csiz or start + 2 + lsiz > end:
        raise _Corrupt("SIZ marker length does not match its components")
    if not 1 <= csiz <= MAX_COMPONENTS:
        raise _Corrupt(f"{csiz} components (at most {MAX_COMPONENTS})")
    if xosiz >= xsiz or yosiz >= ysiz:
        raise _Corrupt("SIZ image offset outside the image")
    return xsiz - xosiz, ysiz - yosiz


def _jp2_size(data: Data) -> tuple[int, int]:
    # Walk the top-level boxes to the first contiguous codestream: a box that only contains the bytes "ihdr" (an
    # `xml ` box, a UUID box) is never read as a header. The image header, when present, must agree.
    declared = None
    for kind, start, end in _boxes(data, 0, len(data)):
        if kind == b"jp2h":
            for sub, s_start, s_end in _boxes(data, start, end):
                if sub == b"ihdr" and s_end - s_start >= 8:
                    height, width = struct.unpack(">II", data[s_start : s_start + 8])
                    declared = (width, height)
        elif kind == b"jp2c":
            size = _siz(data, start, end)
            if declared is not None and declared != size:
                raise _Corrupt(f"image header says {declared[0]}x{declared[1]}, the codestream {size[0]}x{size[1]}")
            return size
    raise _Corrupt("no codestream box")


def _j2k_size(data: Data) -> tuple[int, int]:
    return _siz(data, 0, len(data))


_SIZES = {"jpeg": _jpeg_size, "png": _png_size, "jp2": _jp2_size, "j2k": _j2k_size}


def _jpeg_problem(exc: ValueError) -> str:
    return "truncated" if "premature end" in str(exc).lower() else "corrupt"


def _check_jpeg_strictly(data: Data, field: str) -> None:
    # libjpeg "decodes" a cut-off or damaged JPEG with a warning, filling the rest with grey; libjpeg-turbo's strict
    # mode makes every warning an error. At 1/8 scale the whole entropy-coded data is still read, for a fraction of
    # the cost; the picture itself is then decoded by OpenCV as before (which also applies EXIF orientation).
    try:
        _h, _w, colour, _sub = simplejpeg.decode_jpeg_header(data)
        simplejpeg.decode_jpeg(data, colorspace="CMYK" if colour == "CMYK" else "GRAY", min_factor=8, strict=True)
    except ValueError as exc:
        problem = _jpeg_problem(exc)
        raise ImageRejected(field, problem, f"{problem} jpeg file") from None


def _truncated_png(data: Data) -> bool:
    return b"IEND" not in data[-64:]


def decode_image(
    data: Data, field: str = "image", max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS
) -> np.ndarray:
    """BGR uint8 image (grayscale and alpha images come back as 3-channel colour)."""
    if len(data) > max_bytes:
        raise ImageRejected(field, "too_large", f"file is {len(data)} bytes, the limit is {max_bytes}", too_large=True)
    if not data:
        raise ImageRejected(field, "empty", "file is empty")
    kind = sniff(data)
    if kind is None:
        raise ImageRejected(field, "unsupported_format", "not a JPEG, PNG or JPEG 2000 image")
    try:
        w, h = _SIZES[kind](data)
    except _Corrupt as exc:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} header ({exc})") from None
    if w <= 0 or h <= 0:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} header (size {w}x{h})")
    # checked on the header, before any pixel memory is allocated (decompression bombs)
    if w * h > max_pixels:
        raise ImageRejected(
            field, "too_many_pixels", f"image is {w}x{h} pixels, the limit is {max_pixels}", too_large=True
        )
    if kind == "jpeg":
        _check_jpeg_strictly(data, field)
    elif kind == "png" and _truncated_png(data):
        raise ImageRejected(field, "truncated", f"truncated {kind} file")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        if "CV_IO_MAX_IMAGE_PIXELS" in str(exc):
            raise ImageRejected(
                field,
                "too_many_pixels",
                f"image is over the decoder's limit of {DECODER_MAX_PIXELS} pixels",
                too_large=True,
            ) from None
        raise ImageRejected(field, "corrupt", f"corrupt {kind} data") from None
    if img is None or img.size == 0:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} data")
    return img
