"""Which cases a problem explains (`matches`): pure data, no database. The same definition
serves ingest's bulk path and the commands, so its table is checked here once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxdesk.workflow.loop.problem_figures import recovered
from cxdesk.workflow.loop.problem_scope import CaseFacts, OpenScope, matches

AT = datetime(2026, 3, 2, tzinfo=UTC)
CASE = CaseFacts(
    team_id="care",
    queue_id="aftersales",
    opened_at=AT,
    touchpoints=frozenset({"delivery"}),
    drivers=frozenset({"late_delivery"}),
    tier="gold",
    complaint=False,
)


def scope(metric: str, dimension: str, value: str | None, **kw: object) -> OpenScope:
    base = {"problem_id": 1, "team_id": "care", "gather_since": AT - timedelta(days=7)}
    return OpenScope(metric=metric, dimension=dimension, value=value, **{**base, **kw})


@pytest.mark.parametrize(
    ("problem", "explains"),
    [
        (scope("touchpoint_nps_drop", "touchpoint", "delivery"), True),
        (scope("touchpoint_nps_drop", "touchpoint", "checkout"), False),
        (scope("queue_csat_drop", "queue", "aftersales"), True),
        (scope("queue_csat_drop", "queue", "billing"), False),
        (scope("driver_detractors", "driver", "late_delivery"), True),
        (scope("driver_detractors", "driver", "rude_staff"), False),
        (scope("gold_detractors", "tier", "gold"), True),
        (scope("gold_detractors", "tier", "silver"), False),
        (scope("complaints_rising", "all", None), False),  # not opened from a complaint
        (scope("touchpoint_nps_drop", "touchpoint", "delivery", team_id="vip"), False),
        (
            scope("touchpoint_nps_drop", "touchpoint", "delivery", gather_since=AT + timedelta(1)),
            False,
        ),
        (scope("touchpoint_nps", "touchpoint", "delivery", gather_since=None), True),
        (scope("touchpoint_nps_drop", "channel", "delivery"), False),  # no such dimension
    ],
)
def test_a_problem_explains_the_cases_of_its_scope(problem: OpenScope, explains: bool) -> None:
    assert matches(problem, CASE) is explains


def test_complaints_rising_explains_the_cases_complaints_opened() -> None:
    complaint = CaseFacts(**{**CASE.__dict__, "complaint": True})
    assert matches(scope("complaints_rising", "all", None), complaint)


@given(
    metric=st.sampled_from(
        [
            "touchpoint_nps_drop",
            "touchpoint_nps",
            "queue_csat_drop",
            "driver_detractors",
            "complaints_rising",
            "gold_detractors",
        ]
    ),
    threshold=st.floats(-100, 100),
    after=st.floats(-100, 100),
)
def test_recovered_is_strictly_past_the_threshold_on_the_better_side(
    metric: str, threshold: float, after: float
) -> None:
    higher_is_better = metric in ("touchpoint_nps_drop", "touchpoint_nps", "queue_csat_drop")
    assert not recovered(metric, threshold, threshold)  # where the alert fires is not recovered
    better = after > threshold if higher_is_better else after < threshold
    assert recovered(metric, threshold, after) is better
