"""The sweep: one pass of timers, escalations, follow-up timeouts and metric alerts.

Every action re-checks its condition under the ticket's lock and records that it was done,
so a sweep run twice, or two sweeps at once, act once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, text
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import FollowUp, FollowUpStatus, Stage, Ticket
from cxdesk.workflow.metric_alerts import evaluate_metric_alerts
from cxdesk.workflow.service import SYSTEM_ACTOR, TicketService

_PG_METRIC_LOCK = 0x63786D61


def _each(ticket_ids: Sequence[int | None], action: Callable[[int], bool]) -> int:
    """Apply `action` to each ticket; one that moved on since the query is skipped."""
    done = 0
    for ticket_id in ticket_ids:
        if ticket_id is None:
            continue
        try:
            done += bool(action(ticket_id))
        except WorkflowError:
            continue  # closed, answered or reopened meanwhile: nothing left to do
    return done


@dataclass
class SweepReport:
    at_risk: int = 0
    breaches: int = 0
    followups_expired: int = 0
    metric_alerts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "at_risk": self.at_risk,
            "breaches": self.breaches,
            "followups_expired": self.followups_expired,
            "metric_alerts": self.metric_alerts,
        }


def sweep(db: Database, settings: Settings, now: datetime) -> SweepReport:
    service = TicketService(db, settings, SYSTEM_ACTOR)
    report = SweepReport()
    with db.session() as session:
        risky = session.exec(
            select(Ticket.id).where(
                col(Ticket.sla_risk_at) <= now,
                col(Ticket.sla_due) > now,
                or_(
                    col(Ticket.risk_notified_for).is_(None),
                    col(Ticket.risk_notified_for) != col(Ticket.sla_due),
                ),
            )
        ).all()
        breached = session.exec(
            select(Ticket.id).where(
                col(Ticket.sla_due) < now,
                or_(
                    and_(
                        col(Ticket.first_response_at).is_(None),
                        col(Ticket.first_response_breached_at).is_(None),
                    ),
                    and_(
                        col(Ticket.first_response_at).is_not(None),
                        col(Ticket.resolution_breached_at).is_(None),
                    ),
                ),
            )
        ).all()
        expiring = session.exec(
            select(FollowUp.ticket_id)
            .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
            .where(
                col(FollowUp.status).in_([FollowUpStatus.SCHEDULED, FollowUpStatus.SENT]),
                col(FollowUp.expires_at) < now,
                Ticket.stage == Stage.VERIFY,
            )
        ).all()
    report.at_risk = _each(risky, lambda i: service.mark_at_risk(i, now))
    report.breaches = _each(breached, lambda i: service.escalate_breach(i, now))
    report.followups_expired = _each(
        sorted(set(expiring)), lambda i: service.expire_followup(i, at=now) is not None
    )
    with db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_METRIC_LOCK})
        report.metric_alerts = [a.key for a in evaluate_metric_alerts(session, service, now)]
    return report
