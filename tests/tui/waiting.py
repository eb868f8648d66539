"""Waiting in Pilot tests for what the app does in workers and messages, instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App
from textual.pilot import Pilot


async def settle(app: App, pilot: Pilot) -> None:
    """Let loads chained through workers and messages (a load that starts another) finish."""
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause()


async def until(
    pilot: Pilot, condition: Callable[[], bool], failure: str, seconds: float = 4
) -> None:
    """Wait for what arrives on its own time (a reload told of a change, a toast, a redraw)."""
    for _ in range(round(seconds * 10)):
        await pilot.pause(0.1)
        if condition():
            return
    raise AssertionError(f"{failure} within {seconds} s")
