"""The charts' value axes: round ticks that cover the data, within the figure's range."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxdesk.screens.charts import Scale, nice_ticks

SCALES = {
    "nps": Scale(-100, 100, min_span=20),
    "percent": Scale(0, 100, min_span=10),
    "answer": Scale(0, 10, min_span=4),
    "csat": Scale(1, 5, min_span=2),
}


@pytest.mark.parametrize(
    ("scale", "low", "high", "most", "ticks"),
    [
        ("nps", -50, 100, 5, [-50, 0, 50, 100]),
        ("nps", 30, 32, 5, [20, 30, 40, 50]),  # a flat line is not blown up to the full height
        ("nps", 0, 0, 2, [-100, 100]),  # two ticks across zero: the ends
        ("percent", 0, 0, 3, [0, 5, 10]),
        ("csat", 1, 5, 5, [1, 2, 3, 4, 5]),
        ("csat", 1, 5, 3, [1, 5]),  # 0 would be off the scale: its end instead
        ("answer", 7, 9, 3, [6, 8, 10]),
        ("nps", -20, 5e-324, 2, [-100, 100]),  # 5e-324 / 20 underflows to 0: not left off
    ],
)
def test_examples(scale: str, low: float, high: float, most: int, ticks: list[float]) -> None:
    assert nice_ticks(low, high, SCALES[scale], most) == ticks


@st.composite
def data(draw: st.DrawFn) -> tuple[Scale, float, float, int]:
    scale = draw(st.sampled_from(list(SCALES.values())))
    values = st.floats(scale.low, scale.high, allow_nan=False)
    low, high = sorted((draw(values), draw(values)))
    return scale, low, high, draw(st.integers(2, 12))


@given(data())
def test_ticks_cover_the_data_on_a_round_step_within_the_scale(
    case: tuple[Scale, float, float, int],
) -> None:
    scale, low, high, most = case
    ticks = nice_ticks(low, high, scale, most)
    assert ticks == sorted(set(ticks)) and len(ticks) >= 2
    assert ticks[0] <= low and ticks[-1] >= high  # the axis shows every point
    assert scale.low <= ticks[0] and ticks[-1] <= scale.high
    assert ticks[-1] - ticks[0] >= scale.min_span - 1e-9
    assert len(ticks) <= most
