"""The metric alerts as they were computed before the rollups, scanning the events: the
reference the rollup-based look must agree with, alert for alert."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.models import Customer, FeedbackEvent, Ticket
from cxdesk.workflow.basics.statements import select_columns
from cxdesk.workflow.insight.metric_alerts import MetricAlert
from cxdesk.workflow.insight.metrics import day_starts
from cxdesk.workflow.loop.problem_figures import csat_of, nps_of


def complaints_rising(session: Session, settings: Settings, now: datetime) -> list[MetricAlert]:
    config = settings.metric_alerts
    starts = day_starts(now, settings.timezone, config.complaint_rise_days + 1)
    counts = session.exec(
        select(
            *(
                func.sum(
                    case(
                        (
                            and_(
                                col(FeedbackEvent.occurred_at) >= a,
                                col(FeedbackEvent.occurred_at) < b,
                            ),
                            1,
                        ),
                        else_=0,
                    )
                )
                for a, b in pairwise(starts)
            )
        ).where(
            FeedbackEvent.kind == "complaint",
            col(FeedbackEvent.occurred_at) >= starts[0],
            col(FeedbackEvent.occurred_at) < starts[-1],
        )
    ).one()
    daily = [int(c or 0) for c in counts]
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


def gold_detractors(session: Session, settings: Settings, now: datetime) -> list[MetricAlert]:
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


def _week_split(now: datetime) -> tuple[ColumnElement[bool], datetime]:
    """(is-this-week condition, start of last week) for week-over-week comparisons."""
    this_week = col(FeedbackEvent.occurred_at) >= now - timedelta(days=7)
    return this_week, now - timedelta(days=14)


def _tally(week: ColumnElement[bool], condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows of that week meet the condition."""
    return func.sum(case((and_(week, condition), 1), else_=0))


def touchpoint_nps_drop(session: Session, settings: Settings, now: datetime) -> list[MetricAlert]:
    config = settings.metric_alerts
    this_week, since = _week_split(now)
    nps = col(FeedbackEvent.nps)
    last_week = ~this_week
    rows = session.exec(
        select_columns(
            FeedbackEvent.touchpoint,
            _tally(last_week, nps.is_not(None)),
            _tally(last_week, nps >= 9),
            _tally(last_week, nps <= 6),
            _tally(this_week, nps.is_not(None)),
            _tally(this_week, nps >= 9),
            _tally(this_week, nps <= 6),
        )
        .where(
            col(FeedbackEvent.occurred_at) >= since,
            col(FeedbackEvent.occurred_at) <= now,
            nps.is_not(None),
            col(FeedbackEvent.touchpoint).is_not(None),
        )
        .group_by(FeedbackEvent.touchpoint)
    ).all()
    alerts = []
    for touchpoint, n0, p0, d0, n1, p1, d1 in rows:
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


def queue_csat_drop(session: Session, settings: Settings, now: datetime) -> list[MetricAlert]:
    """CSAT (% of answers 4–5) of the feedback on each queue's tickets, week over week."""
    config = settings.metric_alerts
    this_week, since = _week_split(now)
    csat = col(FeedbackEvent.csat)
    last_week = ~this_week

    rows = session.exec(
        select_columns(
            Ticket.queue_id,
            _tally(last_week, csat.is_not(None)),
            _tally(last_week, csat >= 4),
            _tally(this_week, csat.is_not(None)),
            _tally(this_week, csat >= 4),
        )
        .join(Ticket, col(Ticket.id) == FeedbackEvent.ticket_id)
        .where(
            col(FeedbackEvent.occurred_at) >= since,
            col(FeedbackEvent.occurred_at) <= now,
            csat.is_not(None),
        )
        .group_by(Ticket.queue_id)
    ).all()
    alerts = []
    for queue_id, n0, s0, n1, s1 in rows:
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


def scan_metric_alerts(session: Session, settings: Settings, now: datetime) -> list[MetricAlert]:
    return [alert for check in CHECKS for alert in check(session, settings, now)]
