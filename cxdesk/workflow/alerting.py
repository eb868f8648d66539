"""From one accepted feedback event to the ticket it opens, updates or verifies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from cxdesk.models import Customer, FeedbackEvent, TicketKind
from cxdesk.workflow.events import FeedbackEventIn, store_event
from cxdesk.workflow.refs import parse_ref
from cxdesk.workflow.rules import RuleSet, event_facts
from cxdesk.workflow.service import TicketService


class Outcome(StrEnum):
    STORED = "stored"  # no rule fired
    CREATED = "created"
    UPDATED = "updated"


@dataclass(frozen=True)
class Accepted:
    outcome: Outcome
    ticket_id: int | None
    alerted: bool


def accept_event(
    session: Session,
    service: TicketService,
    rules: RuleSet,
    event: FeedbackEventIn,
    raw: str,
    *,
    received_at: datetime,
) -> Accepted:
    """Store the event, then act on it, all in the caller's transaction.

    A follow-up answer verifies or reopens its ticket; any other event is run through
    the alert rules, and an alert attaches to the customer's open case or opens one.
    """
    timezone = service.settings.timezone
    if event.kind == "followup" and event.ticket_id:
        ticket_id = parse_ref(event.ticket_id)
        row = store_event(
            session, event, raw, timezone=timezone, received_at=received_at, ticket_id=ticket_id
        )
        session.flush()
        service.record_followup_answer(ticket_id, row, at=row.occurred_at, session=session)
        return Accepted(Outcome.UPDATED, ticket_id, alerted=False)
    row = store_event(session, event, raw, timezone=timezone, received_at=received_at)
    session.flush()
    customer = session.get_one(Customer, row.customer_id)
    alert = rules.evaluate(event_facts(row, customer))
    if alert is None:
        return Accepted(Outcome.STORED, None, alerted=False)
    rule = alert.decisive
    existing = service.open_customer_case(session, customer.id)
    if existing is not None and existing.id is not None:
        service.attach_alert(
            session,
            existing.id,
            priority=alert.priority,
            rule=rule.name,
            event_id=row.event_id,
            at=row.occurred_at,
        )
        return Accepted(Outcome.UPDATED, existing.id, alerted=True)
    ticket = service.open_ticket(
        session,
        kind=TicketKind.CASE,
        queue_id=rule.queue,
        priority=alert.priority,
        title=_title(row),
        at=row.occurred_at,
        customer_id=customer.id,
        rule=rule.name,
        event_id=row.event_id,
        tags=alert.tags,
    )
    return Accepted(Outcome.CREATED, ticket.id, alerted=True)


def _title(event: FeedbackEvent) -> str:
    """A one-line summary: the start of the comment, else what kind of signal it was."""
    if event.comment:
        first_line = event.comment.strip().splitlines()[0] if event.comment.strip() else ""
        if first_line:
            return first_line[:120]
    scores = [
        f"{name.upper()} {value}"
        for name in ("nps", "csat", "ces")
        if (value := getattr(event, name)) is not None
    ]
    return f"{event.kind} " + ", ".join(scores) if scores else event.kind
