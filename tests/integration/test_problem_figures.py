"""A verification measures what the alert computed: over the same rows, the figure a problem's
verification reads equals the figure its metric alert fired on, on both backends; and a figure
an alert fires on never reads as recovered."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Customer, FeedbackEvent
from cxdesk.workflow.insight.metric_alerts import touchpoint_nps_drop
from cxdesk.workflow.loop.problem_figures import measure, recovered
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
