"""The write-ahead log of a bulk run stays near its limit in the runs the limit was meant for
too: transactions bigger than the limit (`ingest --batch` of tens of thousands of events),
and two bulk writers on one file at once (two ingests, or a server and an ingest)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

import cxdesk.db.checkpoint as checkpoint
import cxdesk.db.engine as engine
from cxdesk.db import Database
from cxdesk.workflow.ops.schema import upgrade_database

PAGE = 4096


def _log_pages(path: Path) -> int:
    log = Path(f"{path}-wal")
    return log.stat().st_size // PAGE if log.exists() else 0


def _new_db(path: Path) -> Database:
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, pad TEXT)"))
    return db


def _commit_rows(db: Database, first: int, rows: int) -> None:
    with db.write() as session:
        session.execute(
            sa.text("INSERT INTO filler (n, pad) VALUES (:n, :pad)"),
            [{"n": first + row, "pad": "x" * 300} for row in range(rows)],
        )


def test_commits_bigger_than_the_limit_do_not_raise_it_for_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each commit here writes ~30 pages, more than the limit of 20: the log is started
    over after every one, and never holds more than the limit and a few commits."""
    limit, rows, commits = 20, 400, 80
    monkeypatch.setattr(checkpoint, "LOG_LIMIT_FRAMES", limit)
    monkeypatch.setattr(engine, "LOG_FILE_LIMIT_BYTES", limit * PAGE)
    path = tmp_path / "big-commits.db"
    db = _new_db(path)
    try:
        sizes = []
        with db.bulk_writes():
            for commit in range(commits):
                _commit_rows(db, commit * rows, rows)
                sizes.append(_log_pages(path))
        a_commit = rows * 300 // PAGE
        # Started over each time it passes the limit, the log holds the limit and a few
        # commits at most (its first round here peaks at ~150-200 pages).
        assert max(sizes) < limit + 8 * a_commit, sizes
    finally:
        db.dispose()


def test_two_bulk_writers_on_one_file_keep_the_log_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bulk runs at once (two `cxdesk ingest`, or `serve` and an ingest): the other
    writer commits while one waits for its checkpoint, so only a checkpoint that holds
    writers off until the log is copied whole lets the next write start it over."""
    limit, rows, commits = 50, 100, 300
    monkeypatch.setattr(checkpoint, "LOG_LIMIT_FRAMES", limit)
    monkeypatch.setattr(engine, "LOG_FILE_LIMIT_BYTES", limit * PAGE)
    path = tmp_path / "two-writers.db"
    _new_db(path).dispose()
    sizes: list[int] = []
    failures: list[BaseException] = []

    def run(tag: int) -> None:
        db = Database.open(str(path))
        try:
            with db.bulk_writes():
                for commit in range(commits):
                    _commit_rows(db, (tag * commits + commit) * rows, rows)
                    sizes.append(_log_pages(path))
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)
        finally:
            db.engine.dispose()

    writers = [threading.Thread(target=run, args=(tag,)) for tag in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert not failures
    check = Database.open(str(path))
    try:
        with check.session() as session:
            stored = session.execute(sa.text("SELECT count(*) FROM filler")).scalar_one()
        assert stored == 2 * commits * rows
    finally:
        check.dispose()
    # Written in all: ~2,100 pages. Kept near its limit, the log holds a few hundred at most.
    assert max(sizes) < 10 * limit, max(sizes)
