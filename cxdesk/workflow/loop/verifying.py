"""The follow-up survey decides: a good answer closes the case verified, a bad one reopens
it raised and escalated, no answer in the window closes it unverified."""

from __future__ import annotations

from typing import Any

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
from cxdesk.workflow.loop.ticket_rows import TICKET_STAGE
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
_OPEN_FOLLOWUPS_OF = DriverRead(
    select(FollowUp.id)
    .where(FollowUp.ticket_id == bindparam("ticket_id"), OPEN_FOLLOWUP)
    .order_by(col(FollowUp.id))
)
_FOLLOWUPS = table_of(FollowUp)


def record_followup_answer(
    acting: Acting, command: RecordFollowupAnswer, session: Session | None
) -> Ticket:
    """In verify, a good answer closes the ticket verified and a bad one reopens it, raised
    and escalated; in any other stage the answer is put on the timeline and nothing moves."""
    event_id, ticket_id, at = command.event_id, command.ticket_id, command.at
    nps, csat = command.nps, command.csat
    good = acting.settings.verify.verified_by(nps, csat)
    score = f"NPS {nps}" if nps is not None else f"CSAT {csat}"
    with own_unit(acting, session) as unit:
        found = TICKET_STAGE.first(unit.connection(), id=ticket_id)
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
            answered = {
                "status": FollowUpStatus.ANSWERED.value,
                "next_attempt_at": None,
                "answered_at": work.at,
                "answer_event_id": event_id,
            }
            _settle_followups(unit, ticket_id, answered, first=True)
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


def _settle_followups(
    session: Session, ticket_id: int, values: dict[str, Any], *, first: bool = False
) -> None:
    """Set `values` on the ticket's open follow-ups (on the first alone, with `first`), as
    rows: loaded and flushed through the ORM, they cost more than the rest of the command.
    Copies the session holds are expired, to be read again as written."""
    connection = session.connection()
    ids = [i for (i,) in _OPEN_FOLLOWUPS_OF.rows(connection, ticket_id=ticket_id)]
    if first:
        ids = ids[:1]
    update_rows(connection, _FOLLOWUPS, [{"id": i, **values} for i in ids])
    for i in ids:
        held = session.identity_map.get(session.identity_key(FollowUp, i))
        if held is not None:
            session.expire(held)


def expire_followup(acting: Acting, command: ExpireFollowup, session: Session | None) -> Ticket:
    """No answer within the verify window: closed, counted as unverified."""
    with work_on(acting, command, session) as work:
        # Its `reason` still says why, if it was never sent.
        expired = {"status": FollowUpStatus.EXPIRED.value, "next_attempt_at": None}
        _settle_followups(work.session, command.ticket_id, expired)
        work.ticket.verify_outcome = VerifyOutcome.UNVERIFIED
        work.ticket.closed_at = work.at
        work.timeline(
            TimelineKind.FOLLOWUP,
            say("no follow-up answer in the verify window: closed unverified"),
        )
    return work.ticket
