"""Claiming a due follow-up survey for sending, in a short write transaction of its own: the
command then runs with no transaction open, and its outcome is recorded in another.

A claim moves the follow-up to `sending`, counts the attempt and leases it until the
command's timeout (and a margin) has passed, so a second sweep passes it by; one whose lease
ran out (its sweep stopped before telling the outcome) is due again. Claims are serialised
(SQLite's write lock; an advisory lock on PostgreSQL), so two sweeps never both find a
customer with no survey in flight and each send one.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cxdesk.config import Settings
from cxdesk.config.followups import reply_url
from cxdesk.db import serialise
from cxdesk.i18n import say
from cxdesk.models import Customer, FollowUp, FollowUpStatus, Stage, Ticket, TicketKind
from cxdesk.models.tickets import DELIVERY_PENDING
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.loop.followups import survey_channel, survey_text

LEASE_MARGIN = timedelta(minutes=1)  # beyond the command's timeout, for the record to land
INTERRUPTED = say("interrupted: the sweep sending it stopped before it could record the outcome")
_CLAIMS = "followup-claims"


@dataclass(frozen=True)
class Earlier:
    """Another follow-up of the same customer: sent when, or being sent now."""

    followup_id: int
    ticket_id: int
    status: str
    sent_at: datetime | None


@dataclass(frozen=True)
class Verdict:
    """Send it; wait (another survey to the customer is in flight); or suppress it, `by` the
    survey the customer had within the window."""

    action: Literal["send", "wait", "suppress"]
    by: Earlier | None = None


def judge(now: datetime, window: timedelta, others: Sequence[Earlier]) -> Verdict:
    """Whether a customer's due survey may go, given their other follow-ups: not when one was
    sent within `window` before `now` (the latest such names why), nor while another is
    being sent (it waits: that one may yet fail). A zero window suppresses nothing."""
    if window <= timedelta(0):
        return Verdict("send")
    recent = [o for o in others if o.sent_at is not None and o.sent_at > now - window]
    if recent:
        return Verdict("suppress", max(recent, key=lambda o: (o.sent_at, o.followup_id)))
    if any(o.status == FollowUpStatus.SENDING for o in others):
        return Verdict("wait")
    return Verdict("send")


Outcome = Literal["claimed", "suppress", "passed", "interrupted"]


@dataclass(frozen=True)
class Step:
    """What the claim made of the first due follow-up: `claimed` for sending (`survey` is
    the command's input), to `suppress` (`by` the earlier survey), `passed` for now (its
    customer has a survey in flight, or its ticket left verify and it is no longer due), or
    `interrupted` (its last attempt's sweep stopped before telling the outcome)."""

    followup_id: int
    ticket_id: int
    outcome: Outcome
    attempt: int = 0
    by: Earlier | None = None
    survey: dict[str, Any] = field(default_factory=dict)


def due_followups(now: datetime) -> SelectOfScalar[int] | SelectOfScalar[None]:
    """The finder of follow-ups due for a delivery attempt by `now`, first due first: a range
    of the partial index holding only pending deliveries (its condition repeated term for
    term, so that SQLite uses it)."""
    return (
        select(FollowUp.id)
        .where(*DELIVERY_PENDING, col(FollowUp.next_attempt_at) <= now)
        .order_by(col(FollowUp.next_attempt_at), col(FollowUp.id))
    )


def claim_next(
    session: Session, settings: Settings, at: datetime, passed: Collection[int]
) -> Step | None:
    """Claim (or settle) the first follow-up due by `at` that this pass has not passed by;
    None when there is none. Runs in the caller's write transaction."""
    serialise(session.connection(), _CLAIMS)
    found = session.exec(due_followups(at).where(col(FollowUp.id).not_in(passed)).limit(1)).first()
    if found is None:
        return None
    followup = _locked(session, found, at)
    if followup is None:  # answered or expired between the finder and the lock
        return Step(found, 0, "passed")
    ticket = session.get_one(Ticket, followup.ticket_id)
    delivery = settings.followup_delivery
    step = Step(found, followup.ticket_id, "passed", attempt=followup.attempts)
    in_verify = ticket.stage == Stage.VERIFY and ticket.kind == TicketKind.CASE
    if followup.status == FollowUpStatus.SENDING:  # its lease ran out
        if in_verify and followup.attempts >= delivery.max_attempts:
            return Step(found, step.ticket_id, "interrupted", attempt=followup.attempts)
        followup.status = FollowUpStatus.SCHEDULED
        followup.reason = str(INTERRUPTED)
    if not in_verify:
        followup.next_attempt_at = None  # no survey for a ticket that moved on
        return step
    customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
    if customer is not None:
        window = timedelta(days=delivery.suppress_days)
        verdict = judge(at, window, _others(session, followup, at - window))
        if verdict.action == "suppress":
            return Step(found, step.ticket_id, "suppress", by=verdict.by)
        if verdict.action == "wait":
            return step
    followup.channel = survey_channel(session, followup)
    followup.status = FollowUpStatus.SENDING
    followup.attempts += 1
    followup.next_attempt_at = at + delivery.timeout + LEASE_MARGIN
    survey = _survey(settings, followup, ticket, customer)
    return Step(found, step.ticket_id, "claimed", attempt=followup.attempts, survey=survey)


def _locked(session: Session, followup_id: int, at: datetime) -> FollowUp | None:
    """The follow-up, its ticket's row locked first (the order every ticket command takes
    them in), if it is still due."""
    ticket_id = select(FollowUp.ticket_id).where(FollowUp.id == followup_id).scalar_subquery()
    session.exec(select(Ticket.id).where(Ticket.id == ticket_id).with_for_update()).first()
    return session.exec(
        select(FollowUp)
        .where(FollowUp.id == followup_id, *DELIVERY_PENDING, col(FollowUp.next_attempt_at) <= at)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _others(session: Session, followup: FollowUp, since: datetime) -> list[Earlier]:
    """The customer's other follow-ups sent after `since` or being sent now."""
    rows = session.exec(
        select(FollowUp.id, FollowUp.ticket_id, FollowUp.status, FollowUp.sent_at)
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .where(
            Ticket.customer_id
            == select(Ticket.customer_id).where(Ticket.id == followup.ticket_id).scalar_subquery(),
            FollowUp.id != followup.id,
            (col(FollowUp.sent_at) > since) | (FollowUp.status == FollowUpStatus.SENDING),
        )
    )
    return [Earlier(i or 0, t, s, sent) for i, t, s, sent in rows]


def _survey(
    settings: Settings, followup: FollowUp, ticket: Ticket, customer: Customer | None
) -> dict[str, Any]:
    """The survey as the command reads it on standard input: the customer's contacts
    unmasked (the command is what sends), the text, and how an answer finds its way back."""
    assert ticket.id is not None
    language = customer.attributes.get("language") if customer is not None else None
    base = settings.followup_reply_base
    return {
        "followup_id": followup.id,
        "ticket": ticket_ref(ticket.id),
        "customer": None
        if customer is None
        else {
            "id": customer.id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
        },
        "channel": followup.channel,
        "language": language if isinstance(language, str) else None,
        "template": followup.template,
        "text": survey_text(customer.name if customer else None, ticket.id),
        "reply_token": followup.reply_token,
        "reply_url": reply_url(base, followup.reply_token) if base else None,
        "expires_at": followup.expires_at.isoformat(),
        "attempt": followup.attempts,
    }
