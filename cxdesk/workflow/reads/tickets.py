"""Ticket lists: the queue's views, filters and orders, one page and a capped count at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import func, nulls_last, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import QueryableAttribute
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cxdesk.db import Database
from cxdesk.db.search_index import SEARCH_TABLE, Phrases
from cxdesk.models import Customer, Stage, Ticket
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.reads.interrupt import Interrupter
from cxdesk.workflow.reads.search import Search


class Sort(StrEnum):
    """Orders the queue can be shown in, in the order the sort key cycles through them."""

    SLA = "sla"  # the running clock closest to its due time first
    PRIORITY = "priority"  # P1 first, then by SLA
    AGE = "age"  # the newest first


class View(StrEnum):
    """The queue screen's views, in the order of their number keys."""

    MINE = "mine"
    UNASSIGNED = "unassigned"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    ESCALATED = "escalated"
    VERIFYING = "verifying"
    ALL = "all"


@dataclass(frozen=True)
class TicketFilter:
    view: View = View.ALL
    stage: str | None = None
    queue: str | None = None
    assignee: str | None = None
    me: str | None = None  # whose tickets "mine" means
    now: datetime | None = None  # at-risk and breached are judged at this instant
    queues: tuple[str, ...] | None = None  # the viewer's data scope; None: every queue
    search: Search | None = None  # what the user typed after `/`
    sort: Sort | None = None  # None: the view's own order


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


def _filtered(
    statement: SelectOfScalar[int | None], f: TicketFilter, check: bool = False
) -> SelectOfScalar[int | None]:
    open_only = col(Ticket.stage) != Stage.CLOSED
    match f.view:
        case View.MINE:
            statement = statement.where(col(Ticket.assignee) == f.me, open_only)
        case View.UNASSIGNED:
            statement = statement.where(col(Ticket.assignee).is_(None), open_only)
        case View.AT_RISK:
            statement = statement.where(
                col(Ticket.sla_risk_at) <= f.now, col(Ticket.sla_due) >= f.now
            )
        case View.BREACHED:
            statement = statement.where(col(Ticket.sla_due) < f.now)
        case View.ESCALATED:
            statement = statement.where(col(Ticket.escalation_level) > 0, open_only)
        case View.VERIFYING:
            statement = statement.where(col(Ticket.stage) == Stage.VERIFY)
    if f.queues is not None:
        statement = statement.where(col(Ticket.queue_id).in_(f.queues))
    if f.search is not None:
        statement = f.search.apply(statement, check=check)
    if f.stage:
        statement = statement.where(col(Ticket.stage) == f.stage)
    if f.queue:
        statement = statement.where(col(Ticket.queue_id) == f.queue)
    if f.assignee:
        statement = statement.where(col(Ticket.assignee) == f.assignee)
    return statement


def list_tickets(
    session: Session, f: TicketFilter, *, limit: int = 100, offset: int = 0
) -> list[TicketRow]:
    """One page of tickets in the filter's order (see `default_sort`).

    The page's ids are chosen from the tickets alone and only those rows are joined to their
    customers: an agent holding thousands of open tickets sorts ids, not joined rows.
    """
    match f.sort or default_sort(f.view):
        case Sort.AGE:
            order: tuple[Any, ...] = (col(Ticket.id).desc(),)
        case Sort.PRIORITY:
            order = (col(Ticket.priority), nulls_last(col(Ticket.sla_due).asc()), col(Ticket.id))
        case Sort.SLA:
            order = (nulls_last(col(Ticket.sla_due).asc()), col(Ticket.id))

    def page(check: bool) -> list[TicketRow]:
        chosen = _matching(f, check).order_by(*order).limit(limit).offset(offset)
        statement = (
            select_columns(*_ROW_COLUMNS)
            .join(Customer, isouter=True)
            .where(col(Ticket.id).in_(chosen.scalar_subquery()))
            .order_by(*order)
        )
        return [_row(values) for values in session.exec(statement)]

    return _finding_words(session, f, page)


def default_sort(view: View) -> Sort:
    """The newest first where clocks mostly stand still (all, verifying), else the most
    urgent running clock first."""
    return Sort.AGE if view in (View.ALL, View.VERIFYING) else Sort.SLA


def count_tickets(session: Session, f: TicketFilter, *, cap: int | None = None) -> int:
    """How many tickets match; with `cap`, counting stops at cap + 1 (shown as "cap+"), so a
    broad view over a million tickets costs no more than a narrow one."""

    def count(check: bool) -> int:
        matching = _matching(f, check)
        if cap is not None:
            matching = matching.limit(cap + 1)
        return session.exec(select(func.count()).select_from(matching.subquery())).one()

    return _finding_words(session, f, count)


def _matching(f: TicketFilter, check: bool) -> SelectOfScalar[int | None]:
    """The ids of the tickets `f` lets through."""
    return _filtered(select(col(Ticket.id)), f, check)


T = TypeVar("T")

# A word in fewer tickets than this is looked up in the word index: reading those few
# tickets and sorting them is quick. One in more is checked on each ticket the list reads
# in its order, which soon fills a page (see `CheckedWord`).
COMMON_WORD = 2_000
# Steps of SQLite's virtual machine that checking words may take (see `_finding_words`):
# many more than a page or a capped count of common words needs, far fewer than checking a
# million tickets.
CHECK_STEPS = 1_000_000


def _finding_words(session: Session, f: TicketFilter, run: Callable[[bool], T]) -> T:
    """`run(check)`, choosing how free-text words are found: looked up in the word index
    when they are in few tickets together, else (SQLite) checked ticket by ticket as the
    list is read, within CHECK_STEPS; a common word in a rare combination (few of its
    tickets pass the other filters) runs out of them, and is looked up after all. On
    PostgreSQL common words are left to its planner (see `CheckedWords`)."""
    if f.search is None:
        return run(False)
    indexed = f.search.indexed()
    if indexed is None or _in_few_tickets(session, indexed):
        return run(False)
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        return run(True)
    ran_out = False

    def out_of_steps() -> int:
        nonlocal ran_out
        ran_out = True
        return 1  # non-zero: SQLite stops the statement ("interrupted")

    driver.set_progress_handler(out_of_steps, CHECK_STEPS)
    try:
        return run(True)
    except OperationalError:
        if not ran_out:
            raise  # interrupted from outside (Interrupter), or another error
    finally:
        driver.set_progress_handler(None, 0)
    return run(False)


def _in_few_tickets(session: Session, phrases: Phrases) -> bool:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        found, query = "terms @@ CAST(:q AS tsquery)", phrases.tsquery()
    else:
        found, query = f"{SEARCH_TABLE} MATCH :q", phrases.fts5()
    few = text(f"SELECT count(*) FROM (SELECT 1 FROM {SEARCH_TABLE} WHERE {found} LIMIT :n) s")
    return bool(connection.execute(few, {"q": query, "n": COMMON_WORD}).scalar_one() < COMMON_WORD)


def read_ticket_page(
    db: Database,
    f: TicketFilter,
    *,
    limit: int,
    offset: int = 0,
    interrupter: Interrupter | None = None,
) -> list[TicketRow]:
    """`list_tickets` in a session of its own, which `interrupter` can stop."""
    with _reading(db, interrupter) as session:
        return list_tickets(session, f, limit=limit, offset=offset)


def read_ticket_count(
    db: Database,
    f: TicketFilter,
    *,
    cap: int,
    interrupter: Interrupter | None = None,
    still_wanted: Callable[[], bool] = lambda: True,
) -> int | None:
    """`count_tickets` in a session of its own, which `interrupter` can stop; None, without
    counting, if `still_wanted()` says no once it can be stopped (an interrupt that came
    before that found nothing to stop)."""
    with _reading(db, interrupter) as session:
        if not still_wanted():
            return None
        return count_tickets(session, f, cap=cap)


@contextmanager
def _reading(db: Database, interrupter: Interrupter | None) -> Iterator[Session]:
    with db.session() as session, interrupter.running(session) if interrupter else nullcontext():
        yield session
