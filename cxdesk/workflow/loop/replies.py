"""What is written on a ticket: replies to the customer and internal notes."""

from __future__ import annotations

from sqlmodel import Session

from cxdesk.models import Ticket, TimelineKind
from cxdesk.workflow.loop.desk_commands import Note, Respond
from cxdesk.workflow.loop.unit import Acting, required_text, work_on


def respond(acting: Acting, command: Respond, session: Session | None) -> Ticket:
    """Reply to the customer; the first reply stops the first-response clock."""
    with work_on(acting, command, session) as work:
        text = required_text(command.body, "response")
        first = work.ticket.first_response_at is None
        if first:
            work.ticket.first_response_at = work.at
        work.timeline(TimelineKind.RESPONSE, text, first_response=first)
    return work.ticket


def note(acting: Acting, command: Note, session: Session | None) -> Ticket:
    with work_on(acting, command, session) as work:
        work.timeline(TimelineKind.NOTE, required_text(command.body, "note"))
    return work.ticket
