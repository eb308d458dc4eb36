"""The access layer: APDU channels (plain, secure) and the access-protocol interface BAC implements (PACE later)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from kiosk.card.apdu import ApduFormatError, CommandAPDU, ResponseAPDU
from kiosk.card.errors import SecureMessagingError
from kiosk.card.passwords import AccessSource
from kiosk.card.reader import CardConnection
from kiosk.card.secure_messaging import PlainStatus, SecureMessaging, SecureMessagingFault, is_plain_error


class ApduChannel(Protocol):
    @property
    def apdu_count(self) -> int: ...

    def transmit(self, command: CommandAPDU) -> ResponseAPDU: ...


# Transmission-level status words (ISO 7816-3 T=0 and ISO 7816-4 5.1.3): 61xx "xx more bytes, ask with GET
# RESPONSE", 6Cxx "wrong Le, xx is the exact length: send the command again with it". Both are answered below secure
# messaging: GET RESPONSE is sent in plain and the bytes it gathers are the (protected) answer of the command.
SW1_MORE_DATA = 0x61
SW1_WRONG_LE = 0x6C
GET_RESPONSE = 0xC0
MAX_RESPONSE_PARTS = 300  # 61xx answers to one command: a 64 KB answer in 256-byte parts, with room; no loop for ever


class PlainChannel:
    """Unprotected APDUs over a card connection; counts every APDU and the time spent on the wire.

    Response chaining is handled here, where ISO 7816 puts it: on 61xx the rest is fetched with GET RESPONSE (Le xx,
    00 meaning 256) until the chip answers another status word; on 6Cxx the same command goes again with Le xx
    (once). Callers, secure messaging included, see one answer with its final status word."""

    def __init__(self, connection: CardConnection) -> None:
        self.connection = connection
        self.apdu_count = 0
        self.wire_seconds = 0.0
        self.get_responses = 0  # GET RESPONSE commands sent (for tests and diagnostics)
        self.le_corrections = 0  # commands sent again with the Le a 6Cxx asked for

    def _exchange(self, command: CommandAPDU) -> ResponseAPDU:
        raw = command.to_bytes()
        started = time.perf_counter()
        answer = self.connection.transmit(raw)
        self.wire_seconds += time.perf_counter() - started
        self.apdu_count += 1
        try:
            return ResponseAPDU.from_bytes(answer)
        except ApduFormatError as exc:
            raise SecureMessagingError(f"truncated response: {exc}") from None

    def transmit(self, command: CommandAPDU) -> ResponseAPDU:
        response = self._exchange(command)
        if response.sw >> 8 == SW1_WRONG_LE and not response.data:
            self.le_corrections += 1
            exact = response.sw & 0xFF or 256
            response = self._exchange(replace(command, le=exact, extended=False))
        data = response.data
        parts = 0
        while response.sw >> 8 == SW1_MORE_DATA:
            parts += 1
            if parts > MAX_RESPONSE_PARTS:
                raise SecureMessagingError("the chip keeps answering 61xx: response chaining without end")
            self.get_responses += 1
            get_response = CommandAPDU(command.cla & 0x03, GET_RESPONSE, 0, 0, le=response.sw & 0xFF or 256)
            response = self._exchange(get_response)
            if response.sw >> 8 == SW1_WRONG_LE and not response.data:  # a GET RESPONSE asking another Le
                self.le_corrections += 1
                response = self._exchange(replace(get_response, le=response.sw & 0xFF or 256))
            data += response.data
        return ResponseAPDU(data, response.sw) if parts else response


class SecureChannel:
    """Every command protected and every response checked (MAC, sequence counter); any fault ends the session.

    A chip may answer an error in plain (6A82 for a missing file, without DO'99'/DO'8E'). That answer is returned as
    its status, marked unauthenticated, and the session counts as closed by the chip: neither side's sequence counter
    can be trusted after it, so the next command needs access opened again (`ReopeningChannel` does that)."""

    def __init__(self, plain: PlainChannel, sm: SecureMessaging) -> None:
        self.plain = plain
        self._sm = sm
        self._broken = False
        self.closed_by_chip = False

    @property
    def apdu_count(self) -> int:
        return self.plain.apdu_count

    def transmit(self, command: CommandAPDU) -> ResponseAPDU:
        if self._broken:
            raise SecureMessagingError("secure channel already failed; start a new session")
        if self.closed_by_chip:
            raise SecureMessagingError("the chip ended the secure session; open access again")
        try:
            return self._sm.unprotect(self.plain.transmit(self._sm.protect(command)))
        except PlainStatus as exc:
            if is_plain_error(exc.sw):
                self.closed_by_chip = True
                return ResponseAPDU(b"", exc.sw, authenticated=False)
            self._broken = True
            raise SecureMessagingError(f"secure messaging: {exc}") from None
        except SecureMessagingFault as exc:
            # After one bad answer the counters can no longer be trusted: never resynchronise, start over.
            self._broken = True
            raise SecureMessagingError(f"secure messaging: {exc}") from None


class ReopeningChannel:
    """The secure channel of one card read: when the chip ends a session with a plain error, access is opened again
    (same protocol, same password) before the next command, a bounded number of times."""

    MAX_REOPENS = 8  # a chip answering every command in plain would otherwise keep the reader in a loop

    def __init__(self, open_channel: Callable[[], SecureChannel]) -> None:
        self._open = open_channel
        self.current = open_channel()
        self.reopened = 0

    @property
    def apdu_count(self) -> int:
        return self.current.apdu_count

    def restart(self, sm: SecureMessaging) -> None:
        """Continue with new session keys (after Chip Authentication), on the same card connection."""
        self.current = SecureChannel(self.current.plain, sm)

    def reopen(self) -> None:
        """Open access again before the next command (the session can no longer be trusted)."""
        self.current.closed_by_chip = True

    def transmit(self, command: CommandAPDU) -> ResponseAPDU:
        if self.current.closed_by_chip:
            if self.reopened >= self.MAX_REOPENS:
                raise SecureMessagingError("the chip keeps ending secure sessions")
            self.reopened += 1
            self.current = self._open()
        return self.current.transmit(command)


class AccessProtocol(Protocol):
    """Opens a secure channel to an eMRTD chip.

    BAC (`bac.py`) derives 3DES keys from the MRZ and runs with the eMRTD application selected; PACE (`pace.py`) takes
    the MRZ or a CAN, runs in the master file (`before_application`) and gives AES (or 3DES) secure messaging.
    """

    name: str
    before_application: bool

    def establish(self, channel: PlainChannel, source: AccessSource) -> SecureChannel: ...
