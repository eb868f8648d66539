"""The metric alerts' look over 1,000,000 events: read from the hourly rollups, against
scanning the events for the same windows (the computation before the rollups).

    python benchmarks/metric_alerts.py --db large.db [--rounds 7] [--in-place]

The database is the one `cxdesk demo --size large` builds. It is copied to a temporary
directory (with --in-place: used as it is, for a copy of your own) and migrated there, which
fills the rollups from its events. Each round times, in this process and under the same
load, the look the sweep makes (`detect_metric_alerts`) and the same checks with every window
read from the events (`rolled=False`), at the newest event's time; both must find the same
alerts. The first round warms the page cache and is left out. Prints JSON: the medians,
each check's median, the ratio scan / rollups, and the alerts found.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import FeedbackEvent
from cxdesk.workflow.insight.metric_alerts import CHECKS, detect_metric_alerts


def _copy(source: Path, directory: Path) -> Path:
    target = directory / source.name
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


def measure(path: Path, rounds: int) -> dict[str, Any]:
    db = Database.open(str(path), must_exist=False)
    started = time.perf_counter()
    db.upgrade()
    migrated = time.perf_counter() - started
    settings = Settings()
    with db.session() as session:
        now = session.scalars(select(func.max(FeedbackEvent.occurred_at))).one()
        events = session.scalars(select(func.count()).select_from(FeedbackEvent)).one()
    times: dict[str, list[float]] = {"rollups": [], "scan": []}
    checks: dict[str, list[float]] = {check.__name__: [] for check in CHECKS}
    found: dict[str, list[str]] = {}
    for round_ in range(rounds + 1):
        with db.session() as session:
            for name, rolled in (("rollups", True), ("scan", False)):
                started = time.perf_counter()
                alerts = detect_metric_alerts(session, settings, now, rolled=rolled)
                if round_:
                    times[name].append(time.perf_counter() - started)
                found[name] = sorted(alert.key for alert in alerts)
            for check in CHECKS:
                started = time.perf_counter()
                check(session, settings, now, True)
                if round_:
                    checks[check.__name__].append(time.perf_counter() - started)
    db.dispose()
    if found["rollups"] != found["scan"]:
        raise SystemExit(f"the looks differ: {found}")
    rollups, scan = (statistics.median(times[name]) for name in ("rollups", "scan"))
    return {
        "events": events,
        "now": now.isoformat(),
        "migrate_s": round(migrated, 1),
        "rollups_median_ms": round(rollups * 1000, 1),
        "scan_median_ms": round(scan * 1000, 1),
        "ratio_scan_to_rollups": round(scan / rollups, 1),
        "checks_median_ms": {
            name: round(statistics.median(values) * 1000, 1) for name, values in checks.items()
        },
        "rounds": {name: [round(t * 1000, 1) for t in values] for name, values in times.items()},
        "alerts": found["rollups"],
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the large demo database")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--in-place", action="store_true", help="migrate and read --db itself")
    args = parser.parse_args()
    if args.in_place:
        result = measure(args.db, args.rounds)
    else:
        with tempfile.TemporaryDirectory() as directory:
            result = measure(_copy(args.db, Path(directory)), args.rounds)
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
