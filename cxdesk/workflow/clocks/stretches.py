"""A clock's time cut into stretches, each counted or not and why: working time (on a
make-up workday too), outside hours, a weekend, a named public holiday; with the pauses and
restarts the explanation adds (`clocks.explain`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from cxdesk.workflow.clocks.calendar import BusinessCalendar, DayKind, Unmeasurable

MOST_DAYS_ITEMISED = 400  # beyond, a clock's time is one summed stretch (a rehearsal's --now)


class IntervalKind(StrEnum):
    COUNTED = "counted"
    OUTSIDE_HOURS = "outside_hours"
    WEEKEND = "weekend"
    HOLIDAY = "public_holiday"
    MAKEUP = "makeup_workday"  # counted, on a day that works although it has no hours
    PAUSED = "paused"
    RESTARTED = "restarted"  # no length: the clock starts again, its total re-counted
    NOT_ITEMISED = "not_itemised"


COUNTING = frozenset({IntervalKind.COUNTED, IntervalKind.MAKEUP})  # working time, by the minute


@dataclass(frozen=True)
class Interval:
    kind: IntervalKind
    start: datetime
    end: datetime
    counted: timedelta  # working time it adds to the clock
    total: timedelta  # the clock's counted working time by its end
    note: str = ""  # the holiday's name, the pause's reason, what restarted the clock
    given_back: timedelta = timedelta(0)  # a pause's working time, added to the target
    ahead: bool = False  # after now: how the rest of the target lies until the due time


Piece = tuple[IntervalKind, datetime, datetime, timedelta, str]


def lay_out(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Piece]:
    """[start, end) cut into working spans and the idle time between them, by kind; the
    same kinds next to each other joined."""
    itemised = min(end, start + timedelta(days=MOST_DAYS_ITEMISED))
    pieces: list[Piece] = []
    cursor = start
    try:
        spans = calendar.working_spans(start, itemised)
    except Unmeasurable:
        spans, itemised = [], start
    for opens, closes in spans:
        if opens > cursor:
            pieces += _idle(calendar, cursor, opens)
        day = opens.astimezone(calendar.zone).date()
        makeup = not calendar.always_open and calendar.day_kind(day)[0] is DayKind.MAKEUP
        kind = IntervalKind.MAKEUP if makeup else IntervalKind.COUNTED
        pieces.append((kind, opens, closes, closes - opens, ""))
        cursor = closes
    if cursor < itemised:
        pieces += _idle(calendar, cursor, itemised)
    if itemised < end:
        pieces.append(
            (IntervalKind.NOT_ITEMISED, itemised, end, calendar.measured(itemised, end), "")
        )
    joined: list[Piece] = []
    for piece in pieces:
        if joined and joined[-1][0] == piece[0] and joined[-1][4] == piece[4]:
            kind, opens, _, counted, note = joined[-1]
            joined[-1] = (kind, opens, piece[2], counted + piece[3], note)
        else:
            joined.append(piece)
    return joined


_IDLE_KIND = {
    DayKind.WORKDAY: IntervalKind.OUTSIDE_HOURS,
    DayKind.MAKEUP: IntervalKind.OUTSIDE_HOURS,
    DayKind.WEEKEND: IntervalKind.WEEKEND,
    DayKind.HOLIDAY: IntervalKind.HOLIDAY,
}


def _idle(calendar: BusinessCalendar, start: datetime, end: datetime) -> list[Piece]:
    """Time outside working spans, cut at local midnights and named by its day."""
    pieces: list[Piece] = []
    moment = start
    while moment < end:
        day = moment.astimezone(calendar.zone).date()
        midnight = datetime.combine(day + timedelta(days=1), time(0), calendar.zone)
        until = min(end, midnight.astimezone(UTC))
        kind, name = calendar.day_kind(day)
        pieces.append((_IDLE_KIND[kind], moment, until, timedelta(0), name or ""))
        moment = until
    return pieces


def working_time(length: timedelta) -> str:
    """Working time as hours and minutes (`171h 00m`, `-2h 05m`): days of a calendar with
    opening hours are not 24 hours long."""
    minutes = int(length.total_seconds()) // 60
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}h {rest:02d}m"
