"""Metric alerts (三色预警): conditions over aggregated feedback in rolling windows.

Red: complaints rising day over day for N days running; several gold customers detracting
within 24 h. Yellow: a queue's CSAT or a touchpoint's NPS falling week over week. Each
firing opens a problem ticket for its (metric, scope), with the figures on its timeline, and
stays quiet while that ticket is open. The windows' counts come from the hourly rollups
(`insight.rollup_windows`), which ingest and the commands keep as they write the events, so
a look costs the same over a million events as over a thousand.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.models import (
    Customer,
    FeedbackEvent,
    TicketKind,
)
from cxdesk.workflow.insight.metrics import day_starts
from cxdesk.workflow.insight.rollup_windows import window_counts
from cxdesk.workflow.loop.commands import OpenTicket, ScopeSpec
from cxdesk.workflow.loop.problem_figures import csat_of, nps_of
from cxdesk.workflow.loop.problem_opening import open_problem_watching
from cxdesk.workflow.loop.rollups import ZERO, Counts
from cxdesk.workflow.loop.service import TicketService


@dataclass(frozen=True)
class MetricAlert:
    """What fired, with what its problem records: the scope (`dimension` all | touchpoint |
    queue | tier and its `value`), the start of the window whose open cases it gathers, the
    threshold (where the alert fires: see `loop.problem_figures`) and the figure it fired on."""

    metric: str
    scope: str  # "all", a queue id, a touchpoint
    colour: str  # red | yellow
    evidence: str
    dimension: str = "all"
    value: str | None = None
    since: datetime | None = None
    threshold: float | None = None
    figure: float | None = None

    @property
    def key(self) -> str:
        """What the problem ticket records as its rule (the column holds 128 characters)."""
        return f"metric:{self.metric}:{self.scope}"[:128]


def complaints_rising(
    session: Session, settings: Settings, now: datetime, rolled: bool = True
) -> list[MetricAlert]:
    config = settings.metric_alerts
    starts = day_starts(now, settings.timezone, config.complaint_rise_days + 1)
    connection = session.connection()
    daily = [
        window_counts(connection, "all", a, b, inclusive=False, rolled=rolled).get("", ZERO)[0]
        for a, b in pairwise(starts)
    ]
    rising = all(
        before > 0 and after >= before * (1 + config.complaint_rise)
        for before, after in pairwise(daily)
    )
    if not rising:
        return []
    days = ", ".join(f"{start:%m-%d} {count}" for start, count in zip(starts, daily, strict=False))
    return [
        MetricAlert(
            "complaints_rising",
            "all",
            "red",
            f"complaints per day rose ≥ {config.complaint_rise:.0%} "
            f"{config.complaint_rise_days} days running: {days}",
            since=starts[0],
            threshold=daily[0] * (1 + config.complaint_rise),
            figure=float(daily[-1]),
        )
    ]


def gold_detractors(
    session: Session, settings: Settings, now: datetime, rolled: bool = True
) -> list[MetricAlert]:
    """Distinct customers, of their tier as it is now: no rollup adds them up; the day's
    detractions are read through their own index."""
    limit = settings.metric_alerts.gold_detractors
    customers = session.exec(
        select(FeedbackEvent.customer_id)
        .join(Customer, col(Customer.id) == FeedbackEvent.customer_id)
        .where(
            Customer.tier == "gold",
            col(FeedbackEvent.nps) <= 6,
            col(FeedbackEvent.occurred_at) >= now - timedelta(hours=24),
            col(FeedbackEvent.occurred_at) <= now,
        )
        .distinct()
    ).all()
    if len(customers) < limit:
        return []
    return [
        MetricAlert(
            "gold_detractors",
            "all",
            "red",
            f"{len(customers)} gold customers detracted (NPS ≤ 6) in 24 h: "
            f"{', '.join(sorted(customers)[:10])}",
            dimension="tier",
            value="gold",
            since=now - timedelta(hours=24),
            threshold=float(limit),
            figure=float(len(customers)),
        )
    ]


def _weeks(
    session: Session, dimension: str, now: datetime, rolled: bool
) -> Iterator[tuple[str, Counts, Counts]]:
    """Each scope of `dimension` with its counts of last week and of this week (to `now`)."""
    connection = session.connection()
    week = timedelta(days=7)
    last = window_counts(
        connection, dimension, now - 2 * week, now - week, inclusive=False, rolled=rolled
    )
    this = window_counts(connection, dimension, now - week, now, inclusive=True, rolled=rolled)
    for value in sorted(last.keys() | this.keys()):
        yield value, last.get(value, ZERO), this.get(value, ZERO)


def touchpoint_nps_drop(
    session: Session, settings: Settings, now: datetime, rolled: bool = True
) -> list[MetricAlert]:
    config = settings.metric_alerts
    alerts = []
    for touchpoint, (_, n0, p0, d0, *_), (_, n1, p1, d1, *_) in _weeks(
        session, "touchpoint", now, rolled
    ):
        if min(n0 or 0, n1 or 0) < config.min_answers:
            continue
        before, after = nps_of(p0, d0, n0), nps_of(p1, d1, n1)
        assert before is not None and after is not None  # both weeks have answers
        if before - after >= config.nps_drop_points:
            alerts.append(
                MetricAlert(
                    "touchpoint_nps_drop",
                    touchpoint,
                    "yellow",
                    f"NPS of {touchpoint} fell {before - after:.1f} points "
                    f"week over week: {before:.1f} ({n0} answers) → "
                    f"{after:.1f} ({n1} answers)",
                    dimension="touchpoint",
                    value=touchpoint,
                    since=now - timedelta(days=7),
                    threshold=before - config.nps_drop_points,
                    figure=after,
                )
            )
    return alerts


def queue_csat_drop(
    session: Session, settings: Settings, now: datetime, rolled: bool = True
) -> list[MetricAlert]:
    """CSAT (% of answers 4–5) of the feedback on each queue's tickets, week over week."""
    config = settings.metric_alerts
    alerts = []
    for queue_id, (*_, n0, s0), (*_, n1, s1) in _weeks(session, "queue", now, rolled):
        if min(n0 or 0, n1 or 0) < config.min_answers:
            continue
        before, after = csat_of(s0, n0), csat_of(s1, n1)
        assert before is not None and after is not None  # both weeks have answers
        if before - after >= config.csat_drop_points:
            alerts.append(
                MetricAlert(
                    "queue_csat_drop",
                    queue_id,
                    "yellow",
                    f"CSAT of queue {queue_id} fell {before - after:.1f} "
                    f"points week over week: {before:.1f}% ({n0} answers) → "
                    f"{after:.1f}% ({n1} answers)",
                    dimension="queue",
                    value=queue_id,
                    since=now - timedelta(days=7),
                    threshold=before - config.csat_drop_points,
                    figure=after,
                )
            )
    return alerts


CHECKS = (complaints_rising, gold_detractors, touchpoint_nps_drop, queue_csat_drop)


def detect_metric_alerts(
    session: Session, settings: Settings, now: datetime, *, rolled: bool = True
) -> list[MetricAlert]:
    """Every metric alert whose condition holds at `now` (reads only); from the events alone
    with `rolled` False, as the rollups must agree with."""
    return [alert for check in CHECKS for alert in check(session, settings, now, rolled)]


def fire_metric_alerts(
    session: Session, service: TicketService, alerts: list[MetricAlert], now: datetime
) -> list[MetricAlert]:
    """Open a problem ticket for each alert that has none open, its scope recorded and the
    open cases of the scope linked; returns those fired."""
    settings = service.settings
    fired = []
    for alert in alerts:
        if open_problem_watching(session, alert.key) is not None:
            continue
        service.handle(
            OpenTicket(
                kind=TicketKind.PROBLEM,
                queue_id=settings.metric_alerts.queue,
                priority="P1" if alert.colour == "red" else "P2",
                title=f"[{alert.colour}] {alert.evidence}",
                at=now,
                rule=alert.key,
                tags=["metric", alert.colour],
                evidence=(
                    alert.evidence,
                    {"metric": alert.metric, "scope": alert.scope, "colour": alert.colour},
                ),
                scope=ScopeSpec(
                    metric=alert.metric,
                    dimension=alert.dimension,
                    value=alert.value,
                    gather_since=alert.since,
                    threshold=alert.threshold,
                    before=alert.figure,
                ),
            ),
            session,
        )
        fired.append(alert)
    return fired
