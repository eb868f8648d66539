"""Which tickets a list holds and in what order: the queue's views, the filter's fields and
`key:value` terms, the orders. Its free-text words are found apart (`reads.word_ways`), in
whichever way suits how many tickets they and the rest of the filter let through."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Select, nulls_last
from sqlmodel import col

from cxdesk.models import Stage, Ticket
from cxdesk.models.tickets import ESCALATED, OPEN_TICKET
from cxdesk.workflow.basics.statements import Unindexed
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


def default_sort(view: View) -> Sort:
    """The newest first where clocks mostly stand still (all, verifying), else the most
    urgent running clock first."""
    return Sort.AGE if view in (View.ALL, View.VERIFYING) else Sort.SLA


def sort_of(f: TicketFilter) -> Sort:
    return f.sort or default_sort(f.view)


def order_of(f: TicketFilter) -> tuple[Any, ...]:
    """The ORDER BY of `f`'s list; the ticket id last, so that every order is total."""
    match sort_of(f):
        case Sort.AGE:
            return (col(Ticket.id).desc(),)
        case Sort.PRIORITY:
            return (col(Ticket.priority), nulls_last(col(Ticket.sla_due).asc()), col(Ticket.id))
        case Sort.SLA:
            return (nulls_last(col(Ticket.sla_due).asc()), col(Ticket.id))


# Any select of tickets: `filtered` narrows it and hands back the same kind of statement.
_Statement = TypeVar("_Statement", bound="Select[*tuple[Any, ...]]")


def filtered(statement: _Statement, f: TicketFilter) -> _Statement:
    """`statement` narrowed to the tickets `f`'s view, scope, fields and `key:value` terms let
    through; its words are not applied here."""
    match f.view:
        case View.MINE:
            statement = statement.where(col(Ticket.assignee) == f.me, OPEN_TICKET)
        case View.UNASSIGNED:
            statement = statement.where(col(Ticket.assignee).is_(None), OPEN_TICKET)
        case View.AT_RISK:
            # Found in the due times' index from now on, the soonest due first, which are
            # the first at risk: a capped count stops soon. From the risk times' index, it
            # went through every ticket ever at risk, breached ones too (80-200 ms on a
            # million).
            statement = statement.where(
                Unindexed(col(Ticket.sla_risk_at)) <= f.now, col(Ticket.sla_due) >= f.now
            )
        case View.BREACHED:
            statement = statement.where(col(Ticket.sla_due) < f.now)
        case View.ESCALATED:
            statement = statement.where(ESCALATED, OPEN_TICKET)
        case View.VERIFYING:
            statement = statement.where(col(Ticket.stage) == Stage.VERIFY)
    if f.queues is not None:
        statement = statement.where(col(Ticket.queue_id).in_(f.queues))
    if f.search is not None:
        statement = f.search.apply_terms(statement)
    if f.stage:
        statement = statement.where(col(Ticket.stage) == f.stage)
    if f.queue:
        statement = statement.where(col(Ticket.queue_id) == f.queue)
    if f.assignee:
        statement = statement.where(col(Ticket.assignee) == f.assignee)
    return statement


def few_tickets_pass(f: TicketFilter) -> bool:
    """Whether `f`, its words aside, lets few tickets through, found by an index: the views
    other than all hold working tickets (open, on a clock, escalated, verifying), and an
    assignee or a customer holds few of a million. All, alone or with a priority, a queue, a
    kind, a rule or a stage, is taken to hold many."""
    named = {key for key, _ in f.search.terms} if f.search else set()
    return f.view is not View.ALL or bool(f.assignee) or bool(named & {"assignee", "customer"})


# What an index finds besides the views: a SIFTED walk (`reads.word_ways`) gathers the
# tickets these let through and checks the rest of the filter on each ticket it keeps.
_INDEXED_KEYS = frozenset({"stage", "assignee", "customer"})


def split_by_index(f: TicketFilter) -> tuple[TicketFilter, TicketFilter | None]:
    """`f`, its words aside, as two filters that let through its tickets together: its view
    and what an index finds with it (a stage, an assignee, a customer), and the rest (a
    priority, a queue, a kind, a rule, the viewer's scope), None if nothing is left."""
    terms = f.search.terms if f.search else ()
    indexed = tuple(term for term in terms if term[0] in _INDEXED_KEYS)
    others = tuple(term for term in terms if term[0] not in _INDEXED_KEYS)
    gathered = replace(f, queue=None, queues=None, search=Search(indexed, ()))
    if not others and f.queue is None and f.queues is None:
        return gathered, None
    return gathered, TicketFilter(queue=f.queue, queues=f.queues, search=Search(others, ()))
