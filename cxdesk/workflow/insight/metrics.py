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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_
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


def sla_report(
    session: Session, settings: Settings, period: Period, now: datetime
) -> list[dict[str, Any]]:
    """Attainment and business-hour times, by queue, by priority and by agent."""
    planner = SlaPlanner(settings)
    queues = {q.id: q for q in session.exec(select(Queue))}
    tickets = session.exec(select(Ticket).where(period.tickets())).all()
    groups: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
    for ticket in tickets:
        groups[("queue", ticket.queue_id)].append(ticket)
        groups[("priority", ticket.priority)].append(ticket)
        groups[("agent", ticket.assignee or "(unassigned)")].append(ticket)
    rows = []
    for (by, key), members in sorted(groups.items()):
        fr_met = fr_total = res_met = res_total = 0
        fr_hours: list[float] = []
        res_hours: list[float] = []
        for t in members:
            queue = queues.get(t.queue_id)
            if t.first_response_due is not None:
                answered = t.first_response_at
                if answered is not None or t.first_response_due < now:
                    fr_total += 1
                    fr_met += answered is not None and answered <= t.first_response_due
                if answered is not None:
                    hours = _hours(planner, queue, t.priority, t.opened_at, answered, 0)
                    fr_hours += [] if hours is None else [hours]
            if t.resolution_due is not None:
                if t.resolved_at is not None or t.resolution_due < now:
                    res_total += 1
                    res_met += t.resolved_at is not None and t.resolved_at <= t.resolution_due
                if t.resolved_at is not None:
                    start = t.reopened_at or t.opened_at
                    hours = _hours(
                        planner, queue, t.priority, start, t.resolved_at, t.paused_seconds
                    )
                    res_hours += [] if hours is None else [hours]
        rows.append(
            {
                "by": by,
                "key": key,
                "tickets": len(members),
                "first_response_met": fr_met,
                "first_response_total": fr_total,
                "first_response_pct": rate(fr_met, fr_total),
                "resolution_met": res_met,
                "resolution_total": res_total,
                "resolution_pct": rate(res_met, res_total),
                "first_response_median_h": _quantile(fr_hours, 0.5),
                "first_response_p90_h": _quantile(fr_hours, 0.9),
                "resolution_median_h": _quantile(res_hours, 0.5),
                "resolution_p90_h": _quantile(res_hours, 0.9),
            }
        )
    return rows


def loop_report(session: Session, period: Period) -> list[dict[str, Any]]:
    """Closed-loop and recovery rates over alert cases opened in the period; the problems
    opened in it, verified and reopened by their metric."""
    cases = session.exec(
        select(Ticket).where(
            period.tickets(), Ticket.kind == TicketKind.CASE, col(Ticket.rule).is_not(None)
        )
    ).all()
    ids = [t.id for t in cases]
    events: dict[int, list[FeedbackEvent]] = defaultdict(list)
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        for event in session.exec(
            select(FeedbackEvent)
            .where(col(FeedbackEvent.ticket_id).in_(chunk))
            .order_by(col(FeedbackEvent.occurred_at))
        ):
            events[event.ticket_id or 0].append(event)
    within = sum(
        t.resolved_at is not None
        and t.resolution_due is not None
        and t.resolved_at <= t.resolution_due
        for t in cases
    )
    verified = sum(t.verify_outcome == "verified" for t in cases)
    closed_loop = sum(
        t.verify_outcome == "verified"
        and t.resolved_at is not None
        and t.resolution_due is not None
        and t.resolved_at <= t.resolution_due
        for t in cases
    )
    detractors = answered = recovered = 0
    for t in cases:
        trail = events.get(t.id or 0, [])
        if not any(e.kind != "followup" and e.nps is not None and e.nps <= 6 for e in trail):
            continue
        detractors += 1
        answers = [e.nps for e in trail if e.kind == "followup" and e.nps is not None]
        if answers:
            answered += 1
            recovered += answers[-1] >= 7
    return [
        {"figure": "alert_tickets", "value": len(cases)},
        {"figure": "resolved_within_sla", "value": within},
        {"figure": "verified", "value": verified},
        {"figure": "unverified", "value": sum(t.verify_outcome == "unverified" for t in cases)},
        {"figure": "reopened", "value": sum(t.reopen_count > 0 for t in cases)},
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
    drivers = session.exec(
        select(Ticket.driver).where(period.tickets(), col(Ticket.driver).is_not(None))
    ).all()
    counts: dict[str | None, int] = defaultdict(int)
    for driver in drivers:
        counts[driver] += 1
    total, running, rows = len(drivers), 0, []
    for driver, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
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
