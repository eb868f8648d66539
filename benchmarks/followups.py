"""Follow-up delivery when nothing is due: what `followup_command` adds to a sweep pass.

    python benchmarks/followups.py [--db followups-benchmark.db] [--tickets 200000] [--rounds 9]

Builds (or reuses, with --db) the open backlog of `benchmarks/sweep.py`, whose verify tickets
each hold a follow-up, and leaves it as a desk that delivers its surveys would have it: every
due survey sent, one in a hundred waiting for a retry an hour on. Then times steady sweep
passes (nothing left to do) at one instant, alternately without `followup_command` (the
baseline) and with it, and prints JSON: the median of each, their ratio, the delivery step's
own median, and the delivery finder's query plan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sweep import START, build

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import FollowUp
from cxdesk.workflow.sweep import explain_finders, sweep


def delivered(db: Database) -> dict[str, int]:
    """Every due survey sent; one in a hundred of them waiting for a retry instead."""
    with db.write() as session:
        session.execute(
            update(FollowUp)
            .where(col(FollowUp.status) == "scheduled")
            .values(status="sent", sent_at=FollowUp.send_at, next_attempt_at=None, attempts=1)
        )
        session.execute(
            update(FollowUp)
            .where(col(FollowUp.id) % 100 == 0)
            .values(
                status="scheduled",
                sent_at=None,
                attempts=1,
                next_attempt_at=START + timedelta(hours=1),
            )
        )
        total = session.exec(select(func.count()).select_from(FollowUp)).one()
        waiting = session.exec(
            select(func.count()).where(col(FollowUp.next_attempt_at).is_not(None))
        ).one()
    return {"followups": total, "waiting_for_a_retry": waiting}


def measure(path: Path, rounds: int) -> dict[str, Any]:
    db = Database.open(str(path))
    counts = delivered(db)
    at = START + timedelta(minutes=1)
    plain, delivering = Settings(), Settings(followup_command=["true"])
    sweep(db, plain, at)  # whatever was due at `at`, and the metric alerts' first look
    sweep(db, delivering, at)
    times: dict[str, list[float]] = {"baseline": [], "with_delivery": []}
    deliver_step: list[float] = []
    for _ in range(rounds):
        for name, settings in (("baseline", plain), ("with_delivery", delivering)):
            started = time.perf_counter()
            report = sweep(db, settings, at)
            times[name].append(time.perf_counter() - started)
            if report.followups.sent or report.followups.retrying:
                raise SystemExit(f"a steady pass sent something: {report.as_dict()}")
            if name == "with_delivery":
                deliver_step.append(report.seconds["deliver"])
    plan = explain_finders(db, at)["followups_due"]
    db.dispose()
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        **counts,
        "rounds": rounds,
        "median_ms": {name: round(s * 1000, 2) for name, s in medians.items()},
        "all_ms": {name: [round(s * 1000, 2) for s in v] for name, v in times.items()},
        "ratio_with_delivery_to_baseline": round(medians["with_delivery"] / medians["baseline"], 3),
        "deliver_step_median_ms": round(statistics.median(deliver_step) * 1000, 3),
        "delivery_finder_plan": plan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="followups-benchmark.db", help="built here if missing")
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    path = Path(args.db)
    built = None
    if not path.exists():
        started = time.perf_counter()
        built = build(path, args.tickets, args.customers)
        built += f" in {time.perf_counter() - started:.0f} s"
    result = {"db": str(path), "built": built, **measure(path, args.rounds)}
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
