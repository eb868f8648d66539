"""The case's way through the loop: waiting (pend, resume), analysing, resolving (which
schedules the follow-up survey) and reopening."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection
from sqlmodel import Session

from cxdesk.db import insert_rows
from cxdesk.errors import WorkflowError
from cxdesk.i18n import say
from cxdesk.models import FollowUp, FollowUpStatus, Stage, Ticket, TicketKind, TimelineKind
from cxdesk.models.base import table_of
from cxdesk.models.tickets import new_reply_token
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.desk_commands import (
    RESOLUTION_CODES,
    Analyze,
    Pend,
    Reopen,
    Resolve,
    Resume,
)
from cxdesk.workflow.loop.escalation import escalate_due_breaches
from cxdesk.workflow.loop.problem_verify import start_verification, stop_verification
from cxdesk.workflow.loop.stages import resume_stage
from cxdesk.workflow.loop.unit import Acting, optional_text, reopen_work, required_text, work_on

_FOLLOWUPS = table_of(FollowUp)


def pend(acting: Acting, command: Pend, session: Session | None) -> Ticket:
    """Wait on the customer or a third party; the SLA clock stops (a clock already overdue
    is escalated first, as the sweep would have)."""
    with work_on(acting, command, session) as work:
        escalate_due_breaches(acting, work, work.at)
        work.ticket.paused_at = work.at
        work.ticket.paused_from = work.ticket.stage
        reason = required_text(command.reason, "reason")
        # Marked as the pause's reason, for the SLA explanation to put beside the pause.
        work.timeline(
            TimelineKind.NOTE,
            say("pending: {reason}", reason=reason),
            clock="paused",
            reason=reason,
        )
    return work.ticket


def resume(acting: Acting, command: Resume, session: Session | None) -> Ticket:
    with work_on(acting, command, session) as work:
        ticket = work.ticket
        ref = ticket_ref(command.ticket_id)
        work.target = resume_stage(ticket.paused_from or Stage.COLLECT, ref)
        paused_at = ticket.paused_at or work.at
        ticket.stage = work.target  # the clocks below read the stage
        ticket.paused_at = ticket.paused_from = None
        acting.planner.resume_clocks(ticket, work.queue, paused_at, work.at)
    return work.ticket


def analyze(acting: Acting, command: Analyze, session: Session | None) -> Ticket:
    """Code the root cause; the ticket moves on to fix."""
    with work_on(acting, command, session) as work:
        work.ticket.root_cause = required_text(command.root_cause, "root cause")
        work.ticket.driver = required_text(command.driver, "driver")
        if command.touchpoint:
            work.ticket.touchpoint = optional_text(command.touchpoint, "touchpoint")
        work.timeline(
            TimelineKind.NOTE,
            say(
                "root cause ({driver}): {root_cause}",
                driver=work.ticket.driver,
                root_cause=work.ticket.root_cause,
            ),
        )
    return work.ticket


def resolve(acting: Acting, command: Resolve, session: Session | None) -> Ticket:
    """Record the resolution, stop the resolution clock, schedule the follow-up survey."""
    with work_on(acting, command, session) as work:
        ticket = work.ticket
        code = required_text(command.code, "resolution code")
        if code not in RESOLUTION_CODES:
            raise WorkflowError(
                say(
                    "resolution code {code} is not one of {codes}",
                    code=repr(code),
                    codes=", ".join(RESOLUTION_CODES),
                )
            )
        ticket.resolution_code = code
        ticket.root_cause = required_text(command.root_cause, "root cause")
        ticket.action_taken = required_text(command.action, "action taken")
        ticket.customer_remedy = optional_text(command.remedy, "customer remedy") or None
        ticket.resolved_at = work.at
        work.timeline(
            TimelineKind.NOTE,
            say(
                "resolved ({code}): {action}",
                code=ticket.resolution_code,
                action=ticket.action_taken,
            ),
        )
        if ticket.kind == TicketKind.CASE:
            schedule_followup(work.session.connection(), command.ticket_id, work.at, acting)
        else:  # a problem is verified by its metric, and its cases hear of the fix
            start_verification(acting, work)
    return work.ticket


def schedule_followup(connection: Connection, ticket_id: int, at: datetime, acting: Acting) -> None:
    """The case's follow-up survey, due now (sent by the sweep if `followup_command` is set),
    written as a row: nothing reads it back in the command, and building and flushing it
    through the ORM cost a quarter of a resolve."""
    row = {
        "ticket_id": ticket_id,
        "status": FollowUpStatus.SCHEDULED.value,
        "channel": None,
        "template": "default",
        "send_at": at,
        "sent_at": None,
        "expires_at": at + acting.settings.verify.window,
        "answered_at": None,
        "answer_event_id": None,
        "reply_token": new_reply_token(),
        "attempts": 0,
        "next_attempt_at": at,
        "reason": None,
    }
    insert_rows(connection, _FOLLOWUPS, [row])


def reopen(acting: Acting, command: Reopen, session: Session | None) -> Ticket:
    with work_on(acting, command, session) as work:
        if work.ticket.kind == TicketKind.PROBLEM:
            stop_verification(work.session, work.ticket.id)
        reopen_work(
            acting,
            work,
            say("reopened: {reason}", reason=required_text(command.reason, "reason")),
            kind=TimelineKind.NOTE,
        )
    return work.ticket
