"""Rules backtest speed: replaying every stored event through the configured rules, against
streaming the same rows with no rule evaluated.

    python benchmarks/backtest.py [--db large.db] [--rounds 3]

Without --db it builds the 1,000,000-event database of `cxdesk demo --size large` in a
temporary directory (about three minutes) and removes it afterwards. Each round times, in this
process and under the same load: `backtest` (the service `cxdesk rules backtest` calls: the
recorded alerts, the open cases, every event streamed, judged, its case worked out and
counted), then `stream` (the same statement through the same chunked reader, each row's
tuple touched, nothing judged) and, on SQLite, `driver` (the same SQL through the sqlite3
driver alone: no SQLAlchemy, no datetime parsing). The ratios are taken within each round.
Prints JSON: the medians (seconds, events per second, ratios), each round, and this
process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cxdesk.config import Settings
from cxdesk.db import Database, resolve_url, sqlite_path
from cxdesk.workflow.intake.backtest import backtest
from cxdesk.workflow.intake.backtest_reads import Window, replay_rows, replay_statement
from cxdesk.workflow.intake.rules import RuleSet


def build(directory: Path) -> Path:
    """The large demo database, built by the real command."""
    path = directory / "large.db"
    command = [sys.executable, "-m", "cxdesk", "--db", str(path), "demo", "--size", "large"]
    subprocess.run([*command, "--no-tui"], check=True, stdout=subprocess.DEVNULL)
    return path


def timed_backtest(db: Database, settings: Settings) -> tuple[float, int]:
    started = time.perf_counter()
    report = backtest(db, settings, settings.rules, Window())
    return time.perf_counter() - started, report.replayed


def timed_stream(db: Database, symbols: tuple[str, ...]) -> tuple[float, int]:
    """The backtest's rows, read the same way, each tuple touched and nothing else."""
    started = time.perf_counter()
    rows = 0
    with db.session() as session:
        for row in replay_rows(session.connection(), symbols, Window()):
            rows += len(row) > 0
    return time.perf_counter() - started, rows


def timed_driver(path: Path, sql: str) -> tuple[float, int]:
    """The same SQL through the sqlite3 driver alone: the floor for reading these rows."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    started = time.perf_counter()
    rows = 0
    for row in connection.execute(sql):
        rows += len(row) > 0
    seconds = time.perf_counter() - started
    connection.close()
    return seconds, rows


def run(url: str, rounds: int) -> dict[str, Any]:
    settings = Settings()
    db = Database.open(url)
    symbols = RuleSet(settings.rules).symbols
    path = sqlite_path(resolve_url(url))
    sql = None
    if path is not None:
        statement = replay_statement(symbols, Window())
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
    results = []
    for _ in range(rounds):
        backtest_s, events = timed_backtest(db, settings)
        stream_s, streamed = timed_stream(db, symbols)
        assert streamed == events
        result: dict[str, Any] = {
            "backtest_s": round(backtest_s, 2),
            "stream_s": round(stream_s, 2),
            "events_per_s": round(events / backtest_s),
            "stream_rows_per_s": round(events / stream_s),
            "ratio_to_stream": round(backtest_s / stream_s, 2),
        }
        if path is not None and sql is not None:
            driver_s, _ = timed_driver(path, sql)
            result |= {
                "driver_s": round(driver_s, 2),
                "ratio_to_driver": round(backtest_s / driver_s, 2),
            }
        results.append(result)
    db.dispose()
    report: dict[str, Any] = {
        "events": events,
        "rules": [rule.name for rule in settings.rules],
        **{key: statistics.median(r[key] for r in results) for key in results[0]},
        "rounds": results,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a database to replay (file or URL); default: build one")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.db:
        print(json.dumps(run(args.db, args.rounds), indent=2))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = build(Path(directory))
        print(json.dumps(run(str(path), args.rounds), indent=2))


if __name__ == "__main__":
    main()
