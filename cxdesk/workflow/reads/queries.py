"""Read side: ticket listings and details as plain dataclasses for the TUI and the CLI."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Boolean, Select, func, literal, nulls_last, or_
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from cxdesk.errors import NotFound, WorkflowError
from cxdesk.models import Customer, FeedbackEvent, Stage, Ticket, TicketLink, TimelineEntry
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.access.pii import mask_email, mask_phone
from cxdesk.workflow.basics.refs import parse_ref, ticket_ref


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


FILTER_KEYS = {
    "priority": Ticket.priority,
    "queue": Ticket.queue_id,
    "stage": Ticket.stage,
    "assignee": Ticket.assignee,
    "kind": Ticket.kind,
    "rule": Ticket.rule,
}


@dataclass(frozen=True)
class Search:
    """`priority:P1 queue:vip 快递`: exact `key:value` terms and free text, all of them to match.

    Free text matches the ticket id, the customer's id or name, or the title (the start of
    the comment), as a substring in any language; it is always data, never a pattern.
    """

    terms: tuple[tuple[str, str], ...]
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Search:
        terms, words = [], []
        for token in text.split():
            key, sep, value = token.partition(":")
            if sep and key.lower() in FILTER_KEYS and value:
                terms.append((key.lower(), value))
            elif sep and key.isascii() and key.isalpha() and value:
                known = ", ".join(FILTER_KEYS)
                raise WorkflowError(f"unknown filter {key!r}; use {known}, or plain words")
            else:
                words.append(token)
        return cls(tuple(terms), tuple(words))

    def apply(self, statement: Select, *, customers_joined: bool = True) -> Select:
        """Narrow `statement` to matching tickets. With `customers_joined` the statement joins
        each ticket's customer and a word is looked for in the joined name; without, in the
        names of all customers first (see `_word_scan`). Both select the same tickets."""
        for key, value in self.terms:
            column = col(FILTER_KEYS[key])
            value = value.upper() if key == "priority" else value
            statement = statement.where(column == value)
        for word in self.words:
            number = _ticket_number(word)
            name = ContainsText(Customer.name, word)
            matches = [
                ContainsText(Ticket.title, word),
                ContainsText(Ticket.customer_id, word),
                name
                if customers_joined
                else col(Ticket.customer_id).in_(select(Customer.id).where(name)),
            ]
            if number is not None:
                matches.append(Ticket.id == number)
            statement = statement.where(or_(*matches))
        return statement


class ContainsText(FunctionElement[bool]):
    """`column` holds `word` anywhere, ignoring the case of ASCII letters on every backend
    (SQLite's LIKE does; PostgreSQL's does not, so it gets ILIKE). `word` is data: `%`, `_`
    and the escape character in it match themselves."""

    type = Boolean()
    inherit_cache = True
    name = "contains_text"

    def __init__(self, column: Any, word: str) -> None:
        escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
        super().__init__(column, literal(f"%{escaped}%"))


def _compile_contains(operator: str) -> Callable[..., str]:
    def render(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
        column, pattern = (compiler.process(c, **kw) for c in element.clauses)
        return f"{column} {operator} {pattern} ESCAPE '/'"

    return render


compiles(ContainsText)(_compile_contains("LIKE"))
compiles(ContainsText, "postgresql")(_compile_contains("ILIKE"))


def _ticket_number(word: str) -> int | None:
    try:
        return parse_ref(word)
    except NotFound:
        return None


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


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    actor: str
    kind: str
    body: str
    event_id: str | None
    said: Any = None  # the system text's template and values (`Message.stored`), if any


@dataclass(frozen=True)
class CustomerCard:
    id: str
    name: str | None
    tier: str | None
    phone: str | None
    email: str | None
    feedback_count: int
    ticket_count: int


@dataclass(frozen=True)
class TicketDetail:
    row: TicketRow
    customer: CustomerCard | None
    timeline: list[TimelineItem]
    links: list[str]  # problems of a case, or cases of a problem
    resolution: dict[str, str | None]
    reopen_count: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    verify_outcome: str | None


# A listing reads only the columns a row shows, as tuples: no ORM objects to build.
_ROW_COLUMNS = (
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


def _row(values: Any) -> TicketRow:
    number, *rest = values
    return TicketRow(ticket_ref(number), number, *rest)


def _ticket_row(ticket: Ticket, customer_name: str | None) -> TicketRow:
    return _row(
        [getattr(ticket, c.key) if c.class_ is Ticket else customer_name for c in _ROW_COLUMNS]
    )


def _filtered(statement: Select, f: TicketFilter, *, customers_joined: bool = True) -> Select:
    open_only = col(Ticket.stage) != Stage.CLOSED
    match f.view:
        case View.MINE:
            statement = statement.where(Ticket.assignee == f.me, open_only)
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
            statement = statement.where(Ticket.stage == Stage.VERIFY)
    if f.queues is not None:
        statement = statement.where(col(Ticket.queue_id).in_(f.queues))
    if f.search is not None:
        statement = f.search.apply(statement, customers_joined=customers_joined)
    if f.stage:
        statement = statement.where(Ticket.stage == f.stage)
    if f.queue:
        statement = statement.where(Ticket.queue_id == f.queue)
    if f.assignee:
        statement = statement.where(Ticket.assignee == f.assignee)
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

    def page(customers_joined: bool) -> list[TicketRow]:
        chosen = _matching(f, customers_joined).order_by(*order).limit(limit).offset(offset)
        statement = (
            select(*_ROW_COLUMNS)
            .join(Customer, isouter=True)
            .where(col(Ticket.id).in_(chosen.scalar_subquery()))
            .order_by(*order)
        )
        return [_row(values) for values in session.exec(statement)]

    return _word_scan(session, f, page)


def default_sort(view: View) -> Sort:
    """The newest first where clocks mostly stand still (all, verifying), else the most
    urgent running clock first."""
    return Sort.AGE if view in (View.ALL, View.VERIFYING) else Sort.SLA


def count_tickets(session: Session, f: TicketFilter, *, cap: int | None = None) -> int:
    """How many tickets match; with `cap`, counting stops at cap + 1 (shown as "cap+"), so a
    broad view over a million tickets costs no more than a narrow one."""

    def count(customers_joined: bool) -> int:
        matching = _matching(f, customers_joined)
        if cap is not None:
            matching = matching.limit(cap + 1)
        return session.exec(select(func.count()).select_from(matching.subquery())).one()

    return _word_scan(session, f, count)


def _matching(f: TicketFilter, customers_joined: bool) -> Select:
    """The ids of the tickets `f` lets through."""
    statement = select(Ticket.id)
    words = f.search is not None and f.search.words
    if words and customers_joined:  # words also match the customer's name
        statement = statement.join(Customer, isouter=True)
    return _filtered(statement, f, customers_joined=customers_joined)


T = TypeVar("T")

# About a tenth of a scan of a million tickets joined to their customers (~17M steps, 1.4 s);
# pages and capped counts of words that are not rare take 30,000 to 1,300,000.
WORD_SCAN_STEPS = 2_000_000


def _word_scan(session: Session, f: TicketFilter, run: Callable[[bool], T]) -> T:
    """`run(customers_joined)`, choosing how free-text words are matched on SQLite.

    Tickets are scanned in the list's order until the page (or the capped count) is full.
    Joined to their customers, a word found in many tickets stops the scan within
    milliseconds; but a rare word scans them all, one customer lookup each (1.4 s on a
    million). Matching the customers' names first (one pass over the customers, ~20 ms) and
    then the tickets without the join scans the million in ~0.3 s, and would cost those 20 ms
    on every common word. So the join is tried within WORD_SCAN_STEPS of SQLite's virtual
    machine, and a scan that runs out of them is done again the other way. PostgreSQL scans
    the join quickly either way.
    """
    if f.search is None or not f.search.words:
        return run(True)
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        return run(True)
    ran_out = False

    def out_of_steps() -> int:
        nonlocal ran_out
        ran_out = True
        return 1  # non-zero: SQLite stops the statement ("interrupted")

    driver.set_progress_handler(out_of_steps, WORD_SCAN_STEPS)
    try:
        return run(True)
    except OperationalError:
        if not ran_out:
            raise  # interrupted from outside (Interrupter), or another error
    finally:
        driver.set_progress_handler(None, 0)
    return run(False)


CANCEL_TIMEOUT_S = 2.0  # PostgreSQL: how long to wait for the server to take a cancel request


class Interrupter:
    """Stops, from another thread, the statements that worker sessions are running. A free-text
    word that matches nothing scans every ticket (over a second on a million); a newer search
    or view makes that answer useless, and stopping it frees the core and the connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stops: dict[int, Callable[[], None]] = {}

    @contextmanager
    def running(self, session: Session) -> Iterator[None]:
        """While inside, `interrupt()` stops the statement `session` is running; a stopped
        statement raises the driver's error in the worker."""
        driver = session.connection().connection.driver_connection
        stop = (
            driver.interrupt if isinstance(driver, sqlite3.Connection) else partial(_cancel, driver)
        )
        with self._lock:
            self._stops[id(session)] = stop
        try:
            yield
        finally:
            with self._lock:  # after this the connection may serve another session
                del self._stops[id(session)]

    def interrupt(self) -> None:
        """Stop every statement running inside `running`. Held under the lock, so a
        connection is never interrupted after it has gone back to the pool."""
        with self._lock:
            for stop in self._stops.values():
                stop()


def _cancel(driver: Any) -> None:
    """Ask PostgreSQL to cancel the backend's running statement (an idle one ignores it)."""
    import psycopg

    with suppress(psycopg.Error):  # else it runs to its end, and its answer is dropped
        driver.cancel_safe(timeout=CANCEL_TIMEOUT_S)


def ticket_detail(session: Session, ticket_id: int, viewer: Actor) -> TicketDetail:
    """One ticket as `viewer` may see it: out of their scope it does not exist for them, and
    contact details are masked unless they hold the `pii` permission."""
    ticket = session.get(Ticket, ticket_id)
    scope = visible_queues(session, viewer)
    if ticket is None or (scope is not None and ticket.queue_id not in scope):
        raise NotFound(f"no ticket {ticket_ref(ticket_id)}")
    show_pii = viewer.pii
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    card = None
    if customer is not None:
        card = CustomerCard(
            id=customer.id,
            name=customer.name,
            tier=customer.tier,
            phone=customer.phone if show_pii else mask_phone(customer.phone),
            email=customer.email if show_pii else mask_email(customer.email),
            feedback_count=session.exec(
                select(func.count()).where(
                    FeedbackEvent.customer_id == customer.id,
                    True  # feedback on tickets the viewer may not see is not theirs to count
                    if scope is None
                    else or_(
                        col(FeedbackEvent.ticket_id).is_(None),
                        col(FeedbackEvent.ticket_id).in_(
                            select(Ticket.id).where(col(Ticket.queue_id).in_(scope))
                        ),
                    ),
                )
            ).one(),
            ticket_count=session.exec(
                select(func.count()).where(
                    Ticket.customer_id == customer.id,
                    True if scope is None else col(Ticket.queue_id).in_(scope),
                )
            ).one(),
        )
    timeline = [
        TimelineItem(e.at, e.actor, e.kind, e.body, e.event_id, (e.data or {}).get("say"))
        for e in session.exec(
            select(TimelineEntry)
            .where(TimelineEntry.ticket_id == ticket_id)
            .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
        )
    ]
    if ticket.kind == "problem":
        other = col(TicketLink.case_id)
        linked = select(other).where(TicketLink.problem_id == ticket_id)
    else:
        other = col(TicketLink.problem_id)
        linked = select(other).where(TicketLink.case_id == ticket_id)
    if scope is not None:  # a linked ticket outside the viewer's teams does not exist for them
        linked = linked.join(Ticket, col(Ticket.id) == other).where(col(Ticket.queue_id).in_(scope))
    return TicketDetail(
        row=_ticket_row(ticket, customer.name if customer else None),
        customer=card,
        timeline=timeline,
        links=[ticket_ref(i) for i in session.exec(linked.order_by(other))],
        resolution={
            "code": ticket.resolution_code,
            "root_cause": ticket.root_cause,
            "driver": ticket.driver,
            "action_taken": ticket.action_taken,
            "customer_remedy": ticket.customer_remedy,
        },
        reopen_count=ticket.reopen_count,
        first_response_at=ticket.first_response_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        verify_outcome=ticket.verify_outcome,
    )
