"""Ticket printers through python-escpos: `tcp://host:9100`, `usb:VID:PID` or `file:/path`, with their status.

The receipt arrives as an image (Arabic is shaped by the renderer, not by the printer: python-escpos cannot print
Arabic text reliably), so any ESC/POS printer that prints raster images prints it correctly.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

from PIL import Image

log = logging.getLogger(__name__)


class PrinterState(StrEnum):
    OK = "ok"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # the printer does not report status (e.g. a file, a write-only device)


PRINTABLE = frozenset({PrinterState.OK, PrinterState.PAPER_LOW, PrinterState.UNKNOWN})


class PrinterError(RuntimeError):
    """The receipt was not printed; `state` says why."""

    def __init__(self, state: PrinterState, detail: str) -> None:
        super().__init__(detail)
        self.state = state


class Printer(Protocol):
    def status(self) -> PrinterState: ...

    def print_image(self, image: Image.Image) -> None: ...


class PrinterUriError(ValueError):
    """A printer URI the kiosk does not understand."""


def parse_uri(uri: str) -> tuple[str, dict[str, Any]]:
    """`tcp://host[:port]` -> ("tcp", {host, port}); `usb:VID:PID` (hex) -> ("usb", ...); `file:/path` -> ("file", ...)."""
    if uri.startswith("tcp://"):
        parts = urlsplit(uri)
        if not parts.hostname:
            raise PrinterUriError(f"printer {uri!r}: tcp:// needs a host")
        return "tcp", {"host": parts.hostname, "port": parts.port or 9100}
    if uri.startswith("usb:"):
        fields = uri[4:].split(":")
        try:
            vid, pid = (int(f, 16) for f in fields)
        except ValueError:
            raise PrinterUriError(f"printer {uri!r}: usb: needs VID:PID in hex, e.g. usb:04b8:0e15") from None
        return "usb", {"vid": vid, "pid": pid}
    if uri.startswith("file:"):
        path = uri[5:]
        if not path:
            raise PrinterUriError(f"printer {uri!r}: file: needs a path")
        return "file", {"path": path}
    raise PrinterUriError(f"printer {uri!r}: use tcp://host:port, usb:VID:PID or file:/path")


class EscposPrinter:
    """The real adapter: one short connection per receipt or status query (a network printer may take only one)."""

    def __init__(self, uri: str, timeout: float = 3.0, profile: str = "TM-T88V") -> None:
        self.uri = uri
        self.kind, self.params = parse_uri(uri)
        self.timeout = timeout
        self.profile = profile
        self._lock = threading.Lock()

    def retarget(self, uri: str) -> None:
        """Print to another sink from the next receipt on (the kiosk's profile names its printer)."""
        kind, params = parse_uri(uri)
        with self._lock:
            self.uri, self.kind, self.params = uri, kind, params

    def _device(self) -> Any:
        from escpos import printer  # python-escpos loads usb and serial modules; keep `markaz --help` light

        if self.kind == "tcp":
            device = printer.Network(
                self.params["host"], self.params["port"], timeout=self.timeout, profile=self.profile
            )
        elif self.kind == "usb":
            device = printer.Usb(
                self.params["vid"], self.params["pid"], timeout=int(self.timeout * 1000), profile=self.profile
            )
        else:
            device = printer.File(self.params["path"], profile=self.profile)
        try:
            device.open()
        except Exception as exc:  # python-escpos raises its own and OS errors alike for "not there"
            raise PrinterError(PrinterState.OFFLINE, f"printer {self.uri} cannot be reached: {exc}") from None
        return device

    @staticmethod
    def _query(device: Any) -> PrinterState:
        if not hasattr(device, "_read"):
            return PrinterState.UNKNOWN
        try:
            if not device.is_online():
                return PrinterState.OFFLINE
            paper = device.paper_status()
        except NotImplementedError:
            return PrinterState.UNKNOWN
        except OSError as exc:  # no answer to the status query: a printer that does not report
            log.debug("printer status query unanswered: %s", exc)
            return PrinterState.UNKNOWN
        return {0: PrinterState.PAPER_OUT, 1: PrinterState.PAPER_LOW}.get(paper, PrinterState.OK)

    def status(self) -> PrinterState:
        with self._lock:
            try:
                device = self._device()
            except PrinterError as exc:
                return exc.state
            try:
                return self._query(device)
            finally:
                device.close()

    def print_image(self, image: Image.Image) -> None:
        """Print the receipt and cut; raises PrinterError (offline, paper out) without printing half a receipt."""
        with self._lock:
            device = self._device()
            try:
                state = self._query(device)
                if state not in PRINTABLE:
                    raise PrinterError(state, f"printer {self.uri}: {state.value}")
                device.image(image.convert("1"), impl="bitImageRaster")
                device.cut()
            except PrinterError:
                raise
            except Exception as exc:
                raise PrinterError(PrinterState.OFFLINE, f"printer {self.uri}: {exc}") from None
            finally:
                device.close()
