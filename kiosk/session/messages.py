"""What goes into the session (events) and what comes out of it (effects, for the agent to carry out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk.session.vocabulary import Action, AssistReason, ChipFailure, FaceOutcome, TrackFailure

if TYPE_CHECKING:
    from kiosk.session.machine import Rules


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
    nationality: str = field(default="", repr=False)
    birth_date: str = field(default="", repr=False)  # YYYY-MM-DD, when the chip gives a full date
    document_code: str = field(default="", repr=False)  # the MRZ's document code: P, I, ID, ...

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


@dataclass(frozen=True)
class ReportField:
    """One field of a report type, as the edge's catalogue describes it."""

    name: str
    kind: str  # text | place | datetime | amount | items | yesno
    label_ar: str
    label_en: str
    required: bool = False
    max_length: int = 2000


@dataclass(frozen=True)
class ReportType:
    """A report type the visitor may file at this kiosk."""

    code: str
    name_ar: str
    name_en: str
    fields: tuple[ReportField, ...] = ()


@dataclass(frozen=True)
class FiledReport:
    """What the edge answered to a filing: the reference, and the PIN shown this once (printed on the receipt)."""

    reference: str
    pin: str = field(repr=False)
    type: str = ""
    filed_at: str = ""
    next_step_ar: str = ""
    next_step_en: str = ""


@dataclass(frozen=True)
class TrackedReport:
    """What the visitor may see of a report: state, dates and next step; never notes or other parties."""

    reference: str
    type_name_ar: str
    type_name_en: str
    state: str
    filed_at: str
    state_since: str
    next_step_ar: str
    next_step_en: str
    steps: tuple[tuple[str, str], ...] = ()  # (state, at)
    outcome: str | None = None
    referral: str | None = None  # pending | acknowledged
    case_number: str | None = None


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
    chip as if keyed in. The keyboard stays usable meanwhile; typing first wins. From the photo side of an ID card
    only the CAN is read: the MRZ fields are then empty and the chip is opened with the CAN alone."""

    session: int
    document_number: str = field(repr=False)
    birth_date: str = field(repr=False)
    expiry_date: str = field(repr=False)
    can: str | None = field(default=None, repr=False)  # read from an ID card: PACE with it, the MRZ as fallback


@dataclass(frozen=True)
class ChipRead:
    job: int
    identity: Identity


@dataclass(frozen=True)
class ChipFailed:
    job: int
    failure: ChipFailure


@dataclass(frozen=True)
class ChipProgress:
    """How far the chip read has got (0..1, by stage and by the bytes of the photo), for the visitor to see."""

    job: int
    done: float


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
class ReportFiled:
    job: int
    report: FiledReport


@dataclass(frozen=True)
class ReportRefused:
    """The edge did not file the report: `detail` is its reason; `reachable` False means it was not reached."""

    job: int
    detail: str = ""
    reachable: bool = True
    detail_ar: str = ""  # the same reason in Arabic, when the edge gave one


@dataclass(frozen=True)
class ReportTracked:
    job: int
    report: TrackedReport


@dataclass(frozen=True)
class TrackFailed:
    job: int
    failure: TrackFailure
    retry_after_s: int = 0


@dataclass(frozen=True)
class Availability:
    """Whether the kiosk may serve visitors, and what it offers (from the heartbeat and the catalogue)."""

    open: bool
    services: tuple[Service, ...] = ()
    reason: str = ""
    report_types: tuple[ReportType, ...] = ()


@dataclass(frozen=True)
class RulesChanged:
    """The kiosk's profile changed the flow's rules (languages, services, time-outs). Made on the profile-sync
    thread, applied on the agent's loop like every other event, so a visit in progress never sees them change
    under it half-way through handling an event."""

    rules: Rules


@dataclass(frozen=True)
class Tick:
    """Time passes: the only way time-outs happen, so tests control the clock."""


@dataclass(frozen=True)
class Crash:
    """Something unexpected failed while handling the session: reset rather than stay stuck."""


Event = (
    Tap
    | ChipProgress
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
    | ReportFiled
    | ReportRefused
    | ReportTracked
    | TrackFailed
    | Availability
    | RulesChanged
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
    can: str | None = field(default=None, repr=False)  # the CAN the document camera read, tried first (PACE)
    # with a CAN read from an ID card's photo side the three MRZ fields are empty: the CAN is the only password


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
class FileReport:
    """File the report for the verified visitor (the agent adds the identity it holds)."""

    job: int
    report_type: ReportType
    answers: tuple[tuple[str, str | tuple[str, ...]], ...] = field(repr=False)


@dataclass(frozen=True)
class PrintReportReceipt:
    job: int
    report: FiledReport
    type: ReportType | None = None


@dataclass(frozen=True)
class TrackReport:
    job: int
    reference: str
    pin: str = field(repr=False)


@dataclass(frozen=True)
class EndSession:
    """Wipe everything the session held (chip photo, frames, MRZ data) and forget pending work."""

    reason: str


Effect = ReadChip | VerifyFace | IssueTicket | PrintReceipt | FileReport | PrintReportReceipt | TrackReport | EndSession
