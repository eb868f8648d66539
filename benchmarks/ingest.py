"""Ingest speed: events per second through `cxdesk ingest` against a raw sqlite3 executemany.

    python benchmarks/ingest.py [--events 200000] [--customers 50000] [--seed 1] [--rounds 3]
                                [--alert-heavy] [--postgres URL]

Generates a JSON Lines feed (Chinese and English comments; about two events in five alert
under the default rules; with --alert-heavy, 55 % alert, all of them from a third of the
customers, so that a third get a case and most alerts land on a case already open). Each
round ingests it into a fresh SQLite file through the real command path (reader, validation,
dedup, rules, tickets, audit, rollups, batching), then inserts the same event rows with one
sqlite3 executemany into a fresh file holding a table of the same shape and indexes (the
median of three files); `ratio_to_raw_with_json` counts the raw side's reading and
`json.loads` of the lines in its time too. Both run in fresh processes (run in the
ingest's process, the same executemany ran ~35 % slower, which flattered the ratio), one
right after the other, so that a round's ratio compares them under the same load on a
shared machine. Each database is deleted once measured: left on disk, their pages still
being written back slowed the raw runs after them, which flattered the ratio. Prints the
medians of the rounds (rates and ratio), each round, the peak memory of the ingesting
process, and the ingest summary as JSON. `run()` does the same for a caller.

With `--postgres URL` (a PostgreSQL server cxdesk can reach, e.g.
`postgresql+psycopg://postgres@127.0.0.1:5432/test`), each round also ingests the feed into
a fresh database created on that server for the round and dropped after it, in a fresh
process, right after the SQLite ingest: `postgres_ratio` is its rate over SQLite's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only named: the raw runs' process measures sqlite3 alone
    from cxdesk.config import Settings
    from cxdesk.db import Database
    from cxdesk.workflow.intake.ingest import IngestSummary

COMMENTS = [
    "快递晚了三天，没有任何通知。",
    "客服很耐心，问题当场解决。",
    "App 登录一直失败，无法使用。",
    "Fast delivery, great packaging.",
    "I was charged twice this month.",
    "Your app is down again.",
    "",
    "",
    "Smooth installation, friendly staff.",
]


def generate(path: Path, events: int, customers: int, seed: int, alert_heavy: bool = False) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    unhappy = max(1, customers // 3)
    with path.open("w", encoding="utf-8") as out:
        for n in range(events):
            if alert_heavy:
                out.write(_heavy(rng, n, start, customers, unhappy) + "\n")
                continue
            kind = rng.choices(["survey", "complaint", "review"], weights=[80, 8, 12])[0]
            record = {
                "event_id": f"b{n:08d}",
                "kind": kind,
                "occurred_at": (start + timedelta(seconds=n * 7)).isoformat(),
                "customer": {
                    "id": f"C{rng.randrange(customers):07d}",
                    "name": "王芳",
                    "tier": rng.choices(["gold", "silver", "standard"], [5, 20, 75])[0],
                },
                "channel": rng.choice(["app", "wechat", "phone", "email"]),
                "touchpoint": rng.choice(["delivery", "billing", "app_login", "store_visit"]),
            }
            if kind == "survey":
                record["nps"] = rng.choices(
                    range(11), weights=[2, 1, 1, 2, 2, 3, 4, 8, 12, 30, 35]
                )[0]
                record["csat"] = rng.choices(range(1, 6), weights=[3, 4, 13, 35, 45])[0]
            elif kind == "review":
                record["csat"] = rng.choices(range(1, 6), weights=[6, 6, 13, 30, 45])[0]
            comment = rng.choice(COMMENTS)
            if comment:
                record["comment"] = comment
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _heavy(rng: random.Random, n: int, start: datetime, customers: int, unhappy: int) -> str:
    """One event of the alert-heavy feed: 55 % from the unhappy third, each alerting (a
    detractor's answer, a complaint or a low CSAT), the rest praise from the others."""
    alerting = rng.random() < 0.55
    customer = rng.randrange(unhappy) if alerting else rng.randrange(unhappy, customers)
    record: dict[str, object] = {
        "event_id": f"b{n:08d}",
        "occurred_at": (start + timedelta(seconds=n * 7)).isoformat(),
        "customer": {"id": f"C{customer:07d}", "name": "王芳", "tier": "standard"},
        "channel": rng.choice(["app", "wechat", "phone", "email"]),
        "touchpoint": rng.choice(["delivery", "billing", "app_login", "store_visit"]),
    }
    if alerting:
        kind = rng.choices(["survey", "complaint", "review"], weights=[60, 25, 15])[0]
        record["kind"] = kind
        if kind == "survey":
            record["nps"], record["csat"] = rng.randrange(0, 7), rng.randrange(1, 3)
        elif kind == "review":
            record["csat"] = rng.randrange(1, 3)
        record["comment"] = rng.choice(COMMENTS[:3] + COMMENTS[4:6])
    else:
        record["kind"] = "survey"
        record["nps"], record["csat"] = rng.randrange(9, 11), rng.randrange(4, 6)
    return json.dumps(record, ensure_ascii=False)


RAW_SCHEMA = """
CREATE TABLE feedback_events (
    event_id VARCHAR(128) PRIMARY KEY, kind VARCHAR(16) NOT NULL, occurred_at DATETIME NOT NULL,
    received_at DATETIME NOT NULL, customer_id VARCHAR(128) NOT NULL, channel VARCHAR(64),
    touchpoint VARCHAR(128), journey VARCHAR(128), nps INTEGER, csat INTEGER, ces INTEGER,
    comment TEXT, drivers JSON NOT NULL, ticket_id INTEGER, raw TEXT NOT NULL);
CREATE INDEX ix_feedback_customer_time ON feedback_events (customer_id, occurred_at);
CREATE INDEX ix_feedback_time ON feedback_events (occurred_at);
CREATE INDEX ix_feedback_events_ticket_id ON feedback_events (ticket_id);
"""


def raw_rate(feed: Path, workdir: Path, runs: int = 3) -> tuple[float, float]:
    """Rows per second of one executemany and commit, the median of `runs` fresh files; and
    the same with the feed's lines read and decoded (`json.loads`) included in the time."""
    started = time.perf_counter()
    rows = []
    for line in feed.open(encoding="utf-8"):
        r = json.loads(line)
        rows.append(
            (
                r["event_id"],
                r["kind"],
                r["occurred_at"],
                r["occurred_at"],
                r["customer"]["id"],
                r.get("channel"),
                r.get("touchpoint"),
                None,
                r.get("nps"),
                r.get("csat"),
                None,
                r.get("comment"),
                "[]",
                None,
                line,
            )
        )
    decoding = time.perf_counter() - started
    rates = []
    for run in range(runs):
        connection = sqlite3.connect(workdir / f"raw{run}.db")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(RAW_SCHEMA)
        started = time.perf_counter()
        connection.executemany(f"INSERT INTO feedback_events VALUES ({', '.join('?' * 15)})", rows)
        connection.commit()
        rates.append(time.perf_counter() - started)
        connection.close()
        _remove_database(workdir / f"raw{run}.db")
    inserting = statistics.median(rates)
    return len(rows) / inserting, len(rows) / (inserting + decoding)


def _remove_database(path: Path) -> None:
    """A measured database and its log, gone before the next measurement: a file's pages
    still being written back load the machine (raw's later rounds ran up to ~12 % slower)."""
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        (path.parent / name).unlink(missing_ok=True)


def raw_rate_in_fresh_process(feed: Path, workdir: Path) -> tuple[float, float]:
    command = [sys.executable, __file__, "--raw", str(feed), str(workdir)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    inserting, with_json = json.loads(out)
    return inserting, with_json


def timed_ingest(
    feed: Path,
    workdir: Path,
    settings: Settings,
    batch: int | None = None,
    url: str | None = None,
) -> tuple[float, IngestSummary, Database]:
    """Events per second of one ingest of `feed` into a fresh database (an SQLite file in
    `workdir`, or the empty database at `url`) under `settings`, in transactions of `batch`
    records (ingest's default without), its summary, and the database, still open for the
    caller to read and dispose."""
    # Imported here, not by the raw runs' process, which measures sqlite3 alone.
    from cxdesk.db import Database
    from cxdesk.workflow.access.org import sync_org
    from cxdesk.workflow.intake.feed import FeedSource
    from cxdesk.workflow.intake.ingest import Ingestor
    from cxdesk.workflow.ops.schema import upgrade_database

    db = Database.open(url or str(workdir / "cxdesk.db"), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, settings)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    started = time.perf_counter()
    sized = {} if batch is None else {"batch_size": batch}
    summary = Ingestor(db, settings, source=str(feed), clock=lambda: now, **sized).run_feed(
        FeedSource(str(feed))
    )
    return summary.read / (time.perf_counter() - started), summary, db


def ingest_rate(
    feed: Path, workdir: Path, batch: int | None = None, url: str | None = None
) -> tuple[float, dict]:
    """Events per second of one ingest into a fresh database (in `workdir`, or at `url`), and
    its summary."""
    from cxdesk.config import Settings

    rate, summary, db = timed_ingest(feed, workdir, Settings(), batch, url)
    db.dispose()
    return rate, summary.as_dict()


def ingest_in_fresh_process(
    feed: Path, workdir: Path, batch: int | None = None, url: str | None = None
) -> dict:
    command = [sys.executable, __file__, "--ingest", str(feed), str(workdir)]
    if batch is not None:
        command += ["--batch", str(batch)]
    env = None
    if url is not None:  # its audit key is kept with the round's files, not the user's
        command += ["--db", url]
        env = {**os.environ, "XDG_CONFIG_HOME": str(workdir)}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server `server` names, dropped
    when the block ends."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(server)
    name = f"cxdesk_ingest_bench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def run(
    events: int = 200_000,
    customers: int = 50_000,
    seed: int = 1,
    rounds: int = 3,
    alert_heavy: bool = False,
    postgres: str | None = None,
) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        feed = Path(tmp) / "feed.jsonl"
        generate(feed, events, customers, seed, alert_heavy)
        results = []
        for n in range(rounds):
            workdir = Path(tmp) / f"round{n}"
            workdir.mkdir()
            ingest = ingest_in_fresh_process(feed, workdir)
            _remove_database(workdir / "cxdesk.db")
            raw, raw_json = raw_rate_in_fresh_process(feed, workdir)
            results.append(
                {
                    **ingest,
                    "raw": raw,
                    "ratio": ingest["rate"] / raw,
                    "ratio_json": ingest["rate"] / raw_json,
                }
            )
            if postgres is not None:
                with scratch_postgres(postgres) as url:
                    pg = ingest_in_fresh_process(feed, workdir, url=url)
                ratio = pg["rate"] / ingest["rate"]
                results[-1] |= {"postgres": pg["rate"], "postgres_ratio": ratio}
    on_postgres = {}
    if postgres is not None:
        on_postgres = {
            "postgres_events_per_s": round(statistics.median(r["postgres"] for r in results)),
            "postgres_ratio": round(statistics.median(r["postgres_ratio"] for r in results), 3),
        }
    return {
        "events": events,
        "feed": "alert-heavy" if alert_heavy else "default",
        "ingest_events_per_s": round(statistics.median(r["rate"] for r in results)),
        "raw_sqlite_rows_per_s": round(statistics.median(r["raw"] for r in results)),
        "ratio": round(statistics.median(r["ratio"] for r in results), 3),
        "ratio_to_raw_with_json": round(statistics.median(r["ratio_json"] for r in results), 3),
        "rounds": [
            {
                "ingest": round(r["rate"]),
                "raw": round(r["raw"]),
                "ratio": round(r["ratio"], 3),
                "ratio_to_raw_with_json": round(r["ratio_json"], 3),
                **(
                    {
                        "postgres": round(r["postgres"]),
                        "postgres_ratio": round(r["postgres_ratio"], 3),
                    }
                    if "postgres" in r
                    else {}
                ),
            }
            for r in results
        ],
        **on_postgres,
        "ingest_peak_rss_mb": round(max(r["peak_rss_mb"] for r in results), 1),
        "summary": results[0]["summary"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="ingest and raw runs, in pairs")
    parser.add_argument("--alert-heavy", action="store_true", help="55 %% of the events alert")
    parser.add_argument("--raw", nargs=2, metavar=("FEED", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--ingest", nargs=2, metavar=("FEED", "DIR"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--postgres", metavar="URL", help="also ingest into a scratch database on this server"
    )
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)  # with --ingest
    parser.add_argument("--db", help=argparse.SUPPRESS)  # with --ingest: a PostgreSQL database
    args = parser.parse_args()
    if args.raw:  # the raw rate alone, for run()'s fresh process
        print(json.dumps(raw_rate(Path(args.raw[0]), Path(args.raw[1]))))
        return
    if args.ingest:  # one ingest alone, for run()'s fresh process
        rate, summary = ingest_rate(Path(args.ingest[0]), Path(args.ingest[1]), args.batch, args.db)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # to the ingest's end
        print(json.dumps({"rate": rate, "summary": summary, "peak_rss_mb": rss}))
        return
    result = run(
        args.events, args.customers, args.seed, args.rounds, args.alert_heavy, args.postgres
    )
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
