"""Which cases a problem explains: its scope, recorded when it opens, matched against the
facts of each open case, so that a problem gathers the open cases of its scope when it opens
and those that open later while it is open (by the `OpenTicket` command and by ingest's bulk
path alike: one definition of a match, `matches`, used by both).

A problem links only the cases of its own queue's team: its team works it and applies its
resolution, and a case of another team is one its people may not open. A metric alert whose
scope is another team's (gold customers, served by the VIP team) therefore links none of
them; that team's supervisor opens a problem in its own queue (`OpenProblem`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, literal_column
from sqlmodel import Session, col, select

from cxdesk.db import DriverRead, first_on_driver, insert_rows
from cxdesk.errors import NotFound, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import (
    Customer,
    FeedbackEvent,
    ProblemScope,
    Queue,
    Stage,
    Ticket,
    TicketKind,
    TicketLink,
    TimelineKind,
)
from cxdesk.models.base import table_of
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.basics.statements import Unindexed, select_columns
from cxdesk.workflow.loop.commands import LinkCases, ScopeSpec
from cxdesk.workflow.loop.unit import Acting, Work, own_unit, ticket_work

_LINKS = table_of(TicketLink)
_LINK = DriverRead(
    select(TicketLink.case_id).where(
        TicketLink.case_id == bindparam("case_id"), TicketLink.problem_id == bindparam("problem_id")
    )
)
COMPLAINTS = "complaints_rising"  # its cases are those opened from complaints
_SHOWN = 20  # case numbers a problem's summary entry names


@dataclass(frozen=True)
class CaseFacts:
    """What a case offers a scope to match: its team and queue, when it opened, the
    touchpoints and drivers of its feedback (and its own, once analysed), its customer's tier,
    and whether a complaint opened it."""

    team_id: str
    queue_id: str
    opened_at: datetime
    touchpoints: frozenset[str]
    drivers: frozenset[str]
    tier: str | None
    complaint: bool


@dataclass(frozen=True)
class OpenScope:
    """An open problem's scope, as matching needs it."""

    problem_id: int
    team_id: str
    metric: str
    dimension: str
    value: str | None
    gather_since: datetime | None


def matches(scope: OpenScope, facts: CaseFacts) -> bool:
    """Whether the problem explains the case: the same team, opened inside the window, and
    of the scope's touchpoint, queue, driver or tier (complaints rising: opened from one)."""
    if facts.team_id != scope.team_id:
        return False
    if scope.gather_since is not None and facts.opened_at < scope.gather_since:
        return False
    if scope.metric == COMPLAINTS and not facts.complaint:
        return False
    value = scope.value
    return {
        "all": True,
        "touchpoint": value in facts.touchpoints,
        "queue": facts.queue_id == value,
        "driver": value in facts.drivers,
        "tier": facts.tier is not None and facts.tier == value,
    }.get(scope.dimension, False)


# Built once and run on the driver: every new case asks it, and there is rarely a problem open.
# Sought from the open problems, in the index of the tickets not closed (whose condition is
# written into the statement, as SQLite needs it to take that index), each scope then by its
# problem's number: a desk's closed problems keep their scopes, and reading every scope to
# drop those of closed problems cost a lookup each (hundreds a case after a year's problems);
# joined from the stage index instead, SQLite scanned every open ticket.
_SCOPES = DriverRead(
    select_columns(
        ProblemScope.problem_id,
        Queue.team_id,
        ProblemScope.metric,
        ProblemScope.dimension,
        ProblemScope.value,
        ProblemScope.gather_since,
    )
    .select_from(Ticket)
    .join(ProblemScope, col(ProblemScope.problem_id) == Ticket.id)
    .join(Queue, col(Queue.id) == Ticket.queue_id)
    .where(
        Ticket.kind == TicketKind.PROBLEM,
        col(Ticket.stage) != literal_column(f"'{Stage.CLOSED.value}'"),
    )
    .order_by(col(ProblemScope.problem_id))
)
_ANY_SCOPE = f"SELECT 1 FROM {ProblemScope.__tablename__} LIMIT 1"


def open_scopes(session: Session) -> list[OpenScope]:
    """The scopes of the problems still open, each with its problem's team (ingest asks once
    per batch, a command once per case it opens)."""
    session.flush()  # a problem opened in this transaction is open
    connection = session.connection()
    if first_on_driver(connection, _ANY_SCOPE) is None:
        return []  # most desks, most of the time: answered for the cost of the driver's read
    return [OpenScope(*row) for row in _SCOPES.rows(connection)]


def open_case_facts(session: Session, team_id: str, since: datetime | None) -> dict[int, CaseFacts]:
    """The facts of the team's open cases opened since `since` (all of them for None)."""
    statement = (
        select_columns(
            Ticket.id,
            Ticket.queue_id,
            Ticket.opened_at,
            Ticket.touchpoint,
            Ticket.driver,
            Customer.tier,
        )
        .join(Queue, col(Queue.id) == Ticket.queue_id)
        .join(Customer, col(Customer.id) == Ticket.customer_id, isouter=True)
        .where(Ticket.kind == TicketKind.CASE, Queue.team_id == team_id)
    )
    if since is None:  # every open case of the team, found by kind among the open work
        statement = statement.where(NOT_CLOSED)
    else:  # the window's cases, found by when they opened (a metric alert's day or week)
        statement = statement.where(
            col(Ticket.opened_at) >= since, Unindexed(col(Ticket.stage)) != Stage.CLOSED
        )
    cases = session.exec(statement).all()
    touchpoints: dict[int, set[str]] = defaultdict(set)
    drivers: dict[int, set[str]] = defaultdict(set)
    complaints: set[int] = set()
    ids = [row[0] for row in cases]
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for ticket_id, touchpoint, event_drivers, kind in session.exec(
            select(
                FeedbackEvent.ticket_id,
                FeedbackEvent.touchpoint,
                FeedbackEvent.drivers,
                FeedbackEvent.kind,
            ).where(col(FeedbackEvent.ticket_id).in_(chunk))
        ):
            assert ticket_id is not None
            if touchpoint:
                touchpoints[ticket_id].add(touchpoint)
            drivers[ticket_id].update(d for d in event_drivers or () if isinstance(d, str))
            if kind == "complaint":
                complaints.add(ticket_id)
    return {
        number: CaseFacts(
            team_id=team_id,
            queue_id=queue_id,
            opened_at=opened_at,
            touchpoints=frozenset(touchpoints[number] | ({touchpoint} if touchpoint else set())),
            drivers=frozenset(drivers[number] | ({driver} if driver else set())),
            tier=tier,
            complaint=number in complaints,
        )
        for number, queue_id, opened_at, touchpoint, driver, tier in cases
    }


def record_scope(
    acting: Acting, problem: Ticket, spec: ScopeSpec, team_id: str, session: Session
) -> None:
    """Record a new problem's scope and link the open cases it explains."""
    assert problem.id is not None, "a problem has its number before its scope"
    session.add(
        ProblemScope(
            problem_id=problem.id,
            metric=spec.metric,
            dimension=spec.dimension,
            value=spec.value,
            gather_since=spec.gather_since,
            threshold=spec.threshold,
            before=spec.before,
        )
    )
    scope = OpenScope(
        problem.id, team_id, spec.metric, spec.dimension, spec.value, spec.gather_since
    )
    facts = open_case_facts(session, team_id, spec.gather_since)
    found = sorted(number for number, fact in facts.items() if matches(scope, fact))
    if found:
        link_cases(
            acting, LinkCases(problem.id, case_ids=tuple(found), at=problem.opened_at), session
        )


def link_new_case(acting: Acting, case: Ticket, team_id: str, session: Session) -> None:
    """Link a case the `OpenTicket` command has just opened to every open problem whose scope
    it is of (its facts read only when a problem is open)."""
    assert case.id is not None
    scopes = open_scopes(session)
    if not scopes:
        return
    event = session.exec(  # the event that opened it
        select(FeedbackEvent)
        .where(FeedbackEvent.ticket_id == case.id)
        .order_by(col(FeedbackEvent.occurred_at))
    ).first()
    customer = session.get(Customer, case.customer_id) if case.customer_id else None
    facts = CaseFacts(
        team_id=team_id,
        queue_id=case.queue_id,
        opened_at=case.opened_at,
        touchpoints=frozenset({event.touchpoint} if event and event.touchpoint else ()),
        drivers=frozenset(event.drivers if event else ()),
        tier=customer.tier if customer else None,
        complaint=event is not None and event.kind == "complaint",
    )
    for scope in scopes:
        if matches(scope, facts):
            link_cases(
                acting, LinkCases(scope.problem_id, case_ids=(case.id,), at=case.opened_at), session
            )


def add_link(acting: Acting, work: Work, problem_id: int) -> bool:
    """Link the work's case to the problem; False if it already was. Only cases link. The
    link is looked up and written as a row: a link object in the session would be flushed
    through the ORM with the case, at several times the cost of the command's own writes."""
    case_id = work.ticket.id
    assert case_id is not None, "a case being worked is stored"
    if work.ticket.kind != TicketKind.CASE:
        raise WorkflowError(say("{ref} is not a case; only cases link", ref=ticket_ref(case_id)))
    connection = work.session.connection()
    if _LINK.first(connection, case_id=case_id, problem_id=problem_id) is not None:
        return False
    link = dict(case_id=case_id, problem_id=problem_id, linked_at=work.at, linked_by=acting.actor)
    insert_rows(connection, _LINKS, [link])
    return True


def link_cases(acting: Acting, command: LinkCases, session: Session | None) -> Ticket:
    """Link each case not yet linked, with an entry on its timeline, then put one summary
    entry on the problem's. The cases are taken before the problem, in number order, as
    ingest (which holds its customers' cases when it links) takes them."""
    problem_id, at = command.ticket_id, command.at
    ref = ticket_ref(problem_id)
    linked: list[int] = []
    with own_unit(acting, session) as unit:
        for case_id in sorted(set(command.case_ids)):
            with ticket_work(acting, "link", case_id, None, at, unit) as work:
                if not add_link(acting, work, problem_id):
                    work.unchanged = True
                    continue
                work.timeline(
                    TimelineKind.LINK, say("linked to problem {ref}", ref=ref), problem=problem_id
                )
                linked.append(case_id)
        with ticket_work(acting, "link", problem_id, None, at, unit) as problem:
            if problem.ticket.kind != TicketKind.PROBLEM:
                raise NotFound(say("{ref} is not a problem ticket", ref=ref))
            if not linked:
                problem.unchanged = True
            else:
                problem.timeline(
                    TimelineKind.LINK,
                    say(
                        "linked {count} cases of its scope: {cases}",
                        count=len(linked),
                        cases=_refs(linked),
                    ),
                    cases=linked,
                )
    return problem.ticket


def _refs(numbers: Iterable[int]) -> str:
    shown = sorted(numbers)
    more = f" (+{len(shown) - _SHOWN})" if len(shown) > _SHOWN else ""
    return ", ".join(ticket_ref(n) for n in shown[:_SHOWN]) + more
