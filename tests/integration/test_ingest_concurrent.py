"""Two `cxdesk ingest` runs at once, as separate processes, on feeds that share customers in
opposite orders: both finish, every event is stored, each customer is stored once and has
one open case, however their batches interleave.

On PostgreSQL the test makes the worst interleaving happen rather than hope for it: it holds
the customers table against writes until both runs wait on a lock, so without ingest's own
lock both would have read "no such customer" and both insert it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import engine_for

EVENTS = 2000  # one batch each
NOW = "2026-03-02T10:00:00+08:00"


def _feed(path: Path, prefix: str, reverse: bool) -> None:
    """EVENTS detractor answers (each opens or joins a case), one per customer N0…"""
    with path.open("w") as out:
        for i in range(EVENTS):
            customer = EVENTS - 1 - i if reverse else i
            event = {
                "event_id": f"{prefix}-{i}",
                "kind": "survey",
                "occurred_at": "2026-03-01T09:00:00+08:00",
                "customer": {"id": f"N{customer}"},
                "nps": 2,
            }
            out.write(json.dumps(event) + "\n")


def _cxdesk(db: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cxdesk", "--db", db, "--now", NOW, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CXDESK_DB": ""},
    )


@contextmanager
def _writes_held(db: str, waiters: int) -> Iterator[None]:
    """On PostgreSQL, keep the customers table from being written (reads go on) while the
    block starts the runs, and until `waiters` other sessions wait on a lock."""
    if not db.startswith("postgresql"):
        yield
        return
    engine = engine_for(db)
    waiting = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )
    with engine.connect() as holder, holder.begin():
        holder.execute(sa.text("LOCK TABLE customers IN EXCLUSIVE MODE"))
        yield
        deadline = time.monotonic() + 120
        # Asked afresh each time: a transaction sees the activity view as it first read it.
        while _scalar(engine, waiting) < waiters:
            assert time.monotonic() < deadline, "the runs never reached their writes"
            time.sleep(0.1)
    engine.dispose()


def _scalar(engine: sa.Engine, query: sa.TextClause) -> int:
    with engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_two_runs_sharing_customers_both_finish(new_db: str, tmp_path: Path) -> None:
    init = _cxdesk(new_db, "init")
    assert init.wait(timeout=120) == 0, init.stderr and init.stderr.read()
    feeds = [tmp_path / "x1.jsonl", tmp_path / "x2.jsonl"]
    _feed(feeds[0], "x", reverse=False)
    _feed(feeds[1], "y", reverse=True)
    with _writes_held(new_db, waiters=len(feeds)):
        runs = [_cxdesk(new_db, "ingest", "run", str(feed), "--format", "json") for feed in feeds]
    for process in runs:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        summary = json.loads(out)
        assert summary["read"] == summary["accepted"] == EVENTS
    engine = engine_for(new_db)
    with engine.connect() as connection:

        def count(sql: str) -> int:
            return connection.execute(sa.text(sql)).scalar_one()

        assert count("SELECT count(*) FROM feedback_events") == 2 * EVENTS
        assert count("SELECT count(*) FROM customers") == EVENTS
        assert count("SELECT count(*) FROM tickets WHERE kind = 'case'") == EVENTS
        assert count("SELECT count(DISTINCT customer_id) FROM tickets") == EVENTS
    engine.dispose()
