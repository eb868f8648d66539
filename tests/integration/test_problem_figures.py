"""A verification measures what the alert computed: over the same rows, the figure a problem's
verification reads equals the figure its metric alert fired on (a touchpoint's NPS, a queue's
CSAT), on both backends; and a figure an alert fires on never reads as recovered."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import col

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Customer, FeedbackEvent, Ticket
from cxdesk.workflow.insight.metric_alerts import queue_csat_drop, touchpoint_nps_drop
from cxdesk.workflow.loop.problem_figures import measure, recovered
from cxdesk.workflow.loop.rollups import rebuild
from tests.integration.test_sweep import T0

NOW = T0 + timedelta(days=14)
# Every drop counts, from any number of answers: the examples are small.
SENSITIVE = Settings(metric_alerts={"min_answers": 1, "nps_drop_points": 0.1})
_touchpoints = itertools.count()


def store(db: Database, touchpoint: str, scores: list[int], days_ago: int) -> None:
    with db.write() as session:
        for n, score in enumerate(scores):
            key = f"{touchpoint}-{days_ago}-{n}"
            session.add(Customer(id=key, created_at=T0, updated_at=T0))
            session.add(
                FeedbackEvent(
                    event_id=key,
                    kind="survey",
                    occurred_at=NOW - timedelta(days=days_ago),
                    received_at=NOW,
                    customer_id=key,
                    touchpoint=touchpoint,
                    nps=score,
                    raw="{}",
                )
            )
        session.flush()
        rebuild(session.connection())  # written past ingest: its rollups as a repair makes them


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    last_week=st.lists(st.integers(9, 10), min_size=1, max_size=30),
    this_week=st.lists(st.integers(0, 10), min_size=1, max_size=30).filter(
        lambda scores: any(s < 9 for s in scores)
    ),
)
def test_the_verification_figure_is_the_alerts(
    db: Database, last_week: list[int], this_week: list[int]
) -> None:
    touchpoint = f"tp{next(_touchpoints)}"
    store(db, touchpoint, last_week, days_ago=10)  # NPS 100
    store(db, touchpoint, this_week, days_ago=2)  # below 100: a drop
    with db.session() as session:
        (alert,) = [
            a for a in touchpoint_nps_drop(session, SENSITIVE, NOW) if a.value == touchpoint
        ]
        figure = measure(session, alert.metric, touchpoint, NOW - timedelta(days=7), NOW)
    promoters = sum(s >= 9 for s in this_week)
    detractors = sum(s <= 6 for s in this_week)
    assert figure.answers == len(this_week)
    assert figure.value == alert.figure
    assert alert.figure is not None and alert.threshold is not None
    assert abs(alert.figure - 100 * (promoters - detractors) / len(this_week)) < 1e-9
    assert not recovered(alert.metric, alert.threshold, alert.figure)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    this_week=st.lists(st.integers(1, 5), min_size=1, max_size=30).filter(
        lambda scores: any(s < 4 for s in scores)
    ),
)
def test_the_queue_csat_verification_figure_is_the_alerts(
    db: Database, this_week: list[int]
) -> None:
    """The same for a queue's CSAT, over the feedback on its tickets (each example's rows are
    removed after it: the queue is shared)."""
    config = Settings(metric_alerts={"min_answers": 1, "csat_drop_points": 0.1})
    with db.write() as session:
        case = Ticket(queue_id="billing", opened_at=T0, updated_at=T0)
        session.add(case)
        session.flush()
        case_id = case.id
    key = f"q{next(_touchpoints)}"
    rows = [(f"{key}-a{n}", 5, 10) for n in range(3)]  # last week: CSAT 100
    rows += [(f"{key}-b{n}", score, 2) for n, score in enumerate(this_week)]
    with db.write() as session:
        session.add(Customer(id=key, created_at=T0, updated_at=T0))
        for event_id, score, days_ago in rows:
            session.add(
                FeedbackEvent(
                    event_id=event_id,
                    kind="followup",
                    occurred_at=NOW - timedelta(days=days_ago),
                    received_at=NOW,
                    customer_id=key,
                    csat=score,
                    ticket_id=case_id,
                    raw="{}",
                )
            )
        session.flush()
        rebuild(session.connection())
    try:
        with db.session() as session:
            (alert,) = [a for a in queue_csat_drop(session, config, NOW) if a.value == "billing"]
            figure = measure(session, alert.metric, "billing", NOW - timedelta(days=7), NOW)
        satisfied = sum(s >= 4 for s in this_week)
        assert (figure.value, figure.answers) == (alert.figure, len(this_week))
        assert alert.figure is not None and alert.threshold is not None
        assert abs(alert.figure - 100 * satisfied / len(this_week)) < 1e-9
        assert not recovered(alert.metric, alert.threshold, alert.figure)
    finally:
        with db.write() as session:
            session.execute(delete(FeedbackEvent).where(col(FeedbackEvent.ticket_id) == case_id))
            session.execute(delete(Ticket).where(col(Ticket.id) == case_id))
            rebuild(session.connection())
