"""Decoding uploads: JPEG, PNG, JPEG 2000 and grayscale decode; oversized, corrupt, truncated and unknown files are refused."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from edge.verify.decode import MAX_BYTES, ImageRejected, decode_image
from tests.verify.conftest import encode, load, photo


@pytest.mark.parametrize("ext", [".jpg", ".png", ".jp2"])
def test_formats_decode_to_the_same_picture(ext):
    img = load("obama_1.jpg")
    out = decode_image(encode(img, ext))
    assert out.shape == img.shape and out.dtype == np.uint8
    # PNG is lossless; JPEG 2000 (opencv's default rate) and JPEG re-encoding stay close
    assert np.abs(out.astype(int) - img.astype(int)).mean() < 6


def test_grayscale_comes_back_as_three_channels():
    grey = cv2.cvtColor(load("obama_1.jpg"), cv2.COLOR_BGR2GRAY)
    out = decode_image(encode(grey))
    assert out.ndim == 3 and out.shape[2] == 3


def test_too_many_bytes_is_too_large():
    data = photo("obama_1.jpg") + b"\0" * (MAX_BYTES + 1)
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, "live[0]")
    assert exc.value.too_large and exc.value.field == "live[0]"


def _png(width: int, height: int) -> bytes:
    """A valid PNG of a uniform grey image, built by hand: tiny in bytes however many pixels it declares."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress((b"\0" + b"\x80" * width) * height, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def test_huge_image_is_refused_from_its_header():
    data = _png(8000, 6000)  # 48 megapixels in a few dozen kilobytes: a decompression bomb
    assert len(data) < MAX_BYTES
    with pytest.raises(ImageRejected) as exc:
        decode_image(data)
    assert exc.value.problem == "too_many_pixels" and exc.value.too_large


def test_small_hand_made_png_decodes():
    assert decode_image(_png(64, 48)).shape == (48, 64, 3)


@pytest.mark.parametrize("name", ["obama_1.jpg"])
def test_truncated_jpeg_and_png_are_refused(name):
    jpeg = photo(name)
    with pytest.raises(ImageRejected) as exc:
        decode_image(jpeg[: len(jpeg) // 2])
    assert exc.value.problem == "truncated" and not exc.value.too_large
    png = encode(load(name), ".png")
    with pytest.raises(ImageRejected):
        decode_image(png[: len(png) // 2])


def test_corrupt_and_unknown_files_are_refused():
    jpeg = bytearray(photo("obama_1.jpg"))
    corrupt = bytes(jpeg[:2]) + b"\xff\xc0\x00\x03" + bytes(200)
    with pytest.raises(ImageRejected):
        decode_image(corrupt)
    with pytest.raises(ImageRejected) as exc:
        decode_image(b"GIF89a" + bytes(100))
    assert exc.value.problem == "unsupported_format"
    with pytest.raises(ImageRejected) as exc:
        decode_image(b"")
    assert exc.value.problem == "empty"
    # the message names the problem, not the content
    assert "GIF89a" not in str(exc.value)
