"""The sweep: one pass of timers, escalations, follow-up timeouts, problems' verifications,
follow-up surveys' delivery and metric alerts.

Every action re-checks its condition under the ticket's lock and records that it was done,
so a sweep run twice, or two sweeps at once, act once.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, event, text
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlmodel import col, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from cxdesk.config import Settings
from cxdesk.db import Database, DriverRead
from cxdesk.errors import UnusableTicket
from cxdesk.models import FollowUp, ProblemScope, Stage, Ticket
from cxdesk.models.problems import VERIFY_PENDING
from cxdesk.models.tickets import (
    FIRST_RESPONSE_BREACH_PENDING,
    RESOLUTION_BREACH_PENDING,
    RISK_PENDING,
)
from cxdesk.workflow.access.org import get_meta, set_meta
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.insight.metric_alerts import detect_metric_alerts, fire_metric_alerts
from cxdesk.workflow.insight.problem_checks import verification_commands
from cxdesk.workflow.loop.commands import EscalateBreach, ExpireFollowup, MarkAtRisk, VerifyProblem
from cxdesk.workflow.loop.followup_claims import due_followups
from cxdesk.workflow.loop.followup_delivery import DeliveryReport, deliver_followups
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.loop.verifying import OPEN_FOLLOWUP

_PG_METRIC_LOCK = 0x63786D61
METRIC_ALERTS_AT = "metric_alerts_at"  # meta: when the sweep last looked at the metrics
BATCH_TICKETS = 200  # tickets handled per write transaction
logger = logging.getLogger(__name__)


def _act(
    service: TicketService, jobs: list[tuple[str, int]], now: datetime, skipped: dict[int, str]
) -> Counter[str]:
    """Do each job (kind of work, ticket) that is still to do, BATCH_TICKETS to a write
    transaction: a commit per ticket costs more than the work itself, and a pass after long
    downtime still lets other writers in between batches. A ticket that moved on since the
    query is skipped without spoiling its batch, and so is one whose stored values no command
    can work with (noted in `skipped`, by id, with why): one odd row never stops the work on
    every other ticket. Returns how many of each kind were done."""
    commands: dict[str, type[MarkAtRisk | EscalateBreach | ExpireFollowup]] = {
        "at_risk": MarkAtRisk,
        "breaches": EscalateBreach,
        "followups_expired": ExpireFollowup,
    }
    done: Counter[str] = Counter()
    for start in range(0, len(jobs), BATCH_TICKETS):
        chunk = jobs[start : start + BATCH_TICKETS]
        with service.batch([ticket_id for _, ticket_id in chunk]) as batch:
            for kind, ticket_id in chunk:
                try:
                    # closed, answered or reopened meanwhile: nothing left to do (None)
                    command = commands[kind](ticket_id, at=now)
                    done[kind] += bool(batch.attempt(partial(service.handle, command)))
                except UnusableTicket as exc:
                    skipped[ticket_id] = str(exc)
    return done


def _verify_problems(service: TicketService, commands: list[VerifyProblem]) -> int:
    """Conclude the due verifications, in one write transaction; one the problem moved on
    from meanwhile (reopened or closed by hand) is left. Returns how many concluded."""
    if not commands:
        return 0
    done = 0
    with service.batch([command.ticket_id for command in commands]) as batch:
        for command in commands:
            done += batch.attempt(partial(service.handle, command)) is not None
    return done


@dataclass
class SweepReport:
    at_risk: int = 0
    breaches: int = 0
    followups_expired: int = 0
    problems_verified: int = 0  # verifications concluded: verified, reopened or unverified
    followups: DeliveryReport = field(default_factory=DeliveryReport)  # surveys sent and not
    metric_alerts: list[str] = field(default_factory=list)
    # Tickets no command could work with (odd stored values), by id, with why.
    skipped: dict[int, str] = field(default_factory=dict)
    # Where the pass spent its time (find, act, metric_alerts), for benchmarks and logs.
    seconds: dict[str, float] = field(default_factory=dict)
    looked_at_metrics: bool = False  # they are looked at every `metric_alerts.every`

    def as_dict(self) -> dict[str, object]:
        return {
            "at_risk": self.at_risk,
            "breaches": self.breaches,
            "followups_expired": self.followups_expired,
            "problems_verified": self.problems_verified,
            "followups_sent": self.followups.sent,
            "followups_retrying": self.followups.retrying,
            "followups_failed": self.followups.failed,
            "followups_suppressed": self.followups.suppressed,
            "metric_alerts": self.metric_alerts,
            "skipped": len(self.skipped),
            "skipped_tickets": [ticket_ref(i) for i in sorted(self.skipped)],
        }


def finders(
    now: datetime | BindParameter[Any],
) -> dict[str, Select[*tuple[Any, ...]] | SelectOfScalar[Any]]:
    """The queries that find a pass's work at `now` (an instant, or a value bound when run):
    tickets to mark at risk, breaches to escalate, follow-ups to expire, problems whose
    verify window is over. Each is a range scan of an index holding only what is still to do
    (the `*_PENDING` conditions are the partial indexes' own, repeated term for term so that
    SQLite may use them), so it reads the work, not the open tickets. Each clock has its own
    breach finder: a case may breach its resolution clock without ever being answered.
    Clocks at risk come with their due time: one already past it is a breach, not at risk,
    and is left out in Python, since a bound on `sla_due` here would lead PostgreSQL's
    planner to the breach index, whose `sla_due > now` side holds every running clock."""
    return {
        "at_risk": select(Ticket.id, Ticket.sla_due).where(
            col(Ticket.sla_risk_at) <= now, *RISK_PENDING
        ),
        "first_response_breaches": select(Ticket.id).where(
            col(Ticket.first_response_due) < now, *FIRST_RESPONSE_BREACH_PENDING
        ),
        "resolution_breaches": select(Ticket.id).where(
            col(Ticket.resolution_due) < now, *RESOLUTION_BREACH_PENDING
        ),
        "problems_due": select(ProblemScope.problem_id).where(
            col(ProblemScope.verify_until) <= now, *VERIFY_PENDING
        ),
        "followups_expired": select(FollowUp.ticket_id)
        .join(Ticket, col(Ticket.id) == FollowUp.ticket_id)
        .where(
            OPEN_FOLLOWUP,
            col(FollowUp.expires_at) < now,
            Ticket.stage == Stage.VERIFY,
        ),
    }


# The finders compiled once, read on the driver: a pass that finds little is mostly their cost.
_FINDERS = {name: DriverRead(query) for name, query in finders(bindparam("now")).items()}


def sweep(db: Database, settings: Settings, now: datetime) -> SweepReport:
    """One pass at `now`: it costs the work it finds, not the number of open tickets."""
    service = TicketService(db, settings, SYSTEM_ACTOR)
    report = SweepReport()
    started = time.perf_counter()
    with db.session() as session:
        connection = session.connection()
        work = {name: read.rows(connection, now=now) for name, read in _FINDERS.items()}
        due_problems = [problem_id for (problem_id,) in work["problems_due"]]
        verifications = verification_commands(session, due_problems, now)
    report.seconds["find"] = time.perf_counter() - started
    at_risk = sorted(i for i, due in work["at_risk"] if due is not None and due > now)
    jobs = [("at_risk", i) for i in at_risk]
    breached = {i for (i,) in (*work["first_response_breaches"], *work["resolution_breaches"])}
    jobs += [("breaches", i) for i in sorted(breached)]
    jobs += [("followups_expired", i) for i in sorted({i for (i,) in work["followups_expired"]})]
    done = _act(service, jobs, now, report.skipped)
    report.at_risk = done["at_risk"]
    report.breaches = done["breaches"]
    report.followups_expired = done["followups_expired"]
    report.problems_verified = _verify_problems(service, verifications)
    report.seconds["act"] = time.perf_counter() - started - report.seconds["find"]
    started = time.perf_counter()
    report.followups = deliver_followups(service, now)
    report.seconds["deliver"] = time.perf_counter() - started
    started = time.perf_counter()
    fired = _metric_alerts(db, service, now)
    report.metric_alerts, report.looked_at_metrics = fired or [], fired is not None
    report.seconds["metric_alerts"] = time.perf_counter() - started
    for reason in report.skipped.values():
        logger.warning("skipped %s", reason)
    logger.info(
        "sweep at %s: %d at risk, %d breaches escalated, %d follow-ups expired, "
        "%d problems verified, surveys sent %d (retrying %d, failed %d, suppressed %d), "
        "metric alerts %s, %d skipped (%.2f s)",
        now.isoformat(),
        report.at_risk,
        report.breaches,
        report.followups_expired,
        report.problems_verified,
        report.followups.sent,
        report.followups.retrying,
        report.followups.failed,
        report.followups.suppressed,
        report.metric_alerts if report.looked_at_metrics else "not due",
        len(report.skipped),
        sum(report.seconds.values()),
    )
    return report


def _metric_alerts(db: Database, service: TicketService, now: datetime) -> list[str] | None:
    """Look at the metric windows if the last look is `every` old; open what fired
    (None: not looked at this time).

    The aggregation reads without the write lock (on a big database it takes a while);
    firing re-checks under the lock that no problem ticket is open for the alert.
    """
    every = service.settings.metric_alerts.every
    with db.session() as session:
        last = get_meta(session, METRIC_ALERTS_AT)
        # Looked at less than `every` ago (a rehearsal at an earlier --now looks again).
        if last is not None and (looked := datetime.fromisoformat(last)) <= now < looked + every:
            return None
        alerts = detect_metric_alerts(session, service.settings, now)
    with db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_METRIC_LOCK})
        set_meta(session, METRIC_ALERTS_AT, now.isoformat())
        return [alert.key for alert in fire_metric_alerts(session, service, alerts, now)]


def explain_finders(db: Database, now: datetime, *, no_seqscan: bool = False) -> dict[str, str]:
    """The query plan of each finder at `now` (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL), for benchmarks and tests; `no_seqscan` makes PostgreSQL show whether an
    index can serve the query even where a table is too small for the planner to choose it."""
    sent: list[tuple[str, Any]] = []

    def capture(
        _conn: Connection,
        _cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        sent.append((statement, parameters))

    plans = {}
    sqlite = db.is_sqlite
    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.session() as session:
            for name, query in {**finders(now), "followups_due": due_followups(now)}.items():
                session.exec(query).all()
                statement, parameters = sent[-1]
                cursor = session.connection().connection.cursor()
                if no_seqscan and not sqlite:
                    cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(
                    ("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, parameters
                )
                plans[name] = "\n".join(
                    str(row[-1] if sqlite else row[0]) for row in cursor.fetchall()
                )
                cursor.close()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return plans
