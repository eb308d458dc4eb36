"""The hall's service: the counter screen's view and actions, the display's view, the supervisor's day chart.

It drives the queue only through `QueueService`'s public operations (each one audited there) and reads the day's
calls through the queue's `CallLog`; what it adds is presentation: availability with reasons, stale-screen
detection, opening hours and the numbered announcements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from edge.auth.principal import Principal
from edge.errors import Conflict, DomainError, Invalid, NotFound, RateLimited
from edge.events import EventBus
from edge.hall import hours
from edge.hall.actions import ActionName, availability
from edge.hall.announcements import Announcer
from edge.hall.settings import HallSettings
from edge.hall.views import (
    ActionResult,
    AnnouncementCursor,
    CallView,
    CounterInfo,
    CounterView,
    CurrentTicket,
    DisplayView,
    Notice,
    ServiceRef,
    WaitingItem,
    WaitingView,
)
from edge.live import LiveHub
from edge.queue.calls import Call, CallLog
from edge.queue.history import HistoryPoint
from edge.queue.service import QueueService
from edge.queue.states import TicketStatus
from markaz.clock import business_day_start, iso, parse_iso


class DayHistory(BaseModel):
    business_day: date
    step_min: int
    points: list[HistoryPoint]


class HallService:
    def __init__(
        self,
        queue: QueueService,
        calls: CallLog,
        announcer: Announcer,
        settings: HallSettings,
        tz: ZoneInfo,
        day_rollover_hour: int,
        recall_interval_s: float,
        events: EventBus,
        clock: Callable[[], datetime],
    ) -> None:
        self.queue = queue
        self.calls = calls
        self.announcer = announcer
        self.settings = settings
        self.tz = tz
        self.rollover = day_rollover_hour
        self.recall_interval_s = recall_interval_s
        self.events = events
        self.clock = clock
        self.live: LiveHub | None = None

    def start(self) -> None:
        self.announcer.start()
        # before any screen is woken, so a display woken by this change already finds its announcement
        self.events.subscribe("queue.changed", self._on_change)
        self.live = LiveHub(self.events)

    def stop(self) -> None:
        self.announcer.stop()

    def _on_change(self, kind: str, payload: dict[str, Any]) -> None:
        # only a call or recall leaves a ticket `called`; a change of many tickets at once names none
        if payload.get("status") in (None, TicketStatus.CALLED):
            self.announcer.refresh()

    # -- counter screen ----------------------------------------------------------------------------------------
    def counters(self) -> list[CounterInfo]:
        return [CounterInfo(code=c.code, name=c.name, is_open=c.is_open, services=c.services)
                for c in self.queue.counters()]  # fmt: skip

    def services(self) -> list[ServiceRef]:
        return [ServiceRef(code=s.code, prefix=s.prefix, name_ar=s.name_ar, name_en=s.name_en)
                for s in self.queue.services() if s.active]  # fmt: skip

    def counter_view(self, code: str) -> CounterView:
        now = self.clock()
        counter = self.queue.counter(code)
        ticket = None
        last_announced = None
        if counter.current_ticket_id is not None:
            row = self.queue.get(counter.current_ticket_id)
            if row.status in (TicketStatus.CALLED, TicketStatus.SERVING):
                ticket = CurrentTicket(
                    id=row.id,
                    number=row.number,
                    service=row.service,
                    status=row.status,
                    called_at=iso(row.called_at) if row.called_at else None,
                    serving_at=iso(row.serving_at) if row.serving_at else None,
                    recalls=row.recalls,
                )
                last_announced = self.calls.last_announced_at(row.id)
        estimates = self.queue.estimates()
        waiting = [
            WaitingItem(
                id=w.ticket_id,
                number=w.number,
                service=w.service,
                priority=w.priority,
                arrived_at=w.arrived_at,
                waited_s=max(0, int((now - parse_iso(w.queued_at)).total_seconds())),
                estimated_wait_s=None if estimates.get(w.ticket_id) is None else round(estimates[w.ticket_id] or 0),
            )
            for w in self.calls.waiting_for_counter(self.queue.today(now), code)
        ]
        targets = [s for s in self.services() if ticket is None or s.code != ticket.service]
        actions = availability(
            counter.is_open,
            ticket.status if ticket else None,
            len(waiting),
            last_announced,
            self.recall_interval_s,
            len(targets),
            now,
        )
        return CounterView(
            counter=CounterInfo(code=counter.code, name=counter.name, is_open=counter.is_open,
                                services=counter.services),
            ticket=ticket, waiting=waiting, actions=actions, transfer_targets=targets, generated_at=iso(now),
        )  # fmt: skip

    def act(
        self, code: str, action: ActionName, actor: Principal, ticket_id: int | None = None, service: str | None = None
    ) -> ActionResult:
        """Do one action if the counter's state allows it; otherwise say why, with the counter's true state."""
        view = self.counter_view(code)
        offered = next(a for a in view.actions if a.name == action)
        needs_ticket = action not in (ActionName.CALL_NEXT, ActionName.OPEN, ActionName.CLOSE)
        if needs_ticket and ticket_id is not None and (view.ticket is None or view.ticket.id != ticket_id):
            return ActionResult(action=action, done=False, view=view, notice=Notice(
                code="stale", ticket=view.ticket.number if view.ticket else None,
                detail="the counter's ticket changed since this screen was drawn"))  # fmt: skip
        if not offered.enabled:
            return ActionResult(action=action, done=False, view=view, notice=Notice(
                code=offered.reason or "refused", retry_in_s=offered.retry_in_s,
                ticket=view.ticket.number if view.ticket else None))  # fmt: skip
        if action is ActionName.TRANSFER and service not in {s.code for s in view.transfer_targets}:
            raise Invalid(f"choose a service to transfer to: {', '.join(s.code for s in view.transfer_targets)}")
        called = None
        try:
            if action is ActionName.CALL_NEXT:
                ticket = self.queue.call_next(code, actor)
                if ticket is None:
                    return ActionResult(action=action, done=False, view=self.counter_view(code),
                                        notice=Notice(code="nobody_waiting"))  # fmt: skip
                called = ticket.number
            elif action in (ActionName.OPEN, ActionName.CLOSE):
                self.queue.set_counter_open(code, action is ActionName.OPEN, actor)
            else:
                assert view.ticket is not None  # guaranteed by availability
                tid = view.ticket.id
                if action is ActionName.TRANSFER:
                    self.queue.transfer(tid, service or "", actor)
                else:
                    getattr(self.queue, action.value)(tid, actor)
        except (Conflict, RateLimited, NotFound) as exc:  # lost a race with another screen: say so, show the truth
            retry = int(exc.retry_after_s + 0.999) if isinstance(exc, RateLimited) else None
            return ActionResult(action=action, done=False, view=self.counter_view(code),
                                notice=Notice(code="refused", detail=exc.message, retry_in_s=retry))  # fmt: skip
        return ActionResult(action=action, done=True, called=called, view=self.counter_view(code))

    # -- hall display ------------------------------------------------------------------------------------------
    def display_view(self) -> DisplayView:
        now = self.clock()
        day = self.queue.today(now)
        calls = self.calls.recent(day, self.settings.recent_calls + 20)
        now_calling = [c for c in calls if c.status == TicketStatus.CALLED]
        earlier = [c for c in calls if c.status != TicketStatus.CALLED][: self.settings.recent_calls]

        def view(c: Call) -> CallView:
            return CallView(
                number=c.number, counter=c.counter, service=c.service, status=TicketStatus(c.status), at=c.announced_at
            )

        return DisplayView(
            open=hours.is_open(self.settings, now, self.tz),
            now=[view(c) for c in now_calling],
            recent=[view(c) for c in earlier],
            waiting=[WaitingView(service=w.service, prefix=w.prefix, name_ar=w.name_ar, name_en=w.name_en,
                                 waiting=w.waiting) for w in self.calls.waiting_per_service(day)],
            announcements=AnnouncementCursor(epoch=self.announcer.epoch, last_seq=self.announcer.last_seq),
            speech=self.settings.speech,
            generated_at=iso(now),
        )  # fmt: skip

    # -- supervisor --------------------------------------------------------------------------------------------
    def history(self, day: date | None = None) -> DayHistory:
        now = self.clock()
        day = day or self.queue.today(now)
        start = business_day_start(day, self.tz, self.rollover)
        end = min(now, start + timedelta(days=1))
        if end < start:
            raise DomainError(f"business day {day} has not started yet")
        step = timedelta(minutes=self.settings.history_step_min)
        return DayHistory(business_day=day, step_min=self.settings.history_step_min,
                          points=self.calls.day_series(day, start, end, step))  # fmt: skip
