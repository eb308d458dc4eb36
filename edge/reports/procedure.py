"""The procedure: ONE table of states and transitions, the same for every station.

A transition names the action, the states it leaves from, the state it goes to, who may take it and what it
needs. Nothing else in markaz decides whether a report may move: the service asks `transition()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import Conflict, Forbidden, Invalid
from edge.reports.vocabulary import Action, Outcome, ReportState

S = ReportState
OFFICER, SUPERVISOR, ADMIN = "officer", "supervisor", "admin"
WORKERS = frozenset({OFFICER, SUPERVISOR, ADMIN})
SUPERVISORS = frozenset({SUPERVISOR, ADMIN})


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[ReportState]
    target: ReportState
    roles: frozenset[str]
    assigned_only: bool = False  # an officer may take it only on a report assigned to them (supervisors always)
    needs_officer: bool = False  # the report must have an assigned officer
    needs_outcome: bool = False
    summary: str = ""


TRANSITIONS: tuple[Transition, ...] = (
    Transition(
        Action.RECEIVE, frozenset({S.SUBMITTED}), S.RECEIVED, WORKERS, summary="a desk officer takes the report in"
    ),
    Transition(
        Action.INVESTIGATE,
        frozenset({S.RECEIVED}),
        S.UNDER_INVESTIGATION,
        WORKERS,
        assigned_only=True,
        needs_officer=True,
        summary="the assigned officer opens the investigation",
    ),
    Transition(
        Action.RETURN,
        frozenset({S.UNDER_INVESTIGATION, S.REFERRED}),
        S.RETURNED,
        SUPERVISORS,
        needs_officer=True,
        summary="a supervisor sends the report back to its officer with a reason",
    ),
    Transition(
        Action.RESUME,
        frozenset({S.RETURNED}),
        S.UNDER_INVESTIGATION,
        WORKERS,
        assigned_only=True,
        summary="the officer takes a returned report up again",
    ),
    Transition(
        Action.REFER,
        frozenset({S.UNDER_INVESTIGATION}),
        S.REFERRED,
        WORKERS,
        assigned_only=True,
        summary="referred to the public prosecution as a signed package",
    ),
    Transition(
        Action.CLOSE,
        frozenset({S.SUBMITTED, S.RECEIVED, S.UNDER_INVESTIGATION, S.RETURNED, S.REFERRED}),
        S.CLOSED,
        SUPERVISORS,
        needs_outcome=True,
        summary="closed with an outcome",
    ),
)
BY_ACTION = {t.action: t for t in TRANSITIONS}

# What the visitor is told comes next, per state (the kiosk shows it; never notes or other parties).
NEXT_STEP: dict[ReportState, tuple[str, str]] = {
    S.SUBMITTED: ("سيستلم أحد الضباط بلاغك قريباً", "An officer will take your report in shortly"),
    S.RECEIVED: (
        "تم استلام البلاغ وسيُسند إلى ضابط للتحقيق",
        "Received; it will be assigned to an investigating officer",
    ),
    S.UNDER_INVESTIGATION: (
        "البلاغ قيد التحقيق؛ قد يُطلب حضورك للإفادة",
        "Under investigation; you may be asked to give a statement",
    ),
    S.RETURNED: ("البلاغ قيد المراجعة لدى الضابط المختص", "Being reviewed by the investigating officer"),
    S.REFERRED: ("أحيل البلاغ إلى النيابة العامة", "Referred to the public prosecution"),
    S.CLOSED: ("أُغلق البلاغ", "The report is closed"),
}

# Assignment is not a state change, but it follows the same rules of who and when.
ASSIGNABLE = frozenset({S.SUBMITTED, S.RECEIVED, S.UNDER_INVESTIGATION, S.RETURNED})


def transition(
    action: Action | str, state: ReportState | str, role: str, actor: str, officer: str | None, outcome: str | None
) -> Transition:
    """The transition `action` from `state` for this actor, or the reason it is refused."""
    try:
        t = BY_ACTION[Action(action)]
    except ValueError:
        raise Invalid(f"unknown action {action!r}; expected one of {', '.join(a.value for a in Action)}") from None
    if role not in t.roles:
        raise Forbidden(f"role {role!r} may not {t.action.value} a report")
    if ReportState(state) not in t.sources:
        allowed = ", ".join(sorted(s.value for s in t.sources))
        raise Conflict(f"cannot {t.action.value} a report that is {state} (only from {allowed})", state=str(state))
    if t.needs_officer and not officer:
        raise Conflict(f"assign an officer before you {t.action.value} the report", state=str(state))
    if t.assigned_only and role == OFFICER and officer != actor:
        raise Forbidden(f"only the assigned officer ({officer or 'none'}) or a supervisor may {t.action.value} it")
    if t.needs_outcome:
        if outcome is None:
            raise Invalid(f"closing needs an outcome: {', '.join(o.value for o in Outcome)}")
        try:
            Outcome(outcome)
        except ValueError:
            raise Invalid(
                f"unknown outcome {outcome!r}; expected one of {', '.join(o.value for o in Outcome)}"
            ) from None
    elif outcome is not None:
        raise Invalid(f"only closing takes an outcome, not {t.action.value}")
    return t


def check_assign(state: ReportState | str, role: str, actor: str, current: str | None, new: str) -> None:
    """Supervisors assign anyone; an officer may only take an unassigned report for themselves."""
    if role not in WORKERS:
        raise Forbidden(f"role {role!r} may not assign reports")
    if ReportState(state) not in ASSIGNABLE:
        raise Conflict(f"a report that is {state} cannot be reassigned", state=str(state))
    if role == OFFICER and not (current is None and new == actor):
        raise Forbidden("an officer may only take an unassigned report for themselves; a supervisor assigns others")


def available(state: ReportState | str, role: str, actor: str, officer: str | None) -> list[Transition]:
    """The transitions this actor could take now (closing still needs its outcome): what a screen offers. It asks
    `transition()` itself, so a screen can never offer what the table refuses."""
    offered = []
    for t in TRANSITIONS:
        try:
            transition(t.action, state, role, actor, officer, Outcome.RESOLVED if t.needs_outcome else None)
        except (Conflict, Forbidden, Invalid):
            continue
        offered.append(t)
    return offered


def may_assign(state: ReportState | str, role: str, actor: str, current: str | None) -> bool:
    """Whether this actor may assign the report now (an officer: only to themselves, so that is what is tried)."""
    try:
        check_assign(state, role, actor, current, actor)
    except (Conflict, Forbidden):
        return False
    return True


def check_work(state: ReportState | str, role: str, actor: str, officer: str | None, what: str) -> None:
    """Parties, statements and notes are added while the report is open, by its officer or a supervisor."""
    if state in (ReportState.CLOSED, ReportState.REFERRED):
        raise Conflict(f"cannot {what} on a report that is {state}", state=str(state))
    if role == OFFICER and officer not in (None, actor):
        raise Forbidden(f"the report is assigned to {officer}; only they or a supervisor may {what}")


def may_work(state: ReportState | str, role: str, actor: str, officer: str | None) -> bool:
    if role not in WORKERS:
        return False
    try:
        check_work(state, role, actor, officer, "work")
    except (Conflict, Forbidden):
        return False
    return True
