"""What an officer can do at a counter right now, and why not when not: the rules the counter screen shows.

They are derived from the queue's own transition table (`edge.queue.states.TRANSITIONS`) and its counter rules, so
the screen never offers what the queue would refuse; each disabled action carries a reason the screen translates."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel

from edge.queue.states import TRANSITIONS, TicketStatus
from markaz.clock import parse_iso


class ActionName(StrEnum):
    CALL_NEXT = "call_next"
    RECALL = "recall"
    START = "start"
    FINISH = "finish"
    NO_SHOW = "no_show"
    TRANSFER = "transfer"
    OPEN = "open"
    CLOSE = "close"


class Reason(StrEnum):
    COUNTER_CLOSED = "counter_closed"
    CALLED_NOT_STARTED = "called_not_started"
    NOBODY_WAITING = "nobody_waiting"
    NO_TICKET = "no_ticket"
    NOT_CALLED = "not_called"
    NOT_SERVING = "not_serving"
    RECALL_TOO_SOON = "recall_too_soon"
    TICKET_AT_COUNTER = "ticket_at_counter"
    ALREADY_OPEN = "already_open"
    ALREADY_CLOSED = "already_closed"
    NO_OTHER_SERVICE = "no_other_service"


# One key per action, matched on the physical key (KeyboardEvent.code) so an Arabic layout sends the same thing; a
# counter keypad or foot switch is programmed to send these.
SHORTCUTS: dict[ActionName, str] = {
    ActionName.CALL_NEXT: "KeyN",
    ActionName.RECALL: "KeyR",
    ActionName.START: "KeyS",
    ActionName.FINISH: "KeyF",
    ActionName.NO_SHOW: "KeyM",
    ActionName.TRANSFER: "KeyT",
    ActionName.OPEN: "KeyO",
    ActionName.CLOSE: "KeyC",
}

# which queue operation each ticket action is
_OPERATION = {
    ActionName.RECALL: "recall",
    ActionName.START: "start",
    ActionName.FINISH: "finish",
    ActionName.NO_SHOW: "no_show",
    ActionName.TRANSFER: "transfer",
}
# the reason shown when the ticket's state does not allow the operation
_WRONG_STATE = {
    ActionName.RECALL: Reason.NOT_CALLED,
    ActionName.START: Reason.NOT_CALLED,
    ActionName.FINISH: Reason.NOT_SERVING,
    ActionName.NO_SHOW: Reason.NOT_CALLED,
    ActionName.TRANSFER: Reason.NO_TICKET,
}


class Action(BaseModel):
    name: ActionName
    enabled: bool
    reason: Reason | None = None
    retry_in_s: int | None = None
    key: str


def availability(
    is_open: bool,
    ticket_status: TicketStatus | None,
    waiting: int,
    last_announced_at: str | None,
    recall_interval_s: float,
    transfer_targets: int,
    now: datetime,
) -> list[Action]:
    """Every counter action, enabled or with the reason it is not, for a counter in this state."""

    def make(name: ActionName, reason: Reason | None = None, retry: int | None = None) -> Action:
        return Action(name=name, enabled=reason is None, reason=reason, retry_in_s=retry, key=SHORTCUTS[name])

    out = []
    if not is_open:
        out.append(make(ActionName.CALL_NEXT, Reason.COUNTER_CLOSED))
    elif ticket_status is TicketStatus.CALLED:
        out.append(make(ActionName.CALL_NEXT, Reason.CALLED_NOT_STARTED))
    elif waiting == 0:
        out.append(make(ActionName.CALL_NEXT, Reason.NOBODY_WAITING))
    else:
        out.append(make(ActionName.CALL_NEXT))  # a ticket being served is finished by calling the next

    for name, operation in _OPERATION.items():
        sources, _ = TRANSITIONS[operation]
        if ticket_status is None:
            out.append(make(name, Reason.NO_TICKET))
        elif ticket_status not in sources:
            out.append(make(name, _WRONG_STATE[name]))
        elif name is ActionName.TRANSFER and transfer_targets == 0:
            out.append(make(name, Reason.NO_OTHER_SERVICE))
        elif name is ActionName.RECALL and last_announced_at is not None:
            left = recall_interval_s - (now - parse_iso(last_announced_at)).total_seconds()
            out.append(make(name, Reason.RECALL_TOO_SOON, int(left + 0.999)) if left > 0 else make(name))
        else:
            out.append(make(name))

    out.append(make(ActionName.OPEN, Reason.ALREADY_OPEN) if is_open else make(ActionName.OPEN))
    if not is_open:
        out.append(make(ActionName.CLOSE, Reason.ALREADY_CLOSED))
    elif ticket_status in (TicketStatus.CALLED, TicketStatus.SERVING):
        out.append(make(ActionName.CLOSE, Reason.TICKET_AT_COUNTER))
    else:
        out.append(make(ActionName.CLOSE))
    return out
