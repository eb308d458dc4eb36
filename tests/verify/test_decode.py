"""Decoding uploads: JPEG, PNG, JPEG 2000 and grayscale decode; oversized, corrupt, truncated and unknown files are refused."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from edge.verify.decode import MAX_BYTES, ImageRejected, decode_image
from edge.verify.opencv import cv2
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
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", raw)
        + chunk(b"IEND", b"")
    )


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


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


@pytest.fixture(scope="module")
def decoy_jp2() -> bytes:
    """A real 8000x6000 JPEG 2000 (uniform grey, a few hundred bytes) with an `xml ` box before its header holding a
    decoy `ihdr` that claims 100x100: a reader that trusts the first `ihdr` it finds sees a small image."""
    real = encode(np.full((6000, 8000, 3), 128, np.uint8), ".jp2", [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1])
    signature_and_ftyp = real[:32]
    assert signature_and_ftyp[16:20] == b"ftyp" and real[32:36] != b"xml "
    decoy = _box(b"xml ", b"<x>" + b"ihdr" + struct.pack(">IIHBBBB", 100, 100, 3, 7, 7, 0, 0) + b"</x>")
    return signature_and_ftyp + decoy + real[32:]


def test_jp2_size_comes_from_the_codestream_not_a_decoy_ihdr(decoy_jp2):
    assert len(decoy_jp2) < 4096 and decoy_jp2.find(b"ihdr") < decoy_jp2.find(b"jp2h")  # the decoy comes first
    with pytest.raises(ImageRejected) as exc:
        decode_image(decoy_jp2, "card_photo")
    assert exc.value.problem == "too_many_pixels" and exc.value.too_large and "8000x6000" in str(exc.value)


def test_jp2_whose_image_header_disagrees_with_its_codestream_is_corrupt():
    real = encode(load("obama_1.jpg"), ".jp2")
    at = real.find(b"ihdr") + 4
    lying = real[:at] + struct.pack(">II", 100, 100) + real[at + 8 :]
    with pytest.raises(ImageRejected) as exc:
        decode_image(lying)
    assert exc.value.problem == "corrupt" and "codestream" in exc.value.message
    # the same file with its header intact decodes, and so does its bare codestream
    assert decode_image(real).shape == load("obama_1.jpg").shape
    j2k = real[real.find(b"jp2c") + 4 :]
    assert decode_image(j2k).shape == load("obama_1.jpg").shape


def test_truncated_jpeg_with_an_end_marker_appended_is_refused():
    jpeg = photo("obama_1.jpg")
    for forged in (jpeg[: len(jpeg) // 2] + b"\xff\xd9", jpeg[:-300] + b"\xff\xd9"):
        with pytest.raises(ImageRejected) as exc:
            decode_image(forged, "live[0]")
        assert exc.value.problem in ("truncated", "corrupt") and exc.value.field == "live[0]"
    # EXIF orientation is still applied as before (the attack samples are stored sideways)
    assert decode_image(photo("antispoof_F1.jpg")).shape[:2] == (640, 480)


_FRESH_PROCESS = """
import struct, sys
sys.path.insert(0, {tests!r})
from tests.verify.test_decode import _png
import edge.verify.decode as decode
import os
assert os.environ["OPENCV_IO_MAX_IMAGE_PIXELS"] == str(decode.DECODER_MAX_PIXELS) == "40000000"
decode._SIZES["png"] = lambda data: (100, 100)  # a header reader fooled: only the decoder's own cap is left
try:
    decode.decode_image(_png(8000, 6000))
except decode.ImageRejected as exc:
    print(exc.problem, exc.too_large)
else:
    print("decoded")
"""


def test_opencv_decoder_is_capped_even_when_a_header_check_is_fooled():
    """In a fresh interpreter (OpenCV reads its cap once, when it loads): the pipeline's import sets the cap."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS.format(tests=str(root))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["too_many_pixels", "True"]
