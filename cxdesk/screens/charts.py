"""Line charts with a value axis and a dated axis, drawn by plotext (`textual-plotext`).

The axes and ticks take the widget's own colours and the lines the theme's text colours
(`$text-primary`, …), which the themes make legible on their background: the charts read on
light themes as on dark ones, and follow a switch of theme. The chart is drawn at each render,
so its ticks fit the size it is given (an 80-column terminal gets fewer dates)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual_plotext import PlotextPlot

STEPS = (1, 2, 5)  # tick steps are these times a power of ten


@dataclass(frozen=True)
class Scale:
    """A value axis: the figure's possible range, and the least span shown, so a flat line
    is not blown up into noise."""

    low: float
    high: float
    min_span: float


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]  # (x, y), x ascending
    color: str  # a theme variable: text-primary, text-success, …
    right: bool = False  # on the right-hand value axis


def nice_ticks(low: float, high: float, scale: Scale, most: int) -> list[float]:
    """At most `most` (≥ 2) ticks on a round step, the first at or below `low` and the last at
    or above `high` (the axis's ends), the span at least the scale's least, all within its
    range: where a round tick would fall outside, the range's end takes its place."""
    span = max(high - low, scale.min_span)
    middle = (low + high) / 2
    # Widened about the middle, but never past the data: rounding can lose a tiny end
    # (-1e-281 and 20 span 20.0, whose half about 10.0 starts at 0.0).
    low, high = min(middle - span / 2, low), max(middle + span / 2, high)
    if low < scale.low:
        low, high = scale.low, scale.low + span
    if high > scale.high:
        low, high = max(scale.low, scale.high - span), scale.high
    step = next(
        (
            step
            for power in range(-3, 12)
            for step in (s * 10.0**power for s in STEPS)
            if _tick_count(low, high, step) <= most
        ),
        None,
    )
    if step is None:  # two ticks across zero: the scale's ends
        return [scale.low, scale.high]
    first, last = _tick_range(low, high, step)
    ticks = [min(max(i * step, scale.low), scale.high) for i in range(first, last + 1)]
    return sorted(set(ticks))


def _tick_range(low: float, high: float, step: float) -> tuple[int, int]:
    """The multiples of `step` of the first tick, at or below `low`, and of the last, at or
    above `high`; a quotient that underflows (5e-324 / 20 is 0.0) does not lose an end."""
    first, last = math.floor(low / step), math.ceil(high / step)
    if first * step > low:
        first -= 1
    if last * step < high:
        last += 1
    return first, last


def _tick_count(low: float, high: float, step: float) -> int:
    first, last = _tick_range(low, high, step)
    return last - first + 1


def tick_label(value: float) -> str:
    return f"{value:g}"


class LineChart(PlotextPlot):
    """Lines over an x axis of days, with one or two value axes."""

    DEFAULT_CSS = """
    LineChart {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(
        self,
        left: Scale,
        right: Scale | None = None,
        *,
        empty: str = "—",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.theme = "textual-clear"  # axes and ticks in the widget's colours
        self.scales = {"left": left, "right": right}
        self.empty = empty
        self.lines: tuple[Line, ...] = ()
        self.shown = False  # until the figures come, nothing: not "no data"
        self.x_label: Callable[[float], str] = tick_label
        self.x_span: tuple[float, float] | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def show(
        self,
        lines: Sequence[Line],
        x_label: Callable[[float], str],
        x_span: tuple[float, float] | None = None,
    ) -> None:
        """Draw `lines`, the x ticks labelled by `x_label` (a day's date, say), the x axis over
        `x_span` (charts side by side share their days), else over the points."""
        self.lines = tuple(line for line in lines if line.points)
        self.shown = True
        self.x_label = x_label
        self.x_span = x_span
        self.refresh()

    def render(self) -> RenderResult:
        if not self.lines or self.size.width < 12 or self.size.height < 4:
            return Text(self.empty if self.shown else "", style="dim")
        self._draw()
        return super().render()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_figure()
        xs = [x for line in self.lines for x, _ in line.points]
        for line in self.lines:
            plt.plot(
                [x for x, _ in line.points],
                [y for _, y in line.points],
                marker="hd",
                color=Color.parse(self.app.theme_variables[line.color]).rgb,
                yside="right" if line.right else "left",
            )
        rows = max(2, (self.size.height - 2) // 2 + 1)  # a tick every other row at most
        for side, scale in self.scales.items():
            right = side == "right"
            ys = [y for line in self.lines if line.right == right for _, y in line.points]
            if scale is None or not ys:
                continue
            ticks = nice_ticks(min(ys), max(ys), scale, rows)
            yside: Any = side  # plotext's hint says float; it takes "left" or "right"
            plt.ylim(ticks[0], ticks[-1], yside=yside)
            plt.yticks(ticks, [tick_label(t) for t in ticks], yside=yside)
        low, high = self.x_span or (min(xs), max(xs))
        if high - low < 1:  # within a day: one date, with room either side of it
            plt.xlim(low - 0.5, high + 0.5)
            plt.xticks([low], [self.x_label(low)])
            return
        plt.xlim(low, high)
        # Labels two widths apart: plotext moves a label off its neighbours when they are
        # closer, and places them in an order that changes from run to run (a set's).
        room = 2 * cell_len(self.x_label(low))
        count = max(2, min(self.size.width // room, int(high - low) + 1))
        positions = [low + (high - low) * i / (count - 1) for i in range(count)]
        plt.xticks(positions, [self.x_label(p) for p in positions])


class BarChart(PlotextPlot):
    """One figure per label, as horizontal bars (labels read whole, however many)."""

    DEFAULT_CSS = """
    BarChart {
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.theme = "textual-clear"
        self.bars: tuple[tuple[str, float], ...] = ()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh())

    def show(self, bars: Sequence[tuple[str, float]]) -> None:
        self.bars = tuple(bars)
        self.refresh()

    def render(self) -> RenderResult:
        if not self.bars or self.size.width < 20 or self.size.height < 4:
            return Text("")
        plt = self.plt
        plt.clear_figure()
        bars = self.bars[::-1]  # plotext stacks from the bottom: the first bar on top
        plt.bar(
            [label for label, _ in bars],
            [value for _, value in bars],
            orientation="horizontal",
            width=0.3,
            color=Color.parse(self.app.theme_variables["text-primary"]).rgb,
        )
        return super().render()
