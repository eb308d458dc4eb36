"""The access layer: APDU channels (plain, secure) and the access-protocol interface BAC implements (PACE later)."""

from __future__ import annotations

import time
from typing import Protocol

from kiosk.card.apdu import ApduFormatError, CommandAPDU, ResponseAPDU
from kiosk.card.errors import SecureMessagingError
from kiosk.card.mrz import MrzSource
from kiosk.card.reader import CardConnection
from kiosk.card.secure_messaging import SecureMessaging, SecureMessagingFault


class ApduChannel(Protocol):
    apdu_count: int

    def transmit(self, command: CommandAPDU) -> ResponseAPDU: ...


class PlainChannel:
    """Unprotected APDUs over a card connection; counts every APDU and the time spent on the wire."""

    def __init__(self, connection: CardConnection) -> None:
        self.connection = connection
        self.apdu_count = 0
        self.wire_seconds = 0.0

    def transmit(self, command: CommandAPDU) -> ResponseAPDU:
        raw = command.to_bytes()
        started = time.perf_counter()
        answer = self.connection.transmit(raw)
        self.wire_seconds += time.perf_counter() - started
        self.apdu_count += 1
        try:
            return ResponseAPDU.from_bytes(answer)
        except ApduFormatError as exc:
            raise SecureMessagingError(f"truncated response: {exc}") from None


class SecureChannel:
    """Every command protected and every response checked (MAC, sequence counter); any fault ends the session."""

    def __init__(self, plain: PlainChannel, sm: SecureMessaging) -> None:
        self.plain = plain
        self._sm = sm
        self._broken = False

    @property
    def apdu_count(self) -> int:
        return self.plain.apdu_count

    def transmit(self, command: CommandAPDU) -> ResponseAPDU:
        if self._broken:
            raise SecureMessagingError("secure channel already failed; start a new session")
        try:
            return self._sm.unprotect(self.plain.transmit(self._sm.protect(command)))
        except SecureMessagingFault as exc:
            # After one bad answer the counters can no longer be trusted: never resynchronise, start over.
            self._broken = True
            raise SecureMessagingError(f"secure messaging: {exc}") from None


class AccessProtocol(Protocol):
    """Opens a secure channel to an eMRTD applet that is already selected.

    BAC (this module's sibling `bac.py`) derives keys from the MRZ; PACE will implement the same interface (reading
    EF.CardAccess first, a password from the same MrzSource or a CAN) and return a SecureChannel with AES messaging.
    """

    name: str

    def establish(self, channel: PlainChannel, source: MrzSource) -> SecureChannel: ...
