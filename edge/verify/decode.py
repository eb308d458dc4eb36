"""Decode JPEG, PNG and JPEG 2000 images from bytes, refusing oversized, unknown, corrupt or truncated files."""

from __future__ import annotations

import struct

import cv2
import numpy as np

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000


class ImageRejected(Exception):
    """An upload that is not a usable image. `too_large` maps to HTTP 413, anything else to 422.

    The message names the problem and the field, never the content."""

    def __init__(self, field: str, problem: str, message: str, too_large: bool = False) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = problem
        self.message = message
        self.too_large = too_large


def sniff(data: bytes) -> str | None:
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n":
        return "jp2"
    if data[:4] == b"\xff\x4f\xff\x51":
        return "j2k"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jp2_size(data: bytes) -> tuple[int, int] | None:
    at = data.find(b"ihdr", 0, 4096)
    if at < 0 or at + 12 > len(data):
        return None
    h, w = struct.unpack(">II", data[at + 4 : at + 12])
    return w, h


def _j2k_size(data: bytes) -> tuple[int, int] | None:
    # SIZ segment right after SOC: Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz
    if len(data) < 24:
        return None
    xs, ys, xo, yo = struct.unpack(">IIII", data[8:24])
    return xs - xo, ys - yo


def header_size(kind: str, data: bytes) -> tuple[int, int] | None:
    return {"jpeg": _jpeg_size, "png": _png_size, "jp2": _jp2_size, "j2k": _j2k_size}[kind](data)


def _truncated(kind: str, data: bytes) -> bool:
    # libjpeg "decodes" a cut-off JPEG by filling the rest with grey; refuse it instead of matching half a face
    if kind == "jpeg":
        sos = data.rfind(b"\xff\xda")
        return sos < 0 or data.rfind(b"\xff\xd9") < sos
    if kind == "png":
        return b"IEND" not in data[-64:]
    return False


def decode_image(data: bytes, field: str = "image", max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """BGR uint8 image (grayscale and alpha images come back as 3-channel colour)."""
    if len(data) > max_bytes:
        raise ImageRejected(field, "too_large", f"file is {len(data)} bytes, the limit is {max_bytes}", too_large=True)
    if not data:
        raise ImageRejected(field, "empty", "file is empty")
    kind = sniff(data)
    if kind is None:
        raise ImageRejected(field, "unsupported_format", "not a JPEG, PNG or JPEG 2000 image")
    size = header_size(kind, data)
    if size is None:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} header")
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} header (size {w}x{h})")
    # checked on the header, before any pixel memory is allocated (decompression bombs)
    if w * h > max_pixels:
        raise ImageRejected(field, "too_many_pixels", f"image is {w}x{h} pixels, the limit is {max_pixels}", too_large=True)
    if _truncated(kind, data):
        raise ImageRejected(field, "truncated", f"truncated {kind} file")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.size == 0:
        raise ImageRejected(field, "corrupt", f"corrupt {kind} data")
    return img
