"""One vocabulary of ticket states: the enum in edge/queue/states.py. The database's own safety check (the CHECK
constraint of the first migration) must list exactly the same states, or a state added to the enum would be
refused by SQLite at the first write."""

from __future__ import annotations

import re

from edge.queue.states import OPEN_STATES, TRANSITIONS, TicketStatus


def test_the_schema_check_lists_exactly_the_enums_states(make_node):
    node = make_node()
    sql = node.store.query_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tickets'")["sql"]
    listed = re.search(r"status IN \(([^)]*)\)", sql).group(1)
    assert {s.strip().strip("'") for s in listed.split(",")} == {s.value for s in TicketStatus}


def test_every_state_is_reachable_and_every_transition_leads_somewhere_known():
    reached = {TicketStatus.WAITING} | {target for _, target in TRANSITIONS.values()}
    assert reached == set(TicketStatus)
    for sources, target in TRANSITIONS.values():
        assert sources <= set(TicketStatus) and target in TicketStatus
    assert {TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING} == OPEN_STATES
