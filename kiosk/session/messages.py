"""What goes into the session (events) and what comes out of it (effects, for the agent to carry out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.session.vocabulary import Action, AssistReason, ChipFailure, FaceOutcome


@dataclass(frozen=True)
class Service:
    """A service the visitor can choose, from the edge's catalogue."""

    code: str
    name_ar: str
    name_en: str
    needs_identity: bool = False


@dataclass(frozen=True)
class Identity:
    """What the confirmation screen shows of a chip read. Held for one session only."""

    surname: str
    given_names: str
    document_number: str = field(repr=False)

    def __repr__(self) -> str:
        return "Identity(<redacted>)"


@dataclass(frozen=True)
class IssuedTicket:
    """A ticket the edge issued, as the screen and the receipt show it."""

    id: int
    number: str
    service: str
    reference: str  # what the QR encodes: lets staff and a later "follow" screen find the ticket
    estimated_wait_s: int | None = None


# ---- events (inputs) -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tap:
    action: Action
    value: str | None = None


@dataclass(frozen=True)
class CardInserted:
    pass


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class MrzScanned:
    """The document camera read the MRZ (every check digit right) during session `session`: the details go to the
    chip as if keyed in. The keyboard stays usable meanwhile; typing first wins."""

    session: int
    document_number: str = field(repr=False)
    birth_date: str = field(repr=False)
    expiry_date: str = field(repr=False)


@dataclass(frozen=True)
class ChipRead:
    job: int
    identity: Identity


@dataclass(frozen=True)
class ChipFailed:
    job: int
    failure: ChipFailure


@dataclass(frozen=True)
class FaceResult:
    job: int
    outcome: FaceOutcome
    attempts_left: int = 0
    verification_id: int | None = None
    detail: str = ""  # the edge's reason code (e.g. "no_face", "blurry"), for guidance


@dataclass(frozen=True)
class TicketIssued:
    job: int
    ticket: IssuedTicket


@dataclass(frozen=True)
class TicketFailed:
    job: int


@dataclass(frozen=True)
class ReceiptPrinted:
    job: int


@dataclass(frozen=True)
class PrintFailed:
    job: int


@dataclass(frozen=True)
class Availability:
    """Whether the kiosk may serve visitors, and what it offers (from the heartbeat and the catalogue)."""

    open: bool
    services: tuple[Service, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Tick:
    """Time passes: the only way time-outs happen, so tests control the clock."""


@dataclass(frozen=True)
class Crash:
    """Something unexpected failed while handling the session: reset rather than stay stuck."""


Event = (
    Tap
    | MrzScanned
    | CardInserted
    | CardRemoved
    | ChipRead
    | ChipFailed
    | FaceResult
    | TicketIssued
    | TicketFailed
    | ReceiptPrinted
    | PrintFailed
    | Availability
    | Tick
    | Crash
)


# ---- effects (outputs) ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadChip:
    job: int
    document_number: str = field(repr=False)
    birth_date: str = field(repr=False)
    expiry_date: str = field(repr=False)


@dataclass(frozen=True)
class VerifyFace:
    """Capture live frames and ask the edge to compare them with the chip photo the agent holds."""

    job: int


@dataclass(frozen=True)
class IssueTicket:
    job: int
    service: str
    verification_id: int | None = None
    assisted: AssistReason | None = None


@dataclass(frozen=True)
class PrintReceipt:
    job: int
    ticket: IssuedTicket


@dataclass(frozen=True)
class EndSession:
    """Wipe everything the session held (chip photo, frames, MRZ data) and forget pending work."""

    reason: str


Effect = ReadChip | VerifyFace | IssueTicket | PrintReceipt | EndSession
