"""Waiting in Pilot tests for what the app does in workers and messages, instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable

QUIET_CHECKS = 3  # in a row: a key passes app -> screen -> widget one queue at a time


async def settle(app: App, pilot: Pilot, seconds: float = 10) -> None:
    """Let the app come to rest: keys pressed reach their widget, loads chained through
    workers and messages (a load that starts another) finish, and the tables they filled
    size their columns. Waiting for the workers alone is not enough: a key still on its way
    from the app to the focused widget has not started its load yet, and a loaded machine
    let a snapshot be taken of that load's answer half drawn."""
    quiet = 0
    for _ in range(round(seconds / 0.02)):
        await pilot.pause()
        await app.workers.wait_for_complete()
        quiet = quiet + 1 if _at_rest(app) else 0
        if quiet == QUIET_CHECKS:
            return
        await pilot.pause(0.02)
    raise AssertionError(f"the app was still busy after {seconds} s")


def _at_rest(app: App) -> bool:
    """No message waits in the app or its screen, no worker runs, and no table has rows or
    cells it has not measured yet."""
    nodes = [app, *app.screen.walk_children(with_self=True)]
    return (
        not any(node.message_queue_size for node in nodes)
        and not any(worker.is_running for worker in app.workers)
        and not any(_sizing(table) for table in app.screen.query(DataTable))
    )


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
