"""Follow-up surveys: their text and channel, and exporting the due ones for a survey
channel outside cxdesk, marking them sent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cxdesk.errors import PermissionDenied
from cxdesk.i18n import say
from cxdesk.models import Customer, FeedbackEvent, FollowUp, FollowUpStatus, Stage, Ticket
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.access.pii import mask_email, mask_phone
from cxdesk.workflow.basics.refs import ticket_ref

SURVEY_TEXT = (
    "您好{name}，您反馈的问题（{ticket}）已处理完毕。请问您对处理结果的满意度（0–10 分）？"
    " / Hello{name_en}, your issue {ticket} has been resolved. How likely are you to recommend "
    "us now (0–10)? Reply with the score."
)


def survey_text(name: str | None, ticket_id: int) -> str:
    """The survey's words for one customer (named, if known) about one ticket."""
    return SURVEY_TEXT.format(
        name=name or "", name_en=f" {name}" if name else "", ticket=ticket_ref(ticket_id)
    )


def survey_channel(session: Session, followup: FollowUp) -> str | None:
    """Where the survey goes: the follow-up's own channel, else that of the ticket's first
    feedback."""
    return (
        followup.channel
        or session.exec(
            select(FeedbackEvent.channel)
            .where(FeedbackEvent.ticket_id == followup.ticket_id)
            .order_by(col(FeedbackEvent.occurred_at))
        ).first()
    )


@dataclass(frozen=True)
class FollowUpRow:
    ticket_id: str
    customer_id: str | None
    customer_name: str | None
    phone: str | None
    email: str | None
    channel: str | None
    template: str
    survey: str
    expires_at: str


def export_due(session: Session, viewer: Actor, now: datetime, limit: int) -> list[FollowUpRow]:
    """The follow-ups due by `now` in the viewer's scope, marked sent as they are exported."""
    if not viewer.may("assign"):  # supervisors and admins: it is a list of customer contacts
        raise PermissionDenied(
            say(
                "{login} ({role}) may not export follow-ups; supervisors and admins may",
                login=viewer.login,
                role=viewer.role,
            )
        )
    statement = (
        select(FollowUp, Ticket, Customer)
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .join(Customer, col(Customer.id) == Ticket.customer_id, isouter=True)
        .where(
            FollowUp.status == FollowUpStatus.SCHEDULED,
            col(FollowUp.send_at) <= now,
            Ticket.stage == Stage.VERIFY,
        )
        .order_by(col(FollowUp.send_at), col(FollowUp.id))
        .limit(limit)
        .with_for_update(of=FollowUp)
    )
    scope = visible_queues(session, viewer)
    if scope is not None:
        statement = statement.where(col(Ticket.queue_id).in_(scope))
    rows = []
    for followup, ticket, customer in session.exec(statement):
        assert ticket.id is not None
        channel = survey_channel(session, followup)
        name = customer.name if customer else None
        phone, email = (customer.phone, customer.email) if customer else (None, None)
        rows.append(
            FollowUpRow(
                ticket_id=ticket_ref(ticket.id),
                customer_id=ticket.customer_id,
                customer_name=name,
                phone=phone if viewer.pii else mask_phone(phone),
                email=email if viewer.pii else mask_email(email),
                channel=channel,
                template=followup.template,
                survey=survey_text(name, ticket.id),
                expires_at=followup.expires_at.isoformat(),
            )
        )
        followup.status = FollowUpStatus.SENT
        followup.sent_at = now
        followup.next_attempt_at = None  # sent by whoever took the export
        followup.channel = channel
    return rows
