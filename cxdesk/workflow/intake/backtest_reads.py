"""What a backtest reads: the stored events in time order with only the columns the rules
read, the cases open when the replay starts, and the rule each past alert was recorded under.

Plain columns in chunks, never ORM objects: a backtest streams millions of events and holds
none of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_
from sqlmodel.sql.expression import Select

from cxdesk.models import Customer, FeedbackEvent, Stage, Ticket, TicketKind, TimelineEntry
from cxdesk.models.base import table_of
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.intake.rules import EVENT_FIELDS

CHUNK = 10_000  # rows fetched at a time
_STREAM = {"yield_per": CHUNK}
_events = table_of(FeedbackEvent).c
_customers = table_of(Customer).c
_tickets = table_of(Ticket).c
_timeline = table_of(TimelineEntry).c

# Where each fact a condition can read is stored.
FACT_COLUMNS: dict[str, Any] = {
    **{name: _events[name] for name in EVENT_FIELDS},
    "drivers": _events.drivers,
    "customer_id": _events.customer_id,
    "customer_name": _customers.name,
    "customer_tier": _customers.tier,
}
_FROM_CUSTOMER = ("customer_name", "customer_tier")
LEADING = 4  # columns before the facts in a replayed row: event id, time, customer, closed at


@dataclass(frozen=True)
class Window:
    """Events with `since <= occurred_at < until`; an end left open is unbounded."""

    since: datetime | None = None
    until: datetime | None = None

    def bounds(self, column: Any) -> list[ColumnElement[bool]]:
        conditions = []
        if self.since is not None:
            conditions.append(column >= self.since)
        if self.until is not None:
            conditions.append(column < self.until)
        return conditions


def replay_statement(symbols: tuple[str, ...], window: Window) -> Select[Any]:
    """Each event the rules judge (not follow-up answers, which ingest never judges), oldest
    first: its id, time, customer and when the ticket it went to was closed (None if it went
    to none, or that ticket is not closed), then the facts `symbols` name, in their order."""
    facts = [FACT_COLUMNS[name] for name in symbols]
    source = table_of(FeedbackEvent).outerjoin(table_of(Ticket), _tickets.id == _events.ticket_id)
    if any(name in _FROM_CUSTOMER for name in symbols):
        source = source.join(table_of(Customer), _customers.id == _events.customer_id)
    return (
        select_columns(
            _events.event_id, _events.occurred_at, _events.customer_id, _tickets.closed_at, *facts
        )
        .select_from(source)
        .where(_events.kind != "followup", *window.bounds(_events.occurred_at))
        .order_by(_events.occurred_at, _events.event_id)
    )


def replay_count(connection: Connection, window: Window) -> int:
    """How many events `replay_statement` gives: the total a progress bar counts to."""
    statement = (
        select_columns(func.count())
        .select_from(table_of(FeedbackEvent))
        .where(_events.kind != "followup", *window.bounds(_events.occurred_at))
    )
    return int(connection.execute(statement).scalar_one())


def replay_rows(
    connection: Connection, symbols: tuple[str, ...], window: Window
) -> Iterator[tuple[Any, ...]]:
    """The rows of `replay_statement`, read in chunks."""
    if connection.dialect.name == "postgresql":
        # A cursor is planned for its first rows (nested loops over the time index); this
        # one reads them all, which a hash join and one sort do in half the time.
        connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
    result = connection.execute(replay_statement(symbols, window), execution_options=_STREAM)
    drivers = symbols.index("drivers") + LEADING if "drivers" in symbols else None
    for rows in result.partitions():
        if drivers is None:
            yield from rows
            continue
        for row in rows:  # stored as a JSON list; the rules take a tuple, as ingest gives them
            values = list(row)
            values[drivers] = tuple(values[drivers] or ())
            yield tuple(values)


def open_cases_at(connection: Connection, since: datetime) -> dict[str, datetime | None]:
    """The customers with a case open at `since`, and when it was closed later (None: still
    open). A case reopened after a close keeps no record of that close: it counts as open
    since it was first opened."""
    statement = select_columns(_tickets.customer_id, _tickets.closed_at).where(
        _tickets.kind == TicketKind.CASE,
        _tickets.customer_id.is_not(None),
        _tickets.opened_at < since,
        or_(
            _tickets.stage != Stage.CLOSED,
            and_(_tickets.closed_at.is_not(None), _tickets.closed_at >= since),
        ),
    )
    cases: dict[str, datetime | None] = {}
    for customer, closed_at in connection.execute(statement, execution_options=_STREAM):
        if customer not in cases or closed_at is None:
            cases[customer] = closed_at
        elif cases[customer] is not None:
            cases[customer] = max(closed_at, cases[customer])
    return cases


def recorded_alerts(connection: Connection, window: Window) -> dict[str, str]:
    """By event id, the rule its alert was recorded under (the decisive one), for the events
    of `window`: an alert's timeline entry is dated at its event's time."""
    rule = _timeline.data["rule"].as_string()
    statement = select_columns(_timeline.event_id, rule).where(
        _timeline.kind == "alert",
        _timeline.event_id.is_not(None),
        rule.is_not(None),
        *window.bounds(_timeline.at),
    )
    names: dict[str, str] = {}  # each rule's name held once, however many alerts name it
    return {
        event: names.setdefault(name, name)
        for event, name in connection.execute(statement, execution_options=_STREAM)
    }
