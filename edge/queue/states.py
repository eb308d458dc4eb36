"""Ticket states and the operations allowed from each: the queue's rules in one table, free of storage."""

from __future__ import annotations

from enum import StrEnum

from edge.errors import Conflict


class TicketStatus(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING})
AT_COUNTER = frozenset({TicketStatus.CALLED, TicketStatus.SERVING})

# operation -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    "call": (frozenset({TicketStatus.WAITING}), TicketStatus.CALLED),
    "recall": (frozenset({TicketStatus.CALLED}), TicketStatus.CALLED),
    "start": (frozenset({TicketStatus.CALLED}), TicketStatus.SERVING),
    "finish": (frozenset({TicketStatus.SERVING}), TicketStatus.DONE),
    "no_show": (frozenset({TicketStatus.CALLED}), TicketStatus.NO_SHOW),
    "transfer": (frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING}), TicketStatus.TRANSFERRED),
    "cancel": (frozenset({TicketStatus.WAITING, TicketStatus.CALLED}), TicketStatus.CANCELLED),
}


def check_transition(operation: str, number: str, status: str) -> TicketStatus:
    """The state `operation` leads to, or Conflict naming the ticket's current state."""
    sources, target = TRANSITIONS[operation]
    if TicketStatus(status) not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise Conflict(
            f"cannot {operation.replace('_', '-')} ticket {number}: it is {status} (allowed from: {allowed})",
            ticket=number,
            status=status,
        )
    return target


def format_number(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:03d}"
