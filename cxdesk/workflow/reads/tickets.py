"""Ticket lists: the queue's views, filters and orders (`ticket_filter`), one page and a
capped count at a time, their words found as `word_ways` chooses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import QueryableAttribute
from sqlmodel import Session, col, select

from cxdesk.db import Database
from cxdesk.models import Customer, Ticket, TicketKind
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.reads.interrupt import Interrupter
from cxdesk.workflow.reads.ticket_filter import (
    Sort,
    TicketFilter,
    View,
    default_sort,
    order_of,
)
from cxdesk.workflow.reads.word_ways import Way, finding, matching, page_ids_counted

__all__ = [
    "Sort",
    "TicketFilter",
    "TicketPage",
    "TicketRow",
    "View",
    "count_tickets",
    "default_sort",
    "list_counted",
    "list_open_problems",
    "list_tickets",
    "read_counted_page",
    "read_ticket_count",
    "read_ticket_page",
    "ticket_row",
]


@dataclass(frozen=True)
class TicketRow:
    id: str
    number: int
    kind: str
    stage: str
    priority: str
    queue: str
    assignee: str | None
    customer_id: str | None
    customer_name: str | None
    title: str
    opened_at: datetime
    first_response_due: datetime | None
    resolution_due: datetime | None
    sla_due: datetime | None
    sla_risk_at: datetime | None
    escalation_level: int
    version: int

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


def _attribute(column: object) -> QueryableAttribute[Any]:
    """`column` as the mapped attribute it is: sqlmodel types a model's class attributes as
    the values of its instances, so a checker sees no `key` or `class_` on them."""
    if not isinstance(column, QueryableAttribute):
        raise TypeError(f"not a mapped column: {column!r}")
    return column


# A listing reads only the columns a row shows, as tuples: no ORM objects to build.
_ROW_COLUMNS = tuple(
    _attribute(column)
    for column in (
        Ticket.id,
        Ticket.kind,
        Ticket.stage,
        Ticket.priority,
        Ticket.queue_id,
        Ticket.assignee,
        Ticket.customer_id,
        Customer.name,
        Ticket.title,
        Ticket.opened_at,
        Ticket.first_response_due,
        Ticket.resolution_due,
        Ticket.sla_due,
        Ticket.sla_risk_at,
        Ticket.escalation_level,
        Ticket.version,
    )
)


def _row(values: Any) -> TicketRow:
    number, *rest = values
    return TicketRow(ticket_ref(number), number, *rest)


def ticket_row(ticket: Ticket, customer_name: str | None) -> TicketRow:
    """A loaded ticket as a listing would show it (one ticket's detail heads with it)."""
    return _row(
        [getattr(ticket, c.key) if c.class_ is Ticket else customer_name for c in _ROW_COLUMNS]
    )


@dataclass(frozen=True)
class TicketPage:
    """A page of a list, and the list's count capped as `count_tickets` caps it where the
    page's read found that too (see `word_ways.page_ids_counted`), else None; and the way
    its words were found, for the count to take too."""

    rows: list[TicketRow]
    total: int | None
    way: Way


def list_tickets(
    session: Session, f: TicketFilter, *, limit: int = 100, offset: int = 0
) -> list[TicketRow]:
    """One page of tickets in the filter's order (see `default_sort`)."""
    return list_counted(session, f, limit=limit, offset=offset, cap=None).rows


def list_counted(
    session: Session, f: TicketFilter, *, limit: int, offset: int, cap: int | None
) -> TicketPage:
    """One page of tickets in the filter's order, and with `cap` their count if the page's
    read finds it.

    The page's ids are chosen from the tickets alone and only those rows are joined to their
    customers: an agent holding thousands of open tickets sorts ids, not joined rows.
    """

    def page(way: Way) -> TicketPage:
        chosen, total = page_ids_counted(session, f, way, limit=limit, offset=offset, cap=cap)
        statement = (
            select_columns(*_ROW_COLUMNS)
            .join(Customer, isouter=True)
            .where(col(Ticket.id).in_(chosen))
            .order_by(*order_of(f))
        )
        return TicketPage([_row(values) for values in session.exec(statement)], total, way)

    return finding(session, f, page)


def list_open_problems(
    session: Session, queues: tuple[str, ...] | None, *, limit: int
) -> list[TicketRow]:
    """The open problems of `queues` (None: every queue), the newest first: few of a million
    tickets, sought by their kind in the index of the tickets not closed. All of them are
    read and the newest kept here: asked for the newest in order, PostgreSQL walked the
    ticket ids backwards through every problem ever opened."""
    statement = (
        select_columns(*_ROW_COLUMNS)
        .join(Customer, isouter=True)
        .where(col(Ticket.kind) == TicketKind.PROBLEM, NOT_CLOSED)
    )
    if queues is not None:
        statement = statement.where(col(Ticket.queue_id).in_(queues))
    rows = sorted(session.exec(statement), key=lambda values: values[0], reverse=True)
    return [_row(values) for values in rows[:limit]]


def count_tickets(
    session: Session, f: TicketFilter, *, cap: int | None = None, way: Way | None = None
) -> int:
    """How many tickets match; with `cap`, counting stops at cap + 1 (shown as "cap+"), so a
    broad view over a million tickets costs no more than a narrow one. `way`: the way the
    list's page found its words (`TicketPage.way`), else chosen here."""

    def count(way: Way) -> int:
        found = matching(f, way)
        if cap is not None:
            found = found.limit(cap + 1)
        return session.exec(select(func.count()).select_from(found.subquery())).one()

    return finding(session, f, count, way)


def read_ticket_page(
    db: Database,
    f: TicketFilter,
    *,
    limit: int,
    offset: int = 0,
    interrupter: Interrupter | None = None,
) -> list[TicketRow]:
    """`list_tickets` in a session of its own, which `interrupter` can stop."""
    return read_counted_page(db, f, limit=limit, offset=offset, interrupter=interrupter).rows


def read_counted_page(
    db: Database,
    f: TicketFilter,
    *,
    limit: int,
    offset: int = 0,
    cap: int | None = None,
    interrupter: Interrupter | None = None,
) -> TicketPage:
    """`list_counted` in a session of its own, which `interrupter` can stop: the queue's
    page, whose count is read apart (`read_ticket_count`) only if this one did not find it."""
    with _reading(db, interrupter) as session:
        return list_counted(session, f, limit=limit, offset=offset, cap=cap)


def read_ticket_count(
    db: Database,
    f: TicketFilter,
    *,
    cap: int,
    interrupter: Interrupter | None = None,
    still_wanted: Callable[[], bool] = lambda: True,
    way: Way | None = None,
) -> int | None:
    """`count_tickets` in a session of its own, which `interrupter` can stop; None, without
    counting, if `still_wanted()` says no once it can be stopped (an interrupt that came
    before that found nothing to stop)."""
    with _reading(db, interrupter) as session:
        if not still_wanted():
            return None
        return count_tickets(session, f, cap=cap, way=way)


@contextmanager
def _reading(db: Database, interrupter: Interrupter | None) -> Iterator[Session]:
    with db.session() as session, interrupter.running(session) if interrupter else nullcontext():
        yield session
