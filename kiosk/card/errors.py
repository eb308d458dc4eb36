"""The card errors the kiosk can meet, each with the CLI exit status and a one-line reason fit for a log."""

from __future__ import annotations


class CardError(Exception):
    """Any failure reading a card; exit status 1 unless a subclass says otherwise."""

    exit_code = 1
    # Shown to the visitor by the kiosk UI; technical detail stays in str(self).
    visitor_message = "The card could not be read. Please take it out and try again, or ask for help at the counter."

    def __init__(self, *args: object, visitor_message: str | None = None) -> None:
        super().__init__(*args)
        if visitor_message is not None:
            self.visitor_message = visitor_message


class AccessDenied(CardError):
    """The chip refused BAC or PACE: the document number, birth date or expiry date keyed in (or the CAN) does not
    match the chip."""

    exit_code = 2
    visitor_message = (
        "The card did not accept the document details. Please check the document number, date of birth and "
        "expiry date, then try again."
    )


class NoCard(CardError):
    """No card was presented before the time-out."""

    exit_code = 3
    visitor_message = "No card was detected. Please place your ID card or passport on the reader."


class UnsupportedCard(CardError):
    """The card answers, but it is not an ICAO 9303 eMRTD."""

    exit_code = 4
    visitor_message = "This card is not supported. Please use your national ID card or ePassport."


class CardRemoved(CardError):
    """The card left the reader during the read."""

    visitor_message = "The card was removed too early. Please place it on the reader again and keep it still."


class ReaderUnavailable(CardError):
    """pcscd is not running or the reader went away."""


class SecureMessagingError(CardError):
    """A protected response failed its MAC, sequence or format checks: the channel cannot be trusted."""


class DataGroupError(CardError):
    """A data group read from the chip is malformed (bad TLV, wrong check digits, no image...)."""
