"""One customer's whole story as a viewer may see it: contact, feedback, and tickets.

Scope follows the ticket detail read (`detail`): a ticket in a queue the viewer may not see does
not exist for them, nor does feedback tied to such a ticket; feedback tied to no ticket belongs
to no team and is shown to everyone who may read the desk. A customer of whom nothing is left
in the viewer's scope is refused like an unknown one, so a refusal tells nothing of other teams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, true
from sqlmodel import Session, col, select

from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.i18n import say
from cxdesk.models import Customer, FeedbackEvent, Stage, Ticket
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.access.pii import mask_email, mask_phone
from cxdesk.workflow.basics.refs import ticket_ref


@dataclass(frozen=True)
class FeedbackItem:
    event_id: str
    kind: str
    occurred_at: datetime
    channel: str | None
    touchpoint: str | None
    nps: int | None
    csat: int | None
    ces: int | None
    comment: str | None  # the customer's words: untrusted
    ticket: str | None  # the ticket it raised or joined, when the viewer may see it


@dataclass(frozen=True)
class CustomerTicket:
    id: str
    number: int
    kind: str
    stage: str
    priority: str
    queue: str
    title: str
    opened_at: datetime
    closed_at: datetime | None
    outcome: str  # verified, unverified, failed or merged once closed; else the open stage
    reopen_count: int


@dataclass(frozen=True)
class CustomerView:
    id: str
    name: str | None
    tier: str | None
    phone: str | None  # masked unless the viewer holds the `pii` permission
    email: str | None
    feedback: list[FeedbackItem]  # newest first, at most HISTORY_LIMIT
    tickets: list[CustomerTicket]  # newest first, at most HISTORY_LIMIT
    feedback_total: int = 0  # how many there are in all
    tickets_total: int = 0


HISTORY_LIMIT = 500  # the newest of each shown: a customer may have answered for years


def feedback_in_scope(scope: tuple[str, ...] | None) -> ColumnElement[bool]:
    """Feedback a viewer with this scope may see: on no ticket, or on a ticket in scope. For
    one customer's feedback: each event's ticket is looked up by its id (as a list of the
    tickets in scope, SQLite gathered it by scanning every ticket)."""
    if scope is None:
        return true()
    ticket_in_scope = select(Ticket.id).where(
        col(Ticket.id) == FeedbackEvent.ticket_id, col(Ticket.queue_id).in_(scope)
    )
    return or_(col(FeedbackEvent.ticket_id).is_(None), ticket_in_scope.exists())


def contact(customer: Customer, viewer: Actor) -> tuple[str | None, str | None]:
    """Phone and email as `viewer`'s role may see them: masked without `pii`."""
    if viewer.pii:
        return customer.phone, customer.email
    return mask_phone(customer.phone), mask_email(customer.email)


def outcome(ticket: Ticket) -> str:
    """How a ticket ended (its verification outcome), or the stage it is open in."""
    if ticket.stage == Stage.CLOSED:
        return ticket.verify_outcome or Stage.CLOSED.value
    return ticket.stage


def customer_view(session: Session, customer_id: str, viewer: Actor) -> CustomerView:
    scope = visible_queues(session, viewer)
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(say("no customer {id}", id=customer_id))
    tickets = select(Ticket).where(Ticket.customer_id == customer_id)
    if scope is not None:
        tickets = tickets.where(col(Ticket.queue_id).in_(scope))
    rows = session.exec(
        tickets.order_by(col(Ticket.opened_at).desc(), col(Ticket.id).desc()).limit(HISTORY_LIMIT)
    )
    shown = [
        CustomerTicket(
            id=ticket_ref(t.id),
            number=t.id,
            kind=t.kind,
            stage=t.stage,
            priority=t.priority,
            queue=t.queue_id,
            title=t.title,
            opened_at=t.opened_at,
            closed_at=t.closed_at,
            outcome=outcome(t),
            reopen_count=t.reopen_count,
        )
        for t in rows
        if t.id is not None
    ]
    in_scope = (FeedbackEvent.customer_id == customer_id, feedback_in_scope(scope))
    events = session.exec(
        select(FeedbackEvent)
        .where(*in_scope)
        .order_by(col(FeedbackEvent.occurred_at).desc(), col(FeedbackEvent.event_id).desc())
        .limit(HISTORY_LIMIT)
    )
    feedback = [
        FeedbackItem(
            event_id=e.event_id,
            kind=e.kind,
            occurred_at=e.occurred_at,
            channel=e.channel,
            touchpoint=e.touchpoint,
            nps=e.nps,
            csat=e.csat,
            ces=e.ces,
            comment=e.comment,
            ticket=ticket_ref(e.ticket_id) if e.ticket_id is not None else None,
        )
        for e in events
    ]
    if scope is not None and not shown and not feedback:
        raise NotFound(say("no customer {id}", id=customer_id))  # as if unknown: see above
    phone, email = contact(customer, viewer)
    ticket_total, feedback_total = len(shown), len(feedback)
    if ticket_total == HISTORY_LIMIT:  # more than are shown: count them
        counted = tickets.with_only_columns(func.count()).order_by(None)
        ticket_total = session.exec(counted).one()  # type: ignore[call-overload]
    if feedback_total == HISTORY_LIMIT:
        feedback_total = session.exec(
            select(func.count()).select_from(FeedbackEvent).where(*in_scope)
        ).one()
    return CustomerView(
        customer.id,
        customer.name,
        customer.tier,
        phone,
        email,
        feedback,
        shown,
        feedback_total,
        ticket_total,
    )


def read_customer(db: Database, customer_id: str, viewer: Actor) -> CustomerView:
    """`customer_view` in a session of its own."""
    with db.session() as session:
        return customer_view(session, customer_id, viewer)
