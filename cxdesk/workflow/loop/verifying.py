"""The follow-up survey decides: a good answer closes the case verified, a bad one reopens
it raised and escalated, no answer in the window closes it unverified."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from cxdesk.db import DriverRead, update_rows
from cxdesk.errors import NotFound
from cxdesk.i18n import say
from cxdesk.models import FollowUp, FollowUpStatus, Stage, Ticket, TimelineKind, VerifyOutcome
from cxdesk.models.base import table_of
from cxdesk.models.tickets import MAX_ESCALATION
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.commands import ExpireFollowup, RecordFollowupAnswer
from cxdesk.workflow.loop.opening import raise_priority
from cxdesk.workflow.loop.unit import (
    Acting,
    own_unit,
    reopen_work,
    ticket_work,
    work_on,
)

# Unanswered and not expired. A survey that failed or was suppressed may still be answered
# (an answer names its ticket, however it came), and its ticket still expires unverified.
OPEN_FOLLOWUPS = (
    FollowUpStatus.SCHEDULED,
    FollowUpStatus.SENDING,
    FollowUpStatus.SENT,
    FollowUpStatus.FAILED,
    FollowUpStatus.SUPPRESSED,
)
# A follow-up in one of those: each status a value of its own, not an IN list, which a read on
# the driver cannot take (see `DriverRead`).
OPEN_FOLLOWUP = or_(*(col(FollowUp.status) == status.value for status in OPEN_FOLLOWUPS))
_STAGE = DriverRead(select(Ticket.stage).where(Ticket.id == bindparam("id")))
_OPEN_FOLLOWUP = DriverRead(
    select(FollowUp.id).where(FollowUp.ticket_id == bindparam("ticket_id"), OPEN_FOLLOWUP).limit(1)
)
_FOLLOWUPS = table_of(FollowUp)


def record_followup_answer(
    acting: Acting, command: RecordFollowupAnswer, session: Session | None
) -> Ticket:
    """In verify, a good answer closes the ticket verified and a bad one reopens it, raised
    and escalated; in any other stage the answer is put on the timeline and nothing moves."""
    verify = acting.settings.verify
    event_id, ticket_id, at = command.event_id, command.ticket_id, command.at
    nps, csat = command.nps, command.csat
    good = (nps is not None and nps >= verify.nps_success) or (
        csat is not None and csat >= verify.csat_success
    )
    score = f"NPS {nps}" if nps is not None else f"CSAT {csat}"
    with own_unit(acting, session) as unit:
        found = _STAGE.first(unit.connection(), id=ticket_id)
        if found is None:
            raise NotFound(say("no ticket {ref}", ref=ticket_ref(ticket_id)))
        (stage,) = found
        if stage != Stage.VERIFY:
            with ticket_work(acting, "note", ticket_id, None, at, unit) as work:
                work.timeline(
                    TimelineKind.FOLLOWUP,
                    say("follow-up answered {score} while {stage}", score=score, stage=stage),
                    event_id=event_id,
                )
            return work.ticket
        name = "verify" if good else "reopen"
        with ticket_work(acting, name, ticket_id, None, at, unit) as work:
            ticket = work.ticket
            _answered(unit, ticket_id, work.at, event_id)
            if good:
                ticket.verify_outcome = VerifyOutcome.VERIFIED
                ticket.closed_at = work.at
                work.timeline(
                    TimelineKind.FOLLOWUP,
                    say("follow-up answered {score}: verified", score=score),
                    event_id=event_id,
                )
            else:  # failed: reopened one priority step up and one escalation level up
                ticket.priority = raise_priority(ticket.priority)
                ticket.escalation_level = min(ticket.escalation_level + 1, MAX_ESCALATION)
                reopen_work(
                    acting,
                    work,
                    say(
                        "follow-up answered {score}: reopened; priority {priority}, "
                        "escalation level {level}",
                        score=score,
                        priority=ticket.priority,
                        level=ticket.escalation_level,
                    ),
                    kind=TimelineKind.FOLLOWUP,
                    event_id=event_id,
                )
        return work.ticket


def _answered(session: Session, ticket_id: int, at: datetime, event_id: str) -> None:
    """Mark the ticket's open follow-up answered by the event, as a row: loaded and flushed
    through the ORM, it cost more than the rest of the answer's command. A copy the session
    holds is expired, to be read again as written."""
    connection = session.connection()
    found = _OPEN_FOLLOWUP.first(connection, ticket_id=ticket_id)
    if found is None:
        return
    (followup_id,) = found
    answered = FollowUpStatus.ANSWERED.value
    row = dict(id=followup_id, status=answered, next_attempt_at=None, answered_at=at)
    update_rows(connection, _FOLLOWUPS, [{**row, "answer_event_id": event_id}])
    held = session.identity_map.get(session.identity_key(FollowUp, followup_id))
    if held is not None:
        session.expire(held)


def expire_followup(acting: Acting, command: ExpireFollowup, session: Session | None) -> Ticket:
    """No answer within the verify window: closed, counted as unverified."""
    with work_on(acting, command, session) as work:
        for followup in work.session.exec(
            select(FollowUp).where(FollowUp.ticket_id == command.ticket_id, OPEN_FOLLOWUP)
        ):
            followup.status = FollowUpStatus.EXPIRED  # its `reason` still says why, if unsent
            followup.next_attempt_at = None
        work.ticket.verify_outcome = VerifyOutcome.UNVERIFIED
        work.ticket.closed_at = work.at
        work.timeline(
            TimelineKind.FOLLOWUP,
            say("no follow-up answer in the verify window: closed unverified"),
        )
    return work.ticket
