"""Follow-up surveys as read: their delivery, for `cxdesk followups list`, and the one a
reply token names, for whoever receives answers (the token is the only key an answer
carries back)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from cxdesk.errors import PermissionDenied, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import FollowUp, FollowUpStatus, Ticket
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.basics.refs import ticket_ref

# What `secrets.token_urlsafe` writes, and no longer than the column: anything else names
# no follow-up, and is answered without a query.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def followup_for_token(session: Session, token: str) -> tuple[FollowUp, Ticket] | None:
    """The follow-up a reply token names, with its ticket; None for any other string."""
    if not _TOKEN.fullmatch(token):
        return None
    row = session.exec(
        select(FollowUp, Ticket)
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .where(FollowUp.reply_token == token)
    ).first()
    return None if row is None else (row[0], row[1])


@dataclass(frozen=True)
class FollowUpListing:
    """One follow-up's delivery as `followups list` shows it."""

    id: int
    ticket: str
    customer_id: str | None
    status: str
    channel: str | None
    attempts: int
    next_attempt_at: datetime | None
    sent_at: datetime | None
    expires_at: datetime
    reason: str | None


def list_followups(
    session: Session, viewer: Actor, *, status: str | None = None, limit: int = 100
) -> list[FollowUpListing]:
    """The follow-ups in the viewer's queues, newest first (for supervisors and admins, as
    the export is: they say who was surveyed and why not)."""
    if not viewer.may("assign"):
        raise PermissionDenied(
            say(
                "{login} ({role}) may not list follow-ups; supervisors and admins may",
                login=viewer.login,
                role=viewer.role,
            )
        )
    if status is not None and status not in set(FollowUpStatus):
        raise WorkflowError(
            say(
                "no follow-up status {status}; known: {known}",
                status=repr(status),
                known=", ".join(FollowUpStatus),
            )
        )
    statement = (
        select(FollowUp, Ticket.customer_id)
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .order_by(col(FollowUp.id).desc())
        .limit(limit)
    )
    scope = visible_queues(session, viewer)
    if scope is not None:
        statement = statement.where(col(Ticket.queue_id).in_(scope))
    if status is not None:
        statement = statement.where(FollowUp.status == status)
    return [
        FollowUpListing(
            id=followup.id or 0,
            ticket=ticket_ref(followup.ticket_id),
            customer_id=customer_id,
            status=followup.status,
            channel=followup.channel,
            attempts=followup.attempts,
            next_attempt_at=followup.next_attempt_at,
            sent_at=followup.sent_at,
            expires_at=followup.expires_at,
            reason=followup.reason,
        )
        for followup, customer_id in session.exec(statement)
    ]
