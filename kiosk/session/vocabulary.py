"""The session's vocabulary: screens, purposes, taps, reasons. One StrEnum each, used by the machine, UI and tests."""

from __future__ import annotations

from enum import StrEnum


class Screen(StrEnum):
    """What the visitor sees; each is a state of the session machine."""

    CLOSED = "closed"  # kiosk disabled by central, edge unreachable, or nothing to offer
    ATTRACT = "attract"
    CHOOSE = "choose"  # take a ticket / file a report / follow a report
    INSERT_CARD = "insert_card"
    MRZ_ENTRY = "mrz_entry"
    READING_CHIP = "reading_chip"  # busy
    FACE_CAPTURE = "face_capture"  # busy: frames taken and verified at the edge
    FACE_RETRY = "face_retry"  # guidance, then the visitor tries again
    CONFIRM_IDENTITY = "confirm_identity"
    CHOOSE_SERVICE = "choose_service"
    ISSUING = "issuing"  # busy: ticket asked of the edge
    TICKET = "ticket"  # number shown; receipt printing, printed, or not printable (QR on screen)
    REPORT_TYPE = "report_type"  # file a report: which kind (kiosk-fileable types from the edge)
    REPORT_FIELD = "report_field"  # one of the type's fields at a time, on the page's own keyboard
    REPORT_REVIEW = "report_review"  # everything entered, each answer editable, then submit
    FILING = "filing"  # busy: the report asked of the edge
    REPORT_FILED = "report_filed"  # reference shown; the receipt (reference, PIN, QR) printing, printed or not
    FOLLOW_ENTRY = "follow_entry"  # follow a report: reference and PIN
    FOLLOWING = "following"  # busy: the edge asked
    FOLLOW_RESULT = "follow_result"  # state, dates and next step only
    PROBLEM = "problem"  # something the kiosk cannot do now (e.g. the edge refused the ticket); OK returns


BUSY_SCREENS = frozenset({Screen.READING_CHIP, Screen.FACE_CAPTURE, Screen.ISSUING, Screen.FILING, Screen.FOLLOWING})
# From these screens on the card belongs to a visitor being identified: taking it out ends the session.
CARD_BOUND_SCREENS = frozenset(
    {
        Screen.MRZ_ENTRY,
        Screen.READING_CHIP,
        Screen.FACE_CAPTURE,
        Screen.FACE_RETRY,
        Screen.CONFIRM_IDENTITY,
        Screen.CHOOSE_SERVICE,
        Screen.REPORT_TYPE,
        Screen.REPORT_FIELD,
        Screen.REPORT_REVIEW,
    }
)


class Purpose(StrEnum):
    TICKET = "ticket"
    FILE_REPORT = "file_report"
    FOLLOW_REPORT = "follow_report"


class Action(StrEnum):
    """Taps the page can send (the `data-action` of a button)."""

    START = "start"
    CHOOSE = "choose"  # value: a Purpose
    CANCEL = "cancel"
    LANGUAGE = "language"  # value: ar | en
    MORE_TIME = "more_time"
    KEY = "key"  # value: one character
    BACKSPACE = "backspace"
    FIELD = "field"  # value: an MrzField
    SUBMIT = "submit"  # the MRZ fields
    SKIP_IDENTITY = "skip_identity"
    TRY_AGAIN = "try_again"
    CONFIRM = "confirm"
    NOT_ME = "not_me"
    SERVICE = "service"  # value: a service code
    DONE = "done"
    REPORT_TYPE = "report_type"  # value: a report type code
    NEXT = "next"  # the next field (the answer so far is checked first)
    BACK = "back"
    LAYOUT = "layout"  # value: a KeyboardLayout
    ANSWER = "answer"  # value: yes | no (a yes/no field)
    ADD_ITEM = "add_item"  # the text keyed in becomes an item of the list
    REMOVE_ITEM = "remove_item"  # value: the item's index
    EDIT = "edit"  # value: a field's index (from the review screen)
    REFRESH = "refresh"  # follow: ask the edge again
    QUICK_DATE = "quick_date"  # value: today | yesterday (a date-time field)
    STEP = "step"  # value: "<day|month|year|hour|minute>:<+1|-1>" (a date-time field's steppers)
    CLEAR = "clear"  # empty the current field's entry (an optional date-time left unanswered)


class MrzField(StrEnum):
    DOCUMENT_NUMBER = "document_number"
    BIRTH_DATE = "birth_date"
    EXPIRY_DATE = "expiry_date"


class KeyboardLayout(StrEnum):
    ARABIC = "arabic"
    LATIN = "latin"
    DIGITS = "digits"


class FollowField(StrEnum):
    REFERENCE = "reference"
    PIN = "pin"


class TrackFailure(StrEnum):
    """Why the edge did not show a report, as the agent reports it to the session."""

    WRONG = "wrong"  # wrong reference or PIN (the edge does not say which)
    MISTYPED = "mistyped"  # the reference's check digits do not match: refused before any lookup
    LOCKED = "locked"  # too many wrong attempts for this reference: wait
    UNAVAILABLE = "unavailable"


class Notice(StrEnum):
    """Messages shown on a screen; the UI's catalogue turns each into words."""

    BAC_REFUSED = "bac_refused"  # the details keyed in do not open the chip
    MRZ_INVALID = "mrz_invalid"  # the details are not well formed (checked before the chip is touched)
    FACE_RETRY = "face_retry"  # no match yet, try again
    FACE_NOT_FOUND = "face_not_found"
    FACE_QUALITY = "face_quality"
    CARD_REMOVED = "card_removed"
    TIMED_OUT = "timed_out"
    TICKET_FAILED = "ticket_failed"
    SERVICE_NEEDS_IDENTITY = "service_needs_identity"
    FIELD_REQUIRED = "field_required"
    FIELD_INVALID = "field_invalid"  # e.g. a date that does not exist, an amount that is not a number
    FIELD_FUTURE = "field_future"  # a date and time after now
    REPORT_REFUSED = "report_refused"  # the edge refused the report (its detail is shown)
    REPORT_FAILED = "report_failed"  # the edge could not be reached: nothing was filed
    NO_REPORT_TYPES = "no_report_types"
    REFERENCE_MISTYPED = "reference_mistyped"
    TRACK_WRONG = "track_wrong"
    TRACK_LOCKED = "track_locked"
    TRACK_UNAVAILABLE = "track_unavailable"


class AssistReason(StrEnum):
    """Why the kiosk sends the visitor to staff (a reception ticket) instead of completing self-service."""

    NO_MATCH = "no_match"
    SPOOF = "spoof"
    NO_FACE = "no_face"
    CHIP_UNREADABLE = "chip_unreadable"
    NOT_EMRTD = "not_emrtd"
    PASSIVE_AUTH_FAILED = "passive_auth_failed"
    DOCUMENT_EXPIRED = "document_expired"
    DETAILS_REFUSED = "details_refused"  # BAC refused too many times
    VERIFICATION_UNAVAILABLE = "verification_unavailable"
    CARD_PHOTO_UNUSABLE = "card_photo_unusable"  # the chip's own photo shows no single usable face


class ChipFailure(StrEnum):
    """How a chip read ended badly, as the agent reports it to the session."""

    ACCESS_DENIED = "access_denied"
    REMOVED = "removed"
    NOT_EMRTD = "not_emrtd"
    UNREADABLE = "unreadable"
    PASSIVE_AUTH = "passive_auth"
    EXPIRED = "expired"


class FaceOutcome(StrEnum):
    """The edge's decision (plus what the kiosk can tell on its own)."""

    MATCH = "match"
    NO_MATCH = "no_match"
    RETRY = "retry"
    SPOOF = "spoof"
    NO_FACE = "no_face"  # the camera gave no usable frame
    UNAVAILABLE = "unavailable"  # the edge could not verify (busy, models missing, offline)
    EXHAUSTED = "exhausted"  # the edge has no attempts left for this document


class PrintState(StrEnum):
    PENDING = "pending"
    PRINTED = "printed"
    FAILED = "failed"


class EndReason(StrEnum):
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    CARD_REMOVED = "card_removed"
    DONE = "done"
    REPORT_TYPE = "report_type"  # value: a report type code
    NEXT = "next"  # the next field (the answer so far is checked first)
    BACK = "back"
    LAYOUT = "layout"  # value: a KeyboardLayout
    ANSWER = "answer"  # value: yes | no (a yes/no field)
    ADD_ITEM = "add_item"  # the text keyed in becomes an item of the list
    REMOVE_ITEM = "remove_item"  # value: the item's index
    EDIT = "edit"  # value: a field's index (from the review screen)
    REFRESH = "refresh"  # follow: ask the edge again
    QUICK_DATE = "quick_date"  # value: today | yesterday (a date-time field)
    STEP = "step"  # value: "<day|month|year|hour|minute>:<+1|-1>" (a date-time field's steppers)
    CLEAR = "clear"  # empty the current field's entry (an optional date-time left unanswered)
    ERROR = "error"
    NOT_ME = "not_me"
