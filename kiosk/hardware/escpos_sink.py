"""A TCP "printer" that speaks enough ESC/POS for python-escpos and keeps what it prints, as images.

For tests and the demo, where no printer exists: it answers the real-time status queries (DLE EOT 1 and 4) from
its `paper` and `online` settings, decodes `GS v 0` raster images, treats `ESC d` / LF as paper feed and a cut
(`GS V`) as the end of a receipt. Each receipt becomes one black-and-white image (and, when a folder is given, a PNG).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ESC, GS, DLE, EOT, LF = 0x1B, 0x1D, 0x10, 0x04, 0x0A
STATUS_ONLINE = {True: 0x12, False: 0x1A}  # bit 3 set = offline
STATUS_PAPER = {"ok": 0x12, "low": 0x1E, "out": 0x72}
FEED_LINE_PX = 30


@dataclass
class PrintedReceipt:
    image: Image.Image
    raw: bytes = field(repr=False)


class _Decoder:
    """Turns one connection's byte stream into receipts; keeps partial commands across reads."""

    def __init__(self, sink: EscposSink, reply: socket.socket) -> None:
        self.sink = sink
        self.reply = reply
        self.buffer = bytearray()
        self.raw = bytearray()
        self.parts: list[Image.Image] = []
        self._feed_parts: list[Image.Image] = []

    def feed(self, data: bytes) -> None:
        self.buffer += data
        self.raw += data
        while self.buffer:
            used = self._one()
            if used == 0:
                return  # incomplete command: wait for more bytes
            del self.buffer[:used]

    def _one(self) -> int:
        b = self.buffer
        head = b[0]
        if head == DLE:
            if len(b) < 3:
                return 0
            if b[1] == EOT:
                value = STATUS_ONLINE[self.sink.online] if b[2] == 1 else STATUS_PAPER.get(self.sink.paper, 0x12)
                self.reply.sendall(bytes([value]))
            return 3
        if head == ESC:
            if len(b) < 2:
                return 0
            if b[1] == ord("@"):
                return 2
            if b[1] == ord("d"):
                if len(b) < 3:
                    return 0
                self._blank(b[2] * FEED_LINE_PX)
                return 3
            return min(len(b), 3) if len(b) >= 3 else 0  # ESC a n, ESC ! n, ESC 2/3: ignored
        if head == GS:
            if len(b) < 2:
                return 0
            if b[1] == ord("v"):
                if len(b) < 8:
                    return 0
                width_bytes = b[4] | b[5] << 8
                height = b[6] | b[7] << 8
                size = width_bytes * height
                if len(b) < 8 + size:
                    return 0
                self._raster(bytes(b[8 : 8 + size]), width_bytes, height)
                return 8 + size
            if b[1] == ord("V"):
                if len(b) < 3:
                    return 0
                used = 4 if b[2] in (65, 66) else 3
                if len(b) < used:
                    return 0
                self.finish()
                return used
            return min(len(b), 3) if len(b) >= 3 else 0
        if head == LF:
            self._blank(FEED_LINE_PX)
            return 1
        return 1  # plain text bytes: this sink keeps images only

    def _raster(self, data: bytes, width_bytes: int, height: int) -> None:
        # ESC/POS raster: 1 bit per dot, most significant bit first, 1 = black; PIL mode "1" uses 1 = white
        image = Image.frombytes("1", (width_bytes * 8, height), bytes(~v & 0xFF for v in data))
        self.parts.append(image)

    def _blank(self, height: int) -> None:
        if self.parts and height:
            blank = Image.new("1", (self.parts[-1].width, height), 1)
            self._feed_parts.append(blank)
            self.parts.append(blank)

    def finish(self) -> None:
        parts, self.parts = self.parts, []
        while parts and any(parts[-1] is f for f in self._feed_parts):
            parts.pop()  # the feed before the cut is paper, not content
        self._feed_parts = []
        if not parts:
            return
        width = max(i.width for i in parts)
        receipt = Image.new("1", (width, sum(i.height for i in parts)), 1)
        y = 0
        for part in parts:
            receipt.paste(part, (0, y))
            y += part.height
        self.sink._keep(PrintedReceipt(receipt, bytes(self.raw)))
        self.raw = bytearray()


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        decoder = _Decoder(self.server.sink, self.request)
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                break
            if not data:
                break
            decoder.feed(data)
        decoder.finish()  # a job that ends without a cut still counts as printed


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: EscposSink


class EscposSink:
    """`with EscposSink() as sink: sink.uri` -> "tcp://127.0.0.1:PORT"; `sink.receipts` fills as jobs arrive."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, save_dir: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.save_dir = save_dir
        self.paper = "ok"  # ok | low | out
        self.online = True
        self.receipts: list[PrintedReceipt] = []
        self._arrived = threading.Condition()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def uri(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def start(self) -> EscposSink:
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="escpos-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: a printer switched off (connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> EscposSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _keep(self, receipt: PrintedReceipt) -> None:
        with self._arrived:
            self.receipts.append(receipt)
            if self.save_dir is not None:
                self.save_dir.mkdir(parents=True, exist_ok=True)
                receipt.image.save(self.save_dir / f"receipt-{len(self.receipts):04d}.png")
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[PrintedReceipt]:
        """Block until `count` receipts have arrived (or the time-out); returns them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.receipts) >= count, timeout)
            return list(self.receipts)


def main() -> None:  # pragma: no cover - `python -m kiosk.hardware.escpos_sink PORT DIR` for a manual demo
    import sys
    import time

    sink = EscposSink(port=int(sys.argv[1]), save_dir=Path(sys.argv[2])).start()
    print(sink.uri, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
