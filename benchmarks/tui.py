"""TUI speed at size: time to the first painted page, and per-key latency, headless.

    cxdesk --db /tmp/large.db demo --size large --no-tui     # once: 1,000,000 tickets
    python benchmarks/tui.py --db /tmp/large.db [--rounds 30]

Prints JSON: `first_paint_s` (process start to the first page of tickets on screen, imports
included), and median / p95 milliseconds for moving the cursor, switching views and applying
a filter (key press to the screen showing the result).
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import getpass  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

from cxdesk.app import CxdeskApp  # noqa: E402
from cxdesk.config import Settings  # noqa: E402
from cxdesk.db import Database  # noqa: E402
from cxdesk.screens.queue import QueueScreen  # noqa: E402


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "n": len(ordered),
    }


async def measure(db_path: str, rounds: int) -> dict[str, object]:
    app = CxdeskApp(Database.open(db_path), Settings(), getpass.getuser())
    result: dict[str, object] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, QueueScreen) and app.screen.current is not None):
            await asyncio.sleep(0.005)
        await pilot.pause()
        result["first_paint_s"] = round(time.perf_counter() - STARTED, 3)
        screen = app.screen

        async def repainted(before: object) -> None:
            """Until the screen shows a page loaded after the key (live refreshes included)."""
            while screen.current is before:
                await asyncio.sleep(0.001)
            await pilot.pause()

        moves = []
        for n in range(rounds):
            start = time.perf_counter()
            await pilot.press("down" if n % 2 == 0 else "up")
            await pilot.pause()
            moves.append(time.perf_counter() - start)
        views = []
        for n in range(rounds):
            before, start = screen.current, time.perf_counter()
            await pilot.press("1234567"[n % 7])
            await repainted(before)
            views.append(time.perf_counter() - start)
        filters = []
        box = screen.query_one("#search")
        for n in range(rounds):
            await pilot.press("slash")
            box.value = ["priority:P1", "stage:new", "down", "queue:vip", "快递"][n % 5]
            before, start = screen.current, time.perf_counter()
            await pilot.press("enter")
            await repainted(before)
            filters.append(time.perf_counter() - start)
        result.update(
            cursor=summary(moves), switch_view=summary(views), apply_filter=summary(filters)
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database made by `demo --size large`")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.db, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
