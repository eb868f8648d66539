"""SLA clocks: due times from a queue's calendar and policy, and the state of a clock now.

Due times live in indexed ticket columns; `sla_due`/`sla_risk_at` mirror whichever
clock is running so that at-risk and breached views are index range queries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from cxdesk.config import Settings, Target
from cxdesk.models import Priority, Queue, Stage
from cxdesk.workflow.basics.instants import local_text
from cxdesk.workflow.clocks.calendar import BusinessCalendar

CLOCK_STOPPED_STAGES = frozenset({Stage.PENDING, Stage.VERIFY, Stage.CLOSED})
# What a policy has targets for; a stored priority outside it has no clock to read.
KNOWN_PRIORITIES = frozenset(Priority)


class Clocked(Protocol):
    """What the clocks read and write on a ticket (a `Ticket`, or a plain stand-in in bulk)."""

    stage: str
    priority: str
    first_response_at: datetime | None
    resolved_at: datetime | None
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_due: datetime | None
    sla_risk_at: datetime | None
    paused_seconds: int


# A new ticket's due times: first response, resolution, and the running clock's mirror
# (sla_due, sla_risk_at).
Clocks = tuple[datetime | None, datetime | None, datetime | None, datetime | None]
# The same, planned ahead by ingest's reading process for every alert, as ISO 8601 text: the
# form they cross the pipe in (see feed). The writer turns them back into instants only for
# the alerts that open a case.
PlannedClocks = tuple[str | None, str | None, str | None, str | None]


def planned(clocks: Clocks) -> PlannedClocks:
    a, b, c, d = [None if at is None else at.isoformat() for at in clocks]
    return a, b, c, d


def unplanned(clocks: PlannedClocks) -> Clocks:
    a, b, c, d = [None if at is None else datetime.fromisoformat(at) for at in clocks]
    return a, b, c, d


@dataclass
class ClockFacts:
    """A ticket's clocks apart from the ticket: one opening (for `start_clocks` to set its due
    times on), or one an explanation replays."""

    priority: str
    stage: str = Stage.NEW
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    first_response_due: datetime | None = None
    resolution_due: datetime | None = None
    sla_due: datetime | None = None
    sla_risk_at: datetime | None = None
    paused_seconds: int = 0


class SlaState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"


# A marker beside the colour, so the state reads without colour too (and in plain text): the
# desk's SLA column and the command line's show the same one.
STATE_MARK = {SlaState.BREACHED: "!", SlaState.AT_RISK: "~", SlaState.OK: " "}
# English day names whatever the locale: the command line's output does not change with it.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class ClockReading:
    state: SlaState
    remaining: timedelta  # negative once breached


@dataclass(frozen=True)
class ClockRule:
    """What a queue's policy says for one priority: the targets, the calendar they run on,
    and the fraction of a target after which the clock is at risk."""

    target: Target
    calendar: BusinessCalendar
    at_risk: float


class SlaPlanner:
    """Turns settings into calendars and due times; calendars and each queue's rule for a
    priority are worked out once and reused (ingest plans clocks for thousands of tickets)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._calendars: dict[str, BusinessCalendar] = {}
        self._rules: dict[tuple[str, str, str], ClockRule] = {}

    def calendar(self, name: str) -> BusinessCalendar:
        if name not in self._calendars:
            self._calendars[name] = BusinessCalendar(
                self.settings.calendar(name), self.settings.timezone
            )
        return self._calendars[name]

    def rule(self, queue: Queue, priority: str) -> ClockRule:
        key = (queue.policy, queue.calendar, priority)
        rule = self._rules.get(key)
        if rule is None:
            policy = self.settings.policy(queue.policy)
            target = policy.target(priority)
            calendar = self.calendar(target.calendar or queue.calendar)
            rule = self._rules[key] = ClockRule(target, calendar, policy.at_risk)
        return rule

    def calendar_for(self, queue: Queue, priority: str) -> BusinessCalendar:
        return self.rule(queue, priority).calendar

    def due_times(
        self, queue: Queue, priority: str, start: datetime, paused: timedelta = timedelta(0)
    ) -> tuple[datetime, datetime]:
        """First-response and resolution due times for clocks started at `start` that have
        since been paused for `paused` of working time."""
        rule = self.rule(queue, priority)
        return (
            rule.calendar.add(start, rule.target.first_response + paused),
            rule.calendar.add(start, rule.target.resolution + paused),
        )

    def start_clocks(self, ticket: Clocked, queue: Queue, start: datetime) -> None:
        """Set both due times from `start` (opening, a reopen, or a priority change, which
        keeps the pending time already given back)."""
        first_response_due, resolution_due = self.due_times(
            queue, ticket.priority, start, timedelta(seconds=ticket.paused_seconds)
        )
        if ticket.first_response_at is None:
            ticket.first_response_due = first_response_due
        ticket.resolution_due = resolution_due
        self.refresh_running_clock(ticket, queue)

    def opening_clocks(self, queue: Queue, priority: str, start: datetime) -> Clocks:
        """The due times of a ticket opened in `queue` at `start`."""
        ticket = ClockFacts(priority)
        self.start_clocks(ticket, queue, start)
        return (
            ticket.first_response_due,
            ticket.resolution_due,
            ticket.sla_due,
            ticket.sla_risk_at,
        )

    def resume_clocks(
        self, ticket: Clocked, queue: Queue, paused_at: datetime, now: datetime
    ) -> None:
        """Give back the working time that was left when the ticket was paused."""
        calendar = self.calendar_for(queue, ticket.priority)
        ticket.paused_seconds += int(calendar.between(paused_at, now).total_seconds())
        for name in ("first_response_due", "resolution_due"):
            due = getattr(ticket, name)
            if due is not None and due > paused_at:
                setattr(ticket, name, calendar.add(now, calendar.between(paused_at, due)))
        self.refresh_running_clock(ticket, queue)

    def read(
        self,
        queue: Queue,
        priority: str,
        due: datetime | None,
        risk_at: datetime | None,
        now: datetime,
    ) -> ClockReading | None:
        """The clock's state at `now`, with the working time left (or overdue, negative)
        counted on the calendar it runs on; None too for a priority no policy has targets for
        (stored outside cxdesk): its clock is unknown, and a listing shows it as none."""
        reading = read_clock(due, risk_at, now)
        if reading is None or due is None or priority not in KNOWN_PRIORITIES:
            return None
        calendar = self.calendar_for(queue, priority)
        left = calendar.measured(now, due) if due >= now else -calendar.measured(due, now)
        return ClockReading(reading.state, left)

    def refresh_running_clock(self, ticket: Clocked, queue: Queue) -> None:
        """Mirror the running clock into `sla_due` and its at-risk mark into `sla_risk_at`."""
        if ticket.stage in CLOCK_STOPPED_STAGES or ticket.resolved_at is not None:
            ticket.sla_due = ticket.sla_risk_at = None
            return
        rule = self.rule(queue, ticket.priority)
        if ticket.first_response_at is None:
            due, length = ticket.first_response_due, rule.target.first_response
        else:
            due, length = ticket.resolution_due, rule.target.resolution
        ticket.sla_due = due
        if due is None:
            ticket.sla_risk_at = None
            return
        ticket.sla_risk_at = rule.calendar.subtract(due, length * (1 - rule.at_risk))


class ClockReader:
    """Reads running clocks by queue id, for listings: queues are loaded once. A ticket of a
    queue that no longer exists has no clock to read (None)."""

    def __init__(self, planner: SlaPlanner, queues: Mapping[str, Queue]) -> None:
        self.planner = planner
        self.queues = queues

    def read(
        self,
        queue_id: str,
        priority: str,
        due: datetime | None,
        risk_at: datetime | None,
        now: datetime,
    ) -> ClockReading | None:
        queue = self.queues.get(queue_id)
        if queue is None:
            return None
        return self.planner.read(queue, priority, due, risk_at, now)


def read_clock(
    due: datetime | None, risk_at: datetime | None, now: datetime
) -> ClockReading | None:
    """The state of a running clock at `now`; None when no clock runs."""
    if due is None:
        return None
    remaining = due - now
    if remaining < timedelta(0):
        return ClockReading(SlaState.BREACHED, remaining)
    if risk_at is not None and now >= risk_at:
        return ClockReading(SlaState.AT_RISK, remaining)
    return ClockReading(SlaState.OK, remaining)


def format_remaining(reading: ClockReading | None) -> str:
    """`1h 23m`, `3d 4h`, `BREACHED 2h 05m`; empty when no clock runs."""
    if reading is None:
        return ""
    seconds = abs(int(reading.remaining.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days}d {hours}h"
    elif hours:
        text = f"{hours}h {minutes:02d}m"
    else:
        text = f"{minutes}m"
    return f"BREACHED {text}" if reading.state is SlaState.BREACHED else text


def due_text(due: datetime, now: datetime, timezone: str) -> str:
    """When a clock is due, as short as still unambiguous next to `now` in `timezone`:
    `14:00` today, `Wed 14:00` within a week either side, `03-18 14:00` otherwise."""
    zone = ZoneInfo(timezone)
    try:
        local, today = due.astimezone(zone), now.astimezone(zone)
    except OverflowError:  # absurd stored data at the end of time
        return local_text(due, timezone)
    if local.date() == today.date():
        return local.strftime("%H:%M")
    if abs((local.date() - today.date()).days) < 7:
        return f"{_WEEKDAYS[local.weekday()]} {local.strftime('%H:%M')}"
    return local.strftime("%m-%d %H:%M")


def sla_text(
    reading: ClockReading | None, due: datetime | None, now: datetime, timezone: str
) -> str:
    """A running clock in plain text: its marker, the working time left and when it is due,
    `!BREACHED 3d 21h · Wed 14:00` or `~1h 20m · 14:00`; empty when no clock runs."""
    if reading is None or due is None:
        return ""
    mark = STATE_MARK[reading.state].strip()
    return f"{mark}{format_remaining(reading)} · {due_text(due, now, timezone)}"
