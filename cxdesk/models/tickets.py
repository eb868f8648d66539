"""Tickets and everything recorded against them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlmodel import JSON, Column, Field, Index, String, Text, col

from cxdesk.models.base import TableModel, UTCDateTime, empty_dict, empty_list, partial_index
from cxdesk.models.enums import Stage


class Ticket(TableModel, table=True):
    """A case (one customer) or a problem (systemic); shown as CX-000123.

    `version` is bumped by every change and checked by every command, so two
    people acting on the same ticket never silently overwrite each other.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_stage_queue", "stage", "queue_id"),
        Index("ix_tickets_assignee_stage_due", "assignee", "stage", "sla_due"),
        Index("ix_tickets_escalation_stage", "escalation_level", "stage"),
        Index("ix_tickets_customer_stage", "customer_id", "stage"),
        Index("ix_tickets_opened_at", "opened_at"),
        Index("ix_tickets_sla_due", "sla_due"),
        Index("ix_tickets_sla_risk_at", "sla_risk_at"),
        # The filter's terms by ticket: a walk of the word index checks them in this narrow
        # index instead of reading each ticket's row (see `reads.word_ways`).
        Index("ix_tickets_terms", "id", "priority", "queue_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="case", sa_type=String(16))
    stage: str = Field(default="new", sa_type=String(16))
    priority: str = Field(default="P3", sa_type=String(2))
    queue_id: str = Field(foreign_key="queues.id", max_length=64)
    assignee: str | None = Field(default=None, foreign_key="agents.login", max_length=64)
    customer_id: str | None = Field(default=None, foreign_key="customers.id", max_length=128)
    rule: str | None = Field(default=None, max_length=128)
    title: str = Field(default="", max_length=500)
    tags: list[str] = Field(default_factory=empty_list, sa_type=JSON)

    opened_at: datetime = Field(sa_type=UTCDateTime)
    first_response_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reopened_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_response_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The running clock (first response until answered, then resolution) denormalised
    # so that "at risk" and "breached" are index range queries; NULL while paused or done.
    sla_due: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sla_risk_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # What the sweep has already done, so that running it twice (or twice at once) acts once.
    risk_notified_for: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_response_breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolution_breached_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    paused_from: str | None = Field(default=None, sa_type=String(16))
    # Working time spent pending since the clocks last started (reports leave it out).
    paused_seconds: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    escalation_level: int = 0
    reopen_count: int = 0

    resolution_code: str | None = Field(default=None, max_length=64)
    root_cause: str | None = Field(default=None, sa_column=Column(Text))
    driver: str | None = Field(default=None, max_length=128)
    touchpoint: str | None = Field(default=None, max_length=128)
    action_taken: str | None = Field(default=None, sa_column=Column(Text))
    customer_remedy: str | None = Field(default=None, sa_column=Column(Text))
    verify_outcome: str | None = Field(default=None, sa_type=String(16))

    version: int = 1
    updated_at: datetime = Field(sa_type=UTCDateTime)


MAX_ESCALATION = 2  # the escalation ladder's top: the team supervisor, then the CX managers
# An escalated ticket, by the levels of the ladder rather than "above 0": with the open
# stages, an index on (escalation_level, stage) then seeks exactly the open escalated tickets
# (SQLite read every open ticket for "above 0": 120-250 ms on a million). Written into the
# statement, as the stages are (below).
ESCALATED = col(Ticket.escalation_level).in_(
    bindparam(
        "escalation_levels",
        list(range(1, MAX_ESCALATION + 1)),
        expanding=True,
        literal_execute=True,
    )
)

# An open ticket, by the stages it may be in rather than "not closed": an index on (assignee,
# stage, …) then seeks each of them instead of reading every ticket an agent ever closed. The
# stages are written into the statement, not bound: PostgreSQL's plan kept for a statement
# prepared many times then still knows that few tickets are open (with the stages bound, it
# drove a common word's count from the word index: 4 -> 77 ms on 50,000 tickets).
OPEN_TICKET = col(Ticket.stage).in_(
    bindparam(
        "open_stages",
        [stage.value for stage in Stage if stage is not Stage.CLOSED],
        expanding=True,
        literal_execute=True,
    )
)

# A ticket not closed: the condition of the partial index of the open tickets' work below,
# written into the statement. SQLite takes that index for any statement that says the stage
# is not 'closed', bound or written: the views name the open stages instead (`OPEN_TICKET`),
# and the lookups that must seek by something else (a customer's open case, the cases of a
# window) compare the stage unindexed.
NOT_CLOSED = col(Ticket.stage) != bindparam(
    "closed_stage", Stage.CLOSED.value, literal_execute=True
)
# The open tickets' work: the dashboard's counts by queue and SLA state and by agent and
# priority read this index alone, not a row for each open ticket (150-230 ms a count on a
# million tickets, a tenth of them open), and the open problems and cases are sought in it
# by kind.
partial_index(
    "ix_tickets_open_work",
    col(Ticket.kind),
    col(Ticket.queue_id),
    col(Ticket.assignee),
    col(Ticket.priority),
    col(Ticket.sla_due),
    col(Ticket.sla_risk_at),
    where=NOT_CLOSED,
)

# What the sweep has yet to do, as partial indexes: a pass reads only the tickets whose
# clock passed a mark it has not acted on, however many tickets are open. The sweep's
# queries repeat these conditions term for term (SQLite uses a partial index only then).
# A clock runs while `sla_due` is set (not pending, resolved or closed). Each clock
# breaches on its own: the resolution clock escalates whether or not the first response
# came, so a case nobody answered still reaches the top of the ladder.
RUNNING = col(Ticket.sla_due).is_not(None)
FIRST_RESPONSE_BREACH_PENDING = (
    RUNNING,
    col(Ticket.first_response_at).is_(None),
    col(Ticket.first_response_breached_at).is_(None),
)
RESOLUTION_BREACH_PENDING = (RUNNING, col(Ticket.resolution_breached_at).is_(None))
# The running clock (the one `sla_due` mirrors) not yet escalated: an at-risk note for a
# clock that has already breached would come too late to help.
RUNNING_CLOCK_UNMARKED = or_(
    and_(
        col(Ticket.first_response_at).is_(None),
        col(Ticket.first_response_breached_at).is_(None),
    ),
    and_(
        col(Ticket.first_response_at).is_not(None),
        col(Ticket.resolution_breached_at).is_(None),
    ),
)
RISK_UNMARKED = or_(
    col(Ticket.risk_notified_for).is_(None),
    col(Ticket.risk_notified_for) != col(Ticket.sla_due),
)
RISK_PENDING = (col(Ticket.sla_risk_at).is_not(None), RISK_UNMARKED, RUNNING_CLOCK_UNMARKED)
partial_index(
    "ix_tickets_first_response_breach_pending",
    col(Ticket.first_response_due),
    where=and_(*FIRST_RESPONSE_BREACH_PENDING),
)
partial_index(
    "ix_tickets_resolution_breach_pending",
    col(Ticket.resolution_due),
    where=and_(*RESOLUTION_BREACH_PENDING),
)
partial_index(
    "ix_tickets_risk_pending",
    col(Ticket.sla_risk_at),
    where=and_(*RISK_PENDING),
)


class TimelineEntry(TableModel, table=True):
    """Every alert, note, response, transition, assignment and escalation of a ticket."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_ticket_at", "ticket_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id")
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=64)
    kind: str = Field(sa_type=String(16))
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    event_id: str | None = Field(default=None, foreign_key="feedback_events.event_id")
    data: dict[str, Any] = Field(default_factory=empty_dict, sa_type=JSON)


class TicketLink(TableModel, table=True):
    """A case attached to the problem ticket that explains it."""

    __tablename__ = "ticket_links"

    case_id: int = Field(foreign_key="tickets.id", primary_key=True)
    problem_id: int = Field(foreign_key="tickets.id", primary_key=True, index=True)
    linked_at: datetime = Field(sa_type=UTCDateTime)
    linked_by: str = Field(max_length=64)


def new_reply_token() -> str:
    """A follow-up's reply token: 192 random bits, URL-safe, so that only the survey's
    recipient can answer it (over HTTP) and nobody can guess another's."""
    return secrets.token_urlsafe(24)


class FollowUp(TableModel, table=True):
    """The survey sent after a resolution; its answer verifies or reopens the ticket.

    Delivery (when `followup_command` is configured): `next_attempt_at` is set exactly while
    the survey waits for an attempt (scheduled) or is being sent (sending, until its claim's
    lease runs out), so the sweep finds its work in a partial index of those rows alone.
    """

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_status_due", "status", "send_at"),
        Index("ix_followups_status_expires", "status", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="tickets.id", index=True)
    status: str = Field(default="scheduled", sa_type=String(16))
    channel: str | None = Field(default=None, max_length=64)
    template: str = Field(default="default", max_length=64)
    send_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    answer_event_id: str | None = Field(default=None, foreign_key="feedback_events.event_id")
    reply_token: str = Field(
        default_factory=new_reply_token, sa_type=String(64), unique=True, index=True
    )
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Why it is where it is: the last failed attempt's error, or what suppressed it.
    reason: str | None = Field(default=None, sa_column=Column(Text))


# Follow-ups waiting for a delivery attempt, or sent under a claim whose lease may run out.
DELIVERY_PENDING = (col(FollowUp.next_attempt_at).is_not(None),)
partial_index(
    "ix_followups_delivery_pending",
    col(FollowUp.next_attempt_at),
    where=and_(*DELIVERY_PENDING),
)
