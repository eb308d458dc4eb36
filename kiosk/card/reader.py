"""Card readers behind a small interface, with the pyscard (PC/SC, pcscd) adapter: choose, wait, watch, recover."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.card.errors import CardError, CardRemoved, NoCard, ReaderUnavailable

log = logging.getLogger(__name__)


class CardConnection(Protocol):
    """A card in a reader, ready for APDUs."""

    reader: str
    atr: bytes

    def transmit(self, apdu: bytes) -> bytes: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class CardEvent:
    kind: str  # "inserted" or "removed"
    reader: str
    atr: bytes = b""


class CardReader(Protocol):
    """Where cards come from. PcscReader is the real one; a different transport (USB CCID direct, a network reader)
    would implement the same three calls."""

    def readers(self) -> list[str]: ...

    def wait_for_card(self, timeout: float) -> CardConnection: ...

    def events(self, stop: threading.Event | None = None) -> Iterator[CardEvent]: ...


def matches(pattern: str | None, name: str) -> bool:
    """Device profiles name readers with a case-insensitive regular expression; a plain substring works too."""
    if not pattern:
        return True
    try:
        return re.search(pattern, name, re.IGNORECASE) is not None
    except re.error:
        return pattern.lower() in name.lower()


class _Scard:
    """Lazy import of pyscard's PC/SC binding: loading it connects nothing, but keep `markaz --help` light."""

    _module: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._module is None:
            from smartcard import scard

            cls._module = scard
        return cls._module


def _classify(hresult: int, what: str) -> CardError:
    s = _Scard.get()
    message = f"{what}: {s.SCardGetErrorMessage(hresult).strip()} (0x{hresult & 0xFFFFFFFF:08X})"
    removed = {
        s.SCARD_W_REMOVED_CARD,
        s.SCARD_E_NO_SMARTCARD,
        s.SCARD_W_RESET_CARD,
        s.SCARD_W_UNPOWERED_CARD,
        s.SCARD_W_UNRESPONSIVE_CARD,
        s.SCARD_E_NOT_TRANSACTED,
        s.SCARD_E_PROTO_MISMATCH,
    }
    if hresult in removed:
        return CardRemoved(f"card removed during the read ({message})")
    return ReaderUnavailable(message)


_SERVICE_GONE = (
    "SCARD_E_NO_SERVICE",
    "SCARD_E_SERVICE_STOPPED",
    "SCARD_E_INVALID_HANDLE",
    "SCARD_F_COMM_ERROR",
    "SCARD_E_NO_READERS_AVAILABLE",
    "SCARD_E_UNKNOWN_READER",
    "SCARD_E_READER_UNAVAILABLE",
    "SCARD_E_INVALID_PARAMETER",
)


class PcscConnection:
    """One card session through pcscd. Closing resets the card, so the next session starts from a clean chip state."""

    def __init__(self, context: int, handle: int, protocol: int, reader: str, atr: bytes) -> None:
        self._context: int | None = context
        self._handle: int | None = handle
        self._protocol = protocol
        self.reader = reader
        self.atr = atr

    def transmit(self, apdu: bytes) -> bytes:
        s = _Scard.get()
        if self._handle is None:
            raise CardRemoved("connection already closed")
        hresult, response = s.SCardTransmit(self._handle, self._protocol, list(apdu))
        if hresult != s.SCARD_S_SUCCESS:
            raise _classify(hresult, "transmit")
        if not response:
            # vpcd (and some USB readers) report success with no bytes when the card left mid-exchange.
            raise CardRemoved("card removed during the read (no answer)")
        return bytes(response)

    def close(self) -> None:
        s = _Scard.get()
        handle, self._handle = self._handle, None
        if handle is not None:
            s.SCardDisconnect(handle, s.SCARD_RESET_CARD)
        context, self._context = self._context, None
        if context is not None:
            s.SCardReleaseContext(context)

    def __enter__(self) -> PcscConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PcscReader:
    """PC/SC through pcscd (pyscard's low-level `scard` binding, which leaves handle lifetimes to us).

    Any PC/SC failure that means "pcscd went away or the reader vanished" drops the context and starts over after a
    short pause, so a restarted pcscd or a re-plugged reader is picked up without restarting the kiosk agent.
    """

    def __init__(self, pattern: str | None = None, poll_seconds: float = 0.5, retry_seconds: float = 0.25) -> None:
        self.pattern = pattern
        self.poll_seconds = poll_seconds
        self.retry_seconds = retry_seconds
        self._context: int | None = None

    # -- context management -------------------------------------------------------------------------------------
    def _ensure_context(self) -> int:
        s = _Scard.get()
        if self._context is None:
            hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
            if hresult != s.SCARD_S_SUCCESS:
                raise _classify(hresult, "connect to pcscd")
            self._context = context
        return self._context

    def _drop_context(self) -> None:
        s = _Scard.get()
        context, self._context = self._context, None
        if context is not None:
            s.SCardReleaseContext(context)

    def close(self) -> None:
        self._drop_context()

    def _service_gone(self, hresult: int) -> bool:
        s = _Scard.get()
        return hresult in {getattr(s, name) for name in _SERVICE_GONE if hasattr(s, name)}

    # -- readers ------------------------------------------------------------------------------------------------
    def readers(self) -> list[str]:
        """Readers whose name matches the pattern; empty when pcscd is down or has none."""
        s = _Scard.get()
        try:
            context = self._ensure_context()
        except ReaderUnavailable:
            return []
        hresult, names = s.SCardListReaders(context, [])
        if hresult != s.SCARD_S_SUCCESS:
            if self._service_gone(hresult) and hresult != s.SCARD_E_NO_READERS_AVAILABLE:
                self._drop_context()
            return []
        return [name for name in names if matches(self.pattern, name)]

    def _states(self, readers: list[str], known: dict[str, int], timeout: float) -> list[tuple[str, int, bytes]]:
        s = _Scard.get()
        context = self._ensure_context()
        query = [(name, known.get(name, s.SCARD_STATE_UNAWARE)) for name in readers]
        hresult, states = s.SCardGetStatusChange(context, int(timeout * 1000), query)
        if hresult == s.SCARD_E_TIMEOUT:
            return []
        if hresult != s.SCARD_S_SUCCESS:
            self._drop_context()
            raise _classify(hresult, "watch readers")
        return [(name, state & ~s.SCARD_STATE_CHANGED, bytes(atr)) for name, state, atr in states]

    def _connect(self, reader: str, atr: bytes) -> PcscConnection:
        s = _Scard.get()
        # Each session gets its own context: closing it never disturbs the watcher's.
        hresult, context = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        if hresult != s.SCARD_S_SUCCESS:
            raise _classify(hresult, "connect to pcscd")
        hresult, handle, protocol = s.SCardConnect(
            context, reader, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T0 | s.SCARD_PROTOCOL_T1
        )
        if hresult != s.SCARD_S_SUCCESS:
            s.SCardReleaseContext(context)
            raise _classify(hresult, f"connect to the card in {reader!r}")
        return PcscConnection(context, handle, protocol, reader, atr)

    def wait_for_card(self, timeout: float) -> PcscConnection:
        """Return a connection to the first card present in a matching reader (already there, or inserted before the
        time-out). Raises NoCard on time-out."""
        s = _Scard.get()
        deadline = time.monotonic() + timeout
        known: dict[str, int] = {}
        last_problem = "no card"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoCard(f"no card before the time-out ({timeout:g} s): {last_problem}")
            readers = self.readers()
            if not readers:
                last_problem = (
                    f"no reader matching {self.pattern!r}" if self.pattern else "no reader (is pcscd running?)"
                )
                time.sleep(min(self.retry_seconds, max(remaining, 0)))
                continue
            try:
                states = self._states(readers, known, min(self.poll_seconds, remaining))
            except CardError as exc:
                last_problem = str(exc)
                time.sleep(min(self.retry_seconds, max(remaining, 0)))
                continue
            for name, state, atr in states:
                known[name] = state
                if state & s.SCARD_STATE_PRESENT and not state & s.SCARD_STATE_MUTE:
                    try:
                        return self._connect(name, atr)
                    except CardError as exc:  # gone again between the event and the connect
                        last_problem = str(exc)

    def wait_until_empty(self, timeout: float) -> bool:
        """Wait until no matching reader holds a card (the visitor took it); True if so before the time-out."""
        s = _Scard.get()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readers = self.readers()
            if not readers:
                return True
            try:
                states = self._states(readers, {}, 0)
            except CardError:
                time.sleep(self.retry_seconds)
                continue
            if states and not any(state & s.SCARD_STATE_PRESENT for _, state, _ in states):
                return True
            time.sleep(0.05)
        return False

    def events(self, stop: threading.Event | None = None) -> Iterator[CardEvent]:
        """Insertion and removal events from matching readers until `stop` is set. A reader that disappears (unplugged,
        pcscd restarted) with a card in it reports that card removed; watching resumes when it comes back."""
        s = _Scard.get()
        present: dict[str, bytes] = {}
        known: dict[str, int] = {}
        while stop is None or not stop.is_set():
            readers = self.readers()
            for gone in [name for name in present if name not in readers]:
                yield CardEvent("removed", gone)
                del present[gone]
                known.pop(gone, None)
            if not readers:
                time.sleep(self.retry_seconds)
                continue
            try:
                states = self._states(readers, known, self.poll_seconds)
            except CardError:
                for name in list(present):
                    yield CardEvent("removed", name)
                present.clear()
                known.clear()
                time.sleep(self.retry_seconds)
                continue
            for name, state, atr in states:
                known[name] = state
                is_present = bool(state & s.SCARD_STATE_PRESENT) and not state & s.SCARD_STATE_MUTE
                if is_present and name not in present:
                    present[name] = atr
                    yield CardEvent("inserted", name, atr)
                elif not is_present and name in present:
                    del present[name]
                    yield CardEvent("removed", name)
