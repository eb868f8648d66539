"""Why an SLA clock is due when it is: every stretch of time from the clock's start, counted
or not and why (outside hours, a weekend, a named public holiday, a make-up workday, a pause
with its reason, a restart), with the running total of working time.

The ticket's history is replayed through the same `SlaPlanner` calls that stored its due
times (`start_clocks` on opening, a priority raise or a reopen; `resume_clocks` after a
pause), so the explanation arrives at the due times the desk shows, or says where it does
not (history written before it was kept, or settings changed since).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from cxdesk.models import Queue, Stage
from cxdesk.workflow.clocks.calendar import BusinessCalendar, Unmeasurable
from cxdesk.workflow.clocks.sla import ClockFacts, SlaPlanner
from cxdesk.workflow.clocks.stretches import COUNTING, Interval, IntervalKind, lay_out

FIRST_RESPONSE, RESOLUTION = "first_response", "resolution"


class Step(StrEnum):
    """What happened to a ticket that its clocks answer to."""

    OPEN = "open"
    PEND = "pend"
    RESUME = "resume"
    PRIORITY = "priority"  # raised: due times planned again from the clock's start
    REOPEN = "reopen"  # a new resolution clock from this instant
    RESPOND = "respond"  # the first response
    STOP = "stop"  # resolved, or closed without resolution


@dataclass(frozen=True)
class Happening:
    at: datetime
    step: Step
    priority: str  # the ticket's priority after it
    note: str = ""  # a pause's reason


class StoredClocks(Protocol):
    """What a ticket stores about its clocks (a `Ticket` has it)."""

    opened_at: datetime
    priority: str
    first_response_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None


@dataclass(frozen=True)
class Mark:
    at: datetime
    kind: str  # at_risk, due, breached (the sweep's mark), risk_noted, escalated
    note: str = ""
    said: Any = None  # the note's template and values (`Message.stored`), for a desk's language


@dataclass(frozen=True)
class ClockExplanation:
    clock: str
    policy: str
    priority: str
    target: timedelta
    calendar: str
    started_at: datetime
    stopped_at: datetime | None
    state: str  # running, at_risk, breached, paused, met, missed, stopped
    due: datetime | None  # as stored on the ticket
    replayed_due: datetime | None  # as the replay of its history plans it
    at_risk_at: datetime | None
    breached_at: datetime | None
    counted: timedelta  # by now, or by the stop
    given_back: timedelta  # pending time added to the target since the clock started
    intervals: tuple[Interval, ...]
    marks: tuple[Mark, ...]

    @property
    def agrees(self) -> bool:
        return self.due == self.replayed_due

    def total_at(self, moment: datetime) -> timedelta:
        """Counted working time by `moment`, read off the intervals (within a stretch not
        itemised, what was counted by its start)."""
        total = timedelta(0)
        for interval in self.intervals:
            if interval.start > moment:
                break
            total = interval.total
            if interval.end > moment:
                total -= interval.counted
                if interval.kind in COUNTING:
                    total += moment - interval.start
                break
        return total


@dataclass(frozen=True)
class SlaExplanation:
    ticket_id: int
    queue: str
    now: datetime
    clocks: tuple[ClockExplanation, ...]


@dataclass(frozen=True)
class ClockNote:
    """An at-risk note or a breach escalation on the timeline."""

    at: datetime
    clock: str  # FIRST_RESPONSE or RESOLUTION
    kind: str  # risk_noted or escalated
    text: str
    said: Any = None


@dataclass
class _Stand(ClockFacts):
    """The ticket's clocks as the replay has them: what the planner reads and writes."""

    paused_at: datetime | None = None
    start: datetime | None = None  # the opening, or the last reopen


@dataclass
class _Walk:
    """One clock's intervals as the replay lays them out."""

    clock: str
    start: datetime | None = None
    stopped_at: datetime | None = None
    cursor: datetime | None = None
    total: timedelta = timedelta(0)
    given_back: timedelta = timedelta(0)
    pause: tuple[datetime, str] | None = None
    intervals: list[Interval] = field(default_factory=list)

    def restart(self, at: datetime, note: str, total: timedelta) -> None:
        self.start, self.cursor, self.stopped_at, self.pause = at, at, None, None
        self.total, self.given_back, self.intervals = total, timedelta(0), []
        if note:
            self.intervals.append(
                Interval(IntervalKind.RESTARTED, at, at, timedelta(0), total, note)
            )

    def rebase(self, at: datetime, note: str, total: timedelta) -> None:
        counted = total - self.total
        self.total = total
        self.intervals.append(Interval(IntervalKind.RESTARTED, at, at, counted, total, note))

    def lay_out(self, calendar: BusinessCalendar, end: datetime, *, ahead: bool = False) -> None:
        if self.cursor is None or end <= self.cursor:
            return
        for kind, start, stop, counted, note in lay_out(calendar, self.cursor, end):
            self.total += counted
            last = self.intervals[-1] if self.intervals else None
            if last and (last.kind, last.note, last.ahead, last.end) == (kind, note, ahead, start):
                counted += last.counted  # a stretch that a step without effect here cut
                start = self.intervals.pop().start
            self.intervals.append(
                Interval(kind, start, stop, counted, self.total, note, ahead=ahead)
            )
        self.cursor = end

    def stop(self, at: datetime) -> None:
        """Stopped (answered, resolved, closed), a pause it was in ending with it."""
        if self.stopped_at is None and self.start is not None:
            if self.pause is not None:
                self.end_pause(at, timedelta(0))
            self.stopped_at = at

    def end_pause(self, at: datetime, given_back: timedelta) -> None:
        assert self.pause is not None
        since, reason = self.pause
        self.given_back += given_back
        self.intervals.append(
            Interval(IntervalKind.PAUSED, since, at, timedelta(0), self.total, reason, given_back)
        )
        self.pause, self.cursor = None, at


def explain_clocks(
    planner: SlaPlanner,
    queue: Queue,
    ticket: StoredClocks,
    ticket_id: int,
    history: Sequence[Happening],
    notes: Sequence[ClockNote],
    now: datetime,
) -> SlaExplanation:
    """Both clocks of `ticket` explained up to `now` from its `history` (oldest first; an
    opening is assumed from the ticket where the history has none)."""
    steps = list(history)
    if not steps or steps[0].step is not Step.OPEN:
        priority = steps[0].priority if steps else ticket.priority
        steps.insert(0, Happening(ticket.opened_at, Step.OPEN, priority))
    if ticket.first_response_at is not None:
        steps.append(Happening(ticket.first_response_at, Step.RESPOND, ""))
    steps.sort(key=lambda h: h.at)  # stable: the record's order within an instant
    replay = _Replay(planner, queue)
    for happening in steps:
        replay.step(happening)
    replay.finish(now)
    return SlaExplanation(
        ticket_id,
        queue.id,
        now,
        tuple(
            replay.explanation(walk, ticket, notes, now)
            for walk in (replay.walks[FIRST_RESPONSE], replay.walks[RESOLUTION])
        ),
    )


class _Replay:
    """The planner's calls, in the order the ticket's history made them."""

    def __init__(self, planner: SlaPlanner, queue: Queue) -> None:
        self.planner, self.queue = planner, queue
        self.stand = _Stand(priority="")
        self.walks = {FIRST_RESPONSE: _Walk(FIRST_RESPONSE), RESOLUTION: _Walk(RESOLUTION)}

    def calendar(self) -> BusinessCalendar:
        return self.planner.calendar_for(self.queue, self.stand.priority)

    def state(self, walk: _Walk) -> str:
        stand = self.stand
        if walk.start is None or walk.stopped_at is not None:
            return "stopped"
        return "paused" if stand.paused_at is not None else "running"

    def step(self, h: Happening) -> None:
        stand, walks = self.stand, self.walks
        if stand.start is not None:
            for walk in walks.values():
                if self.state(walk) == "running":
                    walk.lay_out(self.calendar(), h.at)
        match h.step:
            case Step.OPEN:
                stand.priority, stand.start = h.priority, h.at
                self.planner.start_clocks(stand, self.queue, h.at)
                for walk in walks.values():
                    walk.restart(h.at, "", timedelta(0))
            case Step.PEND:
                stand.stage, stand.paused_at = Stage.PENDING, h.at
                for walk in walks.values():
                    if walk.stopped_at is None and walk.start is not None:
                        walk.pause = (h.at, h.note)
            case Step.RESUME if stand.paused_at is not None:
                before = stand.paused_seconds
                stand.stage = Stage.COLLECT
                self.planner.resume_clocks(stand, self.queue, stand.paused_at, h.at)
                stand.paused_at = None
                given = timedelta(seconds=stand.paused_seconds - before)
                for walk in walks.values():
                    if walk.pause is not None:
                        walk.end_pause(h.at, given)
            case Step.PRIORITY if stand.start is not None and h.priority != stand.priority:
                self._raise(h)
            case Step.REOPEN:
                self._reopen(h)
            case Step.RESPOND:
                stand.first_response_at = h.at
                walks[FIRST_RESPONSE].stop(h.at)
            case Step.STOP:
                stand.stage, stand.paused_at = Stage.CLOSED, None
                stand.resolved_at = h.at
                for walk in walks.values():
                    walk.stop(h.at)

    def _raise(self, h: Happening) -> None:
        stand = self.stand
        assert stand.start is not None
        note = f"priority {stand.priority} → {h.priority}"
        stand.priority = h.priority
        self.planner.start_clocks(stand, self.queue, stand.start)
        # Counted up to the pause's start, where the ticket pends: a walk's own pause starts
        # again at each raise that cuts it, so a second raise in one pause would count time
        # between the first raise and the pause's start as worked.
        counted_until = h.at if stand.paused_at is None else stand.paused_at
        total = self.calendar().measured(stand.start, counted_until) - timedelta(
            seconds=stand.paused_seconds
        )
        for walk in self.walks.values():
            if self.state(walk) == "stopped":
                continue
            pause = walk.pause
            if pause is not None:  # the pause goes on past the raise, cut by it
                walk.end_pause(h.at, timedelta(0))
            walk.rebase(h.at, note, total)
            if pause is not None:
                walk.pause = (h.at, pause[1])

    def _reopen(self, h: Happening) -> None:
        stand = self.stand
        unanswered = stand.first_response_at is None
        stand.priority, stand.start = h.priority, h.at
        stand.paused_seconds, stand.paused_at = 0, None
        stand.resolved_at, stand.stage = None, Stage.ANALYZE
        self.planner.start_clocks(stand, self.queue, h.at)
        self.walks[RESOLUTION].restart(h.at, "reopened", timedelta(0))
        if unanswered:
            self.walks[FIRST_RESPONSE].restart(h.at, "reopened", timedelta(0))

    def finish(self, now: datetime) -> None:
        """Lay the clocks out up to now, and a running clock on to its due time."""
        for walk in self.walks.values():
            state = self.state(walk)
            if state == "running":
                walk.lay_out(self.calendar(), now)
                due = self.due(walk.clock)
                if due is not None and due > now:
                    walk.lay_out(self.calendar(), due, ahead=True)
            elif state == "paused" and walk.pause is not None:
                since, reason = walk.pause
                walk.intervals.append(
                    Interval(IntervalKind.PAUSED, since, now, timedelta(0), walk.total, reason)
                )

    def due(self, clock: str) -> datetime | None:
        if clock == FIRST_RESPONSE:
            return self.stand.first_response_due
        return self.stand.resolution_due

    def explanation(
        self, walk: _Walk, ticket: StoredClocks, notes: Sequence[ClockNote], now: datetime
    ) -> ClockExplanation:
        stand, queue = self.stand, self.queue
        rule = self.planner.rule(queue, stand.priority)
        target = (
            rule.target.first_response if walk.clock == FIRST_RESPONSE else rule.target.resolution
        )
        first = walk.clock == FIRST_RESPONSE
        stored = ticket.first_response_due if first else ticket.resolution_due
        breached = ticket.first_response_breached_at if first else ticket.resolution_breached_at
        replayed = self.due(walk.clock)
        risk = _risk_point(rule.calendar, stored, target * (1 - rule.at_risk))
        start = walk.start or stand.start or now
        marks = [
            Mark(at, kind)
            for at, kind in ((risk, "at_risk"), (stored, "due"), (breached, "breached"))
            if at is not None
        ]
        marks += [
            Mark(n.at, n.kind, n.text, n.said)
            for n in notes
            if n.clock == walk.clock and n.at >= start
        ]
        marks.sort(key=lambda m: m.at)
        counted = walk.total
        if walk.intervals and walk.intervals[-1].ahead:
            counted = next((i.total for i in reversed(walk.intervals) if not i.ahead), timedelta(0))
        return ClockExplanation(
            clock=walk.clock,
            policy=queue.policy,
            priority=stand.priority,
            target=target,
            calendar=self.planner.settings.policy(queue.policy).target(stand.priority).calendar
            or queue.calendar,
            started_at=start,
            stopped_at=walk.stopped_at,
            state=self._state_word(walk, stored, risk, now),
            due=stored,
            replayed_due=replayed,
            at_risk_at=risk,
            breached_at=breached,
            counted=counted,
            given_back=walk.given_back,
            intervals=tuple(walk.intervals),
            marks=tuple(marks),
        )

    def _state_word(
        self, walk: _Walk, due: datetime | None, risk: datetime | None, now: datetime
    ) -> str:
        state = self.state(walk)
        if walk.stopped_at is not None:
            # A first-response clock stopped by a resolution without a reply was not met.
            answered = walk.clock == RESOLUTION or self.stand.first_response_at == walk.stopped_at
            if not answered or due is None:
                return "stopped"
            return "met" if walk.stopped_at <= due else "missed"
        if state != "running" or due is None:
            return state
        if due < now:
            return "breached"
        return "at_risk" if risk is not None and now >= risk else "running"


def _risk_point(
    calendar: BusinessCalendar, due: datetime | None, left: timedelta
) -> datetime | None:
    """Where the clock turns at risk: as `refresh_running_clock` marks it."""
    if due is None:
        return None
    try:
        return calendar.subtract(due, left)
    except Unmeasurable:
        return None
