"""Ticket states and the operations allowed from each: the queue's rules in one table, free of storage."""

from __future__ import annotations

from collections.abc import Iterable
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

# Where a ticket begins: issued, or queued anew at another service by a transfer.
INITIAL = TicketStatus.WAITING

# operation -> (states it may start from, state it leads to); the queue asks this table for every state it writes.
TRANSITIONS: dict[str, tuple[frozenset[TicketStatus], TicketStatus]] = {
    "call": (frozenset({TicketStatus.WAITING}), TicketStatus.CALLED),
    "recall": (frozenset({TicketStatus.CALLED}), TicketStatus.CALLED),
    "start": (frozenset({TicketStatus.CALLED}), TicketStatus.SERVING),
    "finish": (frozenset({TicketStatus.SERVING}), TicketStatus.DONE),
    "no_show": (frozenset({TicketStatus.CALLED}), TicketStatus.NO_SHOW),
    "transfer": (
        frozenset({TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING}),
        TicketStatus.TRANSFERRED,
    ),
    "cancel": (frozenset({TicketStatus.WAITING, TicketStatus.CALLED}), TicketStatus.CANCELLED),
    # the business day ended with the ticket still open (the node closes it on the next day's first write)
    "expire": (OPEN_STATES, TicketStatus.CANCELLED),
}


def sources(operation: str) -> frozenset[TicketStatus]:
    """The states `operation` may start from."""
    return TRANSITIONS[operation][0]


def check_transition(operation: str, number: str, status: str) -> TicketStatus:
    """The state `operation` leads to, or Conflict naming the ticket's current state."""
    allowed_from, target = TRANSITIONS[operation]
    if TicketStatus(status) not in allowed_from:
        allowed = ", ".join(sorted(s.value for s in allowed_from))
        raise Conflict(
            f"cannot {operation.replace('_', '-')} ticket {number}: it is {status} (allowed from: {allowed})",
            ticket=number,
            status=status,
        )
    return target


def sql_in(states: Iterable[TicketStatus]) -> str:
    """States as SQL literals ('waiting', 'called'), for the few queries that need a literal (a partial index)."""
    return ", ".join(sorted(f"'{TicketStatus(s).value}'" for s in states))


def format_number(prefix: str, seq: int) -> str:
    return f"{prefix}{seq:03d}"
