"""The device's own health after a profile change: the parts the profile points at still work."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def camera_ok(camera: dict[str, Any]) -> bool:
    """The camera source opens and delivers a frame at the profile's resolution."""
    import cv2

    source: Any = int(camera["source"]) if str(camera["source"]).isdigit() else camera["source"]
    cap = cv2.VideoCapture(source)
    try:
        if not cap.isOpened():
            return False
        ok, frame = cap.read()
        return bool(ok) and frame.shape[1] == camera["width"] and frame.shape[0] == camera["height"]
    finally:
        cap.release()


def printer_ok(printer: dict[str, Any]) -> bool:
    """The ESC/POS sink takes bytes: a writable folder for file://, a listening socket for tcp://."""
    uri = urlparse(printer["uri"])
    if uri.scheme == "file":
        folder = Path(uri.path)
        return folder.is_dir() and (folder.stat().st_mode & 0o200) != 0
    try:
        socket.create_connection((uri.hostname or "127.0.0.1", uri.port or 9100), timeout=2).close()
        return True
    except OSError:
        return False


def reader_ok(reader: dict[str, Any]) -> bool:
    """A PC/SC reader whose name contains the profile's pattern is present (needs pcscd)."""
    try:
        from smartcard.System import readers

        return any(reader["pattern"] in str(r) for r in readers())
    except Exception:
        return False


KIOSK_CHECKS = {
    "camera": lambda p: camera_ok(p["camera"]),
    "printer": lambda p: printer_ok(p["printer"]),
    "reader": lambda p: reader_ok(p["reader"]),
}


def kiosk_health(checks: tuple[str, ...] = ("reader", "camera", "printer")) -> Callable[[dict[str, Any]], list[str]]:
    """A health check over the named parts, for `apply_profile`."""

    def run(profile: dict[str, Any]) -> list[str]:
        return [name for name in checks if not KIOSK_CHECKS[name](profile)]

    return run
