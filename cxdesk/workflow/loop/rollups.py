"""The hourly rollups of the feedback (`FeedbackRollup`), kept by whoever writes what they
count, in the same transaction: ingest adds a batch's counts with one upsert, a command that
moves events to another ticket moves their counts between queues, and a rebuild counts every
event again in one statement. The counts of a span of events, read from the events, are
here too, with the same definitions, for the edges of a window no whole hour covers."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    union_all,
)
from sqlmodel import Session

from cxdesk.db import DriverRead, add_rows
from cxdesk.models import FeedbackEvent, FeedbackRollup, Ticket
from cxdesk.models.base import table_of

COUNTERS = (
    "complaints",
    "nps_answers",
    "promoters",
    "detractors",
    "csat_answers",
    "csat_satisfied",
)
ZERO = (0,) * len(COUNTERS)
HOUR = timedelta(hours=1)
DIMENSIONS = ("all", "touchpoint", "queue")

Counts = tuple[int, ...]  # in the order of COUNTERS
Key = tuple[datetime, str, str]  # hour, dimension, value
Tally = dict[Key, list[int]]

_rollups = table_of(FeedbackRollup)
_events = table_of(FeedbackEvent).c
_tickets = table_of(Ticket).c


# What of an event its counts depend on: when, its kind, NPS, CSAT and touchpoint, and the
# queue of its ticket if it has one. A plain tuple: ingest makes one for each event it stores.
Facts = tuple[datetime, str, int | None, int | None, str | None, str | None]


def _counts(complaint: bool, nps: int | None, csat: int | None) -> Counts | None:
    counts = (
        int(complaint),
        int(nps is not None),
        int(nps is not None and nps >= 9),
        int(nps is not None and nps <= 6),
        int(csat is not None),
        int(csat is not None and csat >= 4),
    )
    return counts if any(counts) else None


# Every event's counts, looked up rather than worked out: ingest counts each event it stores.
# A score outside the schema's range (never stored by ingest) is counted by `_counts`.
_COUNTS = {
    (complaint, nps, csat): _counts(complaint, nps, csat)
    for complaint in (False, True)
    for nps in (None, *range(11))
    for csat in (None, *range(1, 6))
}


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour `at` falls in."""
    seconds = int(at.timestamp())
    return datetime.fromtimestamp(seconds - seconds % 3600, UTC)


def tally(facts: Iterable[Facts], sign: int = 1, *, queues_only: bool = False) -> Tally:
    """The counts of these events by hour and scope, each multiplied by `sign`. The events
    are first counted by what decides their counts (a batch has far fewer kinds than events,
    and counting them is done in C), then each kind is added to its scopes' rows."""
    kinds = Counter(
        (int(at.timestamp()) // 3600, kind == "complaint", nps, csat, touchpoint, queue)
        for at, kind, nps, csat, touchpoint, queue in facts
    )
    out: Tally = {}
    for (hour, complaint, nps, csat, touchpoint, queue), times in kinds.items():
        scored = (complaint, nps, csat)
        counts = _COUNTS[scored] if scored in _COUNTS else _counts(*scored)
        if counts is None:
            continue
        start = datetime.fromtimestamp(hour * 3600, UTC)
        scopes: list[Key] = []
        if not queues_only:
            scopes.append((start, "all", ""))
            if touchpoint is not None:
                scopes.append((start, "touchpoint", touchpoint))
        if queue is not None:
            scopes.append((start, "queue", queue))
        for scope in scopes:
            row = out.setdefault(scope, [0] * len(COUNTERS))
            for index, n in enumerate(counts):
                row[index] += sign * times * n
    return out


def add_tally(connection: Connection, counted: Tally) -> None:
    """Add the counts to the rollups: one upsert for all the rows (a row's counters grow by
    what it adds), in key order, so that two writers adding to the same rows (a batch, a
    merge) wait for each other instead of deadlocking."""
    rows = [
        {
            "hour": hour,
            "dimension": dimension,
            "value": value,
            **dict(zip(COUNTERS, counts, strict=True)),
        }
        for (hour, dimension, value), counts in sorted(counted.items())
        if any(counts)
    ]
    add_rows(connection, _rollups, rows, ("dimension", "hour", "value"), COUNTERS)


def move_events(session: Session, events: list[FeedbackEvent], ticket: Ticket) -> None:
    """Put `events` on `ticket`, their counts moved from their tickets' queues to its own."""
    moved = [event for event in events if event.ticket_id != ticket.id]
    if not moved:
        return
    left = tally(
        (_facts(event, _queue_of(session, event.ticket_id)) for event in moved),
        -1,
        queues_only=True,
    )
    joined = tally((_facts(event, ticket.queue_id) for event in moved), queues_only=True)
    for key, counts in joined.items():
        previous = left.get(key)
        left[key] = (
            counts if previous is None else [a + b for a, b in zip(previous, counts, strict=True)]
        )
    add_tally(session.connection(), left)
    for event in moved:
        event.ticket_id = ticket.id


def _queue_of(session: Session, ticket_id: int | None) -> str | None:
    ticket = None if ticket_id is None else session.get(Ticket, ticket_id)
    return None if ticket is None else ticket.queue_id


def _facts(event: FeedbackEvent, queue: str | None) -> Facts:
    return (event.occurred_at, event.kind, event.nps, event.csat, event.touchpoint, queue)


# -- the same counts, read from the events ---------------------------------------------------


def _sums() -> list[ColumnElement[Any]]:
    """The counters as SQL over feedback events, in the order of COUNTERS."""
    nps, csat = _events.nps, _events.csat
    return [
        func.sum(case((_events.kind == "complaint", 1), else_=0)),
        func.count(nps),
        func.sum(case((nps >= 9, 1), else_=0)),
        func.sum(case((nps <= 6, 1), else_=0)),
        func.count(csat),
        func.sum(case((csat >= 4, 1), else_=0)),
    ]


def _by_scope(dimension: str, *leading: ColumnElement[Any]) -> Select[Any]:
    """Counts of the events in `dimension`'s scopes, grouped by `leading` and the scope."""
    if dimension == "all":
        value: ColumnElement[Any] = literal("")
        statement = select(*leading, value, *_sums()).select_from(table_of(FeedbackEvent))
        return statement.group_by(*leading) if leading else statement
    if dimension == "touchpoint":
        value = _events.touchpoint
        statement = select(*leading, value, *_sums()).where(value.is_not(None))
    else:
        value = _tickets.queue_id
        statement = select(*leading, value, *_sums()).select_from(
            table_of(FeedbackEvent).join(table_of(Ticket), _tickets.id == _events.ticket_id)
        )
    return statement.group_by(*leading, value)


def scanned(
    connection: Connection, dimension: str, start: datetime, end: datetime, *, inclusive: bool
) -> dict[str, Counts]:
    """The counts of the events from `start` to `end` (`inclusive` or not) by scope."""
    rows = _scan(dimension, inclusive).rows(connection, start=start, end=end)
    return {value: tuple(int(n or 0) for n in counts) for value, *counts in rows}


# Built once for each scope and end, and read on the driver: every metric-alert look scans two
# stretches of events for each of its windows, and building the statement cost about what
# running it did, SQLAlchemy's handling of its execution as much again.
@functools.cache
def _scan(dimension: str, inclusive: bool) -> DriverRead:
    time = _events.occurred_at
    end = time <= bindparam("end") if inclusive else time < bindparam("end")
    return DriverRead(_by_scope(dimension).where(time >= bindparam("start"), end))


def rebuild(connection: Connection) -> None:
    """Count every event again, replacing the rollups: one statement for all of them."""
    if connection.dialect.name == "postgresql":
        hour: ColumnElement[Any] = func.date_trunc("hour", _events.occurred_at)
    else:  # the text SQLAlchemy stores a DateTime as on SQLite
        hour = func.strftime("%Y-%m-%d %H:00:00.000000", _events.occurred_at)
    parts = [_by_scope(dimension, hour).add_columns(literal(dimension)) for dimension in DIMENSIONS]
    columns = ["hour", "value", *COUNTERS, "dimension"]
    connection.execute(delete(_rollups))
    connection.execute(_rollups.insert().from_select(columns, union_all(*parts)))
