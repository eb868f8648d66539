"""Loop metrics and reports: SLA attainment, closed-loop and recovery rates, NPS/CSAT/CES,
driver Pareto, times in business hours, backlog. Pure functions over rows read here.

Definitions (the README repeats them):
- SLA attainment: of the tickets whose clock has ended (answered/resolved) or is already past
  due, the share that met it; time to first response and to resolution count working hours on
  the queue's calendar, pending time left out.
- Closed-loop rate: alert tickets (cases raised by a rule) resolved within SLA and verified by
  their follow-up, over all alert tickets opened in the period.
- Recovery rate: detractor cases (raised by an NPS ≤ 6 answer) whose follow-up NPS was ≥ 7,
  over detractor cases whose follow-up was answered with an NPS.
- NPS: % promoters (9–10) − % detractors (0–6); CSAT: % of answers 4–5; CES: mean; over
  survey, complaint and review events (follow-up answers are about the service, not counted).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.errors import NotFound
from cxdesk.models import FeedbackEvent, Queue, Stage, Ticket, TicketKind
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.clocks.sla import KNOWN_PRIORITIES, SlaPlanner
from cxdesk.workflow.insight.problem_checks import problem_figures

AGE_BUCKETS = (
    (timedelta(days=1), "< 1d"),
    (timedelta(days=3), "1–3d"),
    (timedelta(days=7), "3–7d"),
    (timedelta(days=14), "7–14d"),
)


@dataclass(frozen=True)
class Period:
    since: datetime | None = None
    until: datetime | None = None
    queues: tuple[str, ...] | None = None  # the report's queue/team choice and the viewer's scope

    def tickets(self) -> Any:
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(col(Ticket.opened_at) >= self.since)
        if self.until is not None:
            conditions.append(col(Ticket.opened_at) < self.until)
        if self.queues is not None:
            conditions.append(col(Ticket.queue_id).in_(self.queues))
        return and_(True, *conditions)

    def events(self) -> Any:
        """Feedback in the period; with a queue scope, only the feedback on its tickets (the
        voice of the customers those queues served), never the whole company's."""
        conditions: list[ColumnElement[bool]] = []
        if self.queues is not None:
            scoped = select(Ticket.id).where(col(Ticket.queue_id).in_(self.queues))
            conditions.append(col(FeedbackEvent.ticket_id).in_(scoped))
        if self.since is not None:
            conditions.append(col(FeedbackEvent.occurred_at) >= self.since)
        if self.until is not None:
            conditions.append(col(FeedbackEvent.occurred_at) < self.until)
        return and_(True, *conditions)


def report_queues(
    session: Session, scope: tuple[str, ...] | None, queue: str | None, team: str | None
) -> tuple[str, ...] | None:
    """The queues a report covers: the viewer's scope narrowed to a queue or a team."""
    chosen: set[str] | None = None if scope is None else set(scope)
    if queue is not None:
        if session.get(Queue, queue) is None:
            raise NotFound(f"no queue {queue!r}")
        chosen = {queue} if chosen is None else chosen & {queue}
    if team is not None:
        of_team = set(session.exec(select(Queue.id).where(Queue.team_id == team)))
        if not of_team:
            raise NotFound(f"no team {team!r} (or it has no queues)")
        chosen = of_team if chosen is None else chosen & of_team
    return None if chosen is None else tuple(sorted(chosen))


def rate(part: int, whole: int) -> float | None:
    """A percentage to one decimal; None when there is nothing to divide by."""
    return round(100 * part / whole, 1) if whole else None


def day_starts(now: datetime, timezone: str, days: int) -> list[datetime]:
    """Midnights (local) of the last `days` whole days and of today, oldest first."""
    today = now.astimezone(ZoneInfo(timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    return [today - timedelta(days=n) for n in range(days, -1, -1)]


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile: the smallest value with at least q of the values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q)
    return round(ordered[int(rank) - 1], 2)


def _hours(
    planner: SlaPlanner,
    queue: Queue | None,
    priority: str,
    start: datetime,
    end: datetime,
    paused_seconds: int,
) -> float | None:
    """Working hours from `start` to `end`; None where no calendar applies (a queue that is
    gone, a priority no policy has targets for): such a ticket counts, untimed."""
    if queue is None or priority not in KNOWN_PRIORITIES:
        return None
    worked = planner.calendar_for(queue, priority).measured(start, end).total_seconds()
    return max(worked - paused_seconds, 0) / 3600


# What the SLA report reads of a ticket: columns, not ORM objects, which cost it four times
# as much to build and read on a million tickets.
_SLA_COLUMNS = (
    Ticket.queue_id,
    Ticket.priority,
    Ticket.assignee,
    Ticket.opened_at,
    Ticket.reopened_at,
    Ticket.first_response_at,
    Ticket.first_response_due,
    Ticket.resolved_at,
    Ticket.resolution_due,
    Ticket.paused_seconds,
)


@dataclass
class _Attainment:
    """One group's SLA figures, added to ticket by ticket."""

    tickets: int = 0
    first_response_met: int = 0
    first_response_total: int = 0
    resolution_met: int = 0
    resolution_total: int = 0
    first_response_hours: list[float] = field(default_factory=list)
    resolution_hours: list[float] = field(default_factory=list)

    def row(self, by: str, key: str) -> dict[str, Any]:
        fr, res = self.first_response_hours, self.resolution_hours
        return {
            "by": by,
            "key": key,
            "tickets": self.tickets,
            "first_response_met": self.first_response_met,
            "first_response_total": self.first_response_total,
            "first_response_pct": rate(self.first_response_met, self.first_response_total),
            "resolution_met": self.resolution_met,
            "resolution_total": self.resolution_total,
            "resolution_pct": rate(self.resolution_met, self.resolution_total),
            "first_response_median_h": _quantile(fr, 0.5),
            "first_response_p90_h": _quantile(fr, 0.9),
            "resolution_median_h": _quantile(res, 0.5),
            "resolution_p90_h": _quantile(res, 0.9),
        }


def sla_report(
    session: Session, settings: Settings, period: Period, now: datetime
) -> list[dict[str, Any]]:
    """Attainment and business-hour times, by queue, by priority and by agent. Each ticket's
    figures are worked out once, on its calendar, and added to its three groups."""
    planner = SlaPlanner(settings)
    queues = {q.id: q for q in session.exec(select(Queue))}
    groups: dict[tuple[str, str], _Attainment] = defaultdict(_Attainment)
    for (
        queue_id,
        priority,
        assignee,
        opened_at,
        reopened_at,
        answered,
        first_response_due,
        resolved_at,
        resolution_due,
        paused_seconds,
    ) in session.exec(select_columns(*_SLA_COLUMNS).where(period.tickets())):
        queue = queues.get(queue_id)
        members = (
            groups["queue", queue_id],
            groups["priority", priority],
            groups["agent", assignee or "(unassigned)"],
        )
        fr_counted = first_response_due is not None and (
            answered is not None or first_response_due < now
        )
        fr_met = fr_counted and answered is not None and answered <= first_response_due
        fr_hours = None
        if first_response_due is not None and answered is not None:
            fr_hours = _hours(planner, queue, priority, opened_at, answered, 0)
        res_counted = resolution_due is not None and (
            resolved_at is not None or resolution_due < now
        )
        res_met = res_counted and resolved_at is not None and resolved_at <= resolution_due
        res_hours = None
        if resolution_due is not None and resolved_at is not None:
            start = reopened_at or opened_at
            res_hours = _hours(planner, queue, priority, start, resolved_at, paused_seconds)
        for group in members:
            group.tickets += 1
            group.first_response_total += fr_counted
            group.first_response_met += fr_met
            group.resolution_total += res_counted
            group.resolution_met += res_met
            if fr_hours is not None:
                group.first_response_hours.append(fr_hours)
            if res_hours is not None:
                group.resolution_hours.append(res_hours)
    return [group.row(by, key) for (by, key), group in sorted(groups.items())]


def loop_report(session: Session, period: Period) -> list[dict[str, Any]]:
    """Closed-loop and recovery rates over alert cases opened in the period; the problems
    opened in it, verified and reopened by their metric. Read as columns, not ORM objects
    (as the SLA report reads them)."""
    cases = session.exec(
        select_columns(
            Ticket.id,
            Ticket.resolved_at,
            Ticket.resolution_due,
            Ticket.verify_outcome,
            Ticket.reopen_count,
        ).where(period.tickets(), Ticket.kind == TicketKind.CASE, col(Ticket.rule).is_not(None))
    ).all()
    ids = [number for number, *_ in cases]
    trails: dict[int, list[tuple[str, int | None]]] = defaultdict(list)  # (kind, nps) in time
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for ticket_id, kind, nps in session.exec(
            select(FeedbackEvent.ticket_id, FeedbackEvent.kind, FeedbackEvent.nps)
            .where(col(FeedbackEvent.ticket_id).in_(chunk))
            .order_by(col(FeedbackEvent.occurred_at))
        ):
            trails[ticket_id or 0].append((kind, nps))
    within = verified = unverified = reopened = closed_loop = 0
    detractors = answered = recovered = 0
    for number, resolved_at, resolution_due, outcome, reopen_count in cases:
        in_time = (
            resolved_at is not None and resolution_due is not None and resolved_at <= resolution_due
        )
        within += in_time
        verified += outcome == "verified"
        unverified += outcome == "unverified"
        reopened += reopen_count > 0
        closed_loop += outcome == "verified" and in_time
        trail = trails.get(number, [])
        if not any(kind != "followup" and nps is not None and nps <= 6 for kind, nps in trail):
            continue
        detractors += 1
        answers = [nps for kind, nps in trail if kind == "followup" and nps is not None]
        if answers:
            answered += 1
            recovered += answers[-1] >= 7
    return [
        {"figure": "alert_tickets", "value": len(cases)},
        {"figure": "resolved_within_sla", "value": within},
        {"figure": "verified", "value": verified},
        {"figure": "unverified", "value": unverified},
        {"figure": "reopened", "value": reopened},
        {"figure": "closed_loop", "value": closed_loop},
        {"figure": "closed_loop_pct", "value": rate(closed_loop, len(cases))},
        {"figure": "detractor_cases", "value": detractors},
        {"figure": "detractors_answered", "value": answered},
        {"figure": "recovered", "value": recovered},
        {"figure": "recovery_pct", "value": rate(recovered, answered)},
        *problem_figures(session, period.tickets()),
    ]


def nps_report(session: Session, period: Period) -> list[dict[str, Any]]:
    """NPS, CSAT and CES with their counts, overall and by channel, touchpoint and journey."""
    rows = session.exec(
        select_columns(
            FeedbackEvent.channel,
            FeedbackEvent.touchpoint,
            FeedbackEvent.journey,
            FeedbackEvent.nps,
            FeedbackEvent.csat,
            FeedbackEvent.ces,
        ).where(period.events(), FeedbackEvent.kind != "followup")
    ).all()
    out = [_voice("all", "all", rows)]
    for index, by in enumerate(("channel", "touchpoint", "journey")):
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            groups[row[index] or "(none)"].append(row)
        out.extend(_voice(by, key, members) for key, members in sorted(groups.items()))
    return out


def _voice(by: str, key: str, rows: Iterable[Any]) -> dict[str, Any]:
    rows = list(rows)
    nps = [r[3] for r in rows if r[3] is not None]
    csat = [r[4] for r in rows if r[4] is not None]
    ces = [r[5] for r in rows if r[5] is not None]
    promoters, detractors = sum(n >= 9 for n in nps), sum(n <= 6 for n in nps)
    return {
        "by": by,
        "key": key,
        "nps": round(100 * (promoters - detractors) / len(nps), 1) if nps else None,
        "nps_answers": len(nps),
        "csat_pct": rate(sum(c >= 4 for c in csat), len(csat)),
        "csat_answers": len(csat),
        "ces_mean": round(statistics.fmean(ces), 2) if ces else None,
        "ces_answers": len(ces),
    }


def drivers_report(session: Session, period: Period) -> list[dict[str, Any]]:
    """Root-cause drivers by how many tickets they explain, with the cumulative share."""
    counts = session.exec(
        select(Ticket.driver, func.count())
        .where(period.tickets(), col(Ticket.driver).is_not(None))
        .group_by(Ticket.driver)
    ).all()
    total, running, rows = sum(count for _, count in counts), 0, []
    for driver, count in sorted(counts, key=lambda item: (-item[1], item[0])):
        running += count
        rows.append(
            {
                "driver": driver,
                "tickets": count,
                "pct": rate(count, total),
                "cumulative_pct": rate(running, total),
            }
        )
    return rows


def backlog_report(session: Session, period: Period, now: datetime) -> list[dict[str, Any]]:
    """Open tickets by stage and age."""
    tickets = session.exec(
        select(Ticket.stage, Ticket.opened_at).where(period.tickets(), Ticket.stage != Stage.CLOSED)
    ).all()
    labels = [label for _, label in AGE_BUCKETS] + ["> 14d"]
    table: dict[str, dict[str, int]] = {}
    for stage, opened in tickets:
        age = now - opened
        label = next((name for limit, name in AGE_BUCKETS if age < limit), labels[-1])
        table.setdefault(stage, dict.fromkeys(labels, 0))[label] += 1
    order = {s.value: i for i, s in enumerate(Stage)}
    # A stage this version does not know (stored outside cxdesk) is counted as stored, last.
    return [
        {"stage": stage, **counts, "total": sum(counts.values())}
        for stage, counts in sorted(
            table.items(), key=lambda item: (order.get(item[0], len(order)), item[0])
        )
    ]
