"""Waiting in Pilot tests for what the app does in workers and messages, instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable


async def settle(app: App, pilot: Pilot) -> None:
    """Let loads chained through workers and messages (a load that starts another) finish,
    and the tables they filled size their columns."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()
    for _ in range(80):
        if not any(_sizing(table) for table in app.screen.query(DataTable)):
            return
        await pilot.pause(0.05)
    raise AssertionError("a table's columns still unsized after 4 s")


def _sizing(table: DataTable[object]) -> bool:
    """Whether `table` has rows or cells whose widths it has not measured yet: it does so
    only when its messages run out (on Idle), which a loaded machine can put off until
    after a snapshot is taken, its columns still as wide as their labels. Textual tells
    this only in these private fields."""
    return bool(table._require_update_dimensions or table._updated_cells)


async def until(
    pilot: Pilot, condition: Callable[[], bool], failure: str, seconds: float = 4
) -> None:
    """Wait for what arrives on its own time (a reload told of a change, a toast, a redraw)."""
    for _ in range(round(seconds * 10)):
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"{failure} within {seconds} s")
