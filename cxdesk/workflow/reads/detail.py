"""One ticket as its viewer may see it: the row, the customer, the timeline, links, resolution."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.i18n import say
from cxdesk.models import Customer, FeedbackEvent, Ticket, TicketLink, TimelineEntry
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.reads.customers import contact, feedback_in_scope
from cxdesk.workflow.reads.tickets import TicketRow, ticket_row


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

    def parts_json(self) -> dict[str, Any]:
        """What the ticket shows beyond its row, in JSON (`ticket show`, the server)."""
        return {
            "customer": None if self.customer is None else self.customer.__dict__,
            "links": self.links,
            "resolution": self.resolution,
            "verify_outcome": self.verify_outcome,
            "reopen_count": self.reopen_count,
            "timeline": [
                {
                    "at": t.at.isoformat(),
                    "actor": t.actor,
                    "kind": t.kind,
                    "body": t.body,
                    "event_id": t.event_id,
                }
                for t in self.timeline
            ],
        }


def ticket_detail(session: Session, ticket_id: int, viewer: Actor) -> TicketDetail:
    """One ticket as `viewer` may see it: out of their scope it does not exist for them, and
    contact details are masked unless they hold the `pii` permission."""
    ticket = session.get(Ticket, ticket_id)
    scope = visible_queues(session, viewer)
    if ticket is None or (scope is not None and ticket.queue_id not in scope):
        raise NotFound(say("no ticket {ref}", ref=ticket_ref(ticket_id)))
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    card = None
    if customer is not None:
        phone, email = contact(customer, viewer)
        card = CustomerCard(
            id=customer.id,
            name=customer.name,
            tier=customer.tier,
            phone=phone,
            email=email,
            feedback_count=session.exec(
                select(func.count()).where(  # feedback on tickets out of scope is not theirs
                    FeedbackEvent.customer_id == customer.id, feedback_in_scope(scope)
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
        row=ticket_row(ticket, customer.name if customer else None),
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


def read_ticket_detail(db: Database, ticket_id: int, viewer: Actor) -> TicketDetail:
    """`ticket_detail` in a session of its own."""
    with db.session() as session:
        return ticket_detail(session, ticket_id, viewer)
