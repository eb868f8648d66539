"""A bulk run's footprint stays bounded however long it runs: the write-ahead log is started
over once it outgrows its limit, and looking up a batch's keys leaves no garbage that only
the cycle collector (which ingest runs rarely) would free."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

import cxdesk.db.checkpoint as checkpoint
import cxdesk.db.engine as engine
from cxdesk.db import Database
from cxdesk.workflow.intake.batch_reads import known_event_ids
from cxdesk.workflow.ops.schema import upgrade_database

ROWS_A_COMMIT = 400  # about 40 pages of log each, with the padding below
COMMITS = 60
PAGE = 4096  # SQLite's default page size, the test databases'


def _log_size(path: Path) -> int:
    log = Path(f"{path}-wal")
    return log.stat().st_size if log.exists() else 0


def _limit_log(monkeypatch: pytest.MonkeyPatch, frames: int) -> None:
    """A log limit of `frames` pages, its file cut back to as much."""
    monkeypatch.setattr(checkpoint, "LOG_LIMIT_FRAMES", frames)
    monkeypatch.setattr(engine, "LOG_FILE_LIMIT_BYTES", frames * PAGE)


def _new_db(path: Path) -> Database:
    """A database at the head schema with a table to fill."""
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, pad TEXT)"))
    return db


def _commit_filler(db: Database, first: int, rows: int) -> None:
    """One transaction of `rows` rows of about 300 bytes, numbered from `first`."""
    with db.write() as session:
        session.execute(
            sa.text("INSERT INTO filler (n, pad) VALUES (:n, :pad)"),
            [{"n": first + row, "pad": "x" * 300} for row in range(rows)],
        )


def _bulk_run(db: Database) -> int:
    """Commit `COMMITS` transactions back to back inside `bulk_writes`, as ingest does; the
    log's largest size along the way."""
    largest = 0
    path = Path(db.engine.url.database or "")
    with db.bulk_writes():
        for commit in range(COMMITS):
            _commit_filler(db, commit * ROWS_A_COMMIT, ROWS_A_COMMIT)
            largest = max(largest, _log_size(path))
    return largest


def test_a_bulk_run_starts_the_log_over_once_it_outgrows_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit_log(monkeypatch, 200)
    db = _new_db(tmp_path / "bulk.db")
    try:
        largest = _bulk_run(db)
        written = COMMITS * ROWS_A_COMMIT * 300
        # Started over, the log never holds more than its limit and about a commit; kept
        # growing, it would hold everything the run wrote.
        assert largest < written / 3
        with db.session() as session:
            assert session.execute(sa.text("SELECT count(*) FROM filler")).scalar_one() == (
                COMMITS * ROWS_A_COMMIT
            )
    finally:
        db.dispose()


def test_a_reader_holding_an_old_snapshot_does_not_stall_a_bulk_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log cannot be started over under a reader's snapshot: the run waits for the
    reader a bounded time once per limit's worth of log, and finishes with every row."""
    import sqlite3
    from contextlib import closing

    monkeypatch.setattr(checkpoint, "LOG_LIMIT_FRAMES", 200)
    monkeypatch.setattr(checkpoint, "RESTART_WAIT_S", 0.05)
    path = tmp_path / "held.db"
    db = _new_db(path)
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as reader:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM tickets").fetchone()
            _bulk_run(db)
            reader.execute("COMMIT")
        with db.session() as session:
            assert session.execute(sa.text("SELECT count(*) FROM filler")).scalar_one() == (
                COMMITS * ROWS_A_COMMIT
            )
    finally:
        db.dispose()


def test_looking_up_a_batch_of_keys_leaves_no_reference_cycles(db: Database) -> None:
    keys = [f"EV-{n}" for n in range(1_000)]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        with db.session() as session:
            connection = session.connection()
            for _ in range(5):
                assert known_event_ids(connection, keys) == set()
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()


def test_commits_bigger_than_the_limit_keep_the_log_near_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each commit here writes ~30 pages, more than the limit of 20 (as `ingest --batch` of
    tens of thousands of events can): the log is started over after every one, and never
    holds more than the limit and a few commits."""
    limit, rows, commits = 20, 400, 80
    _limit_log(monkeypatch, limit)
    path = tmp_path / "big-commits.db"
    db = _new_db(path)
    try:
        sizes = []
        with db.bulk_writes():
            for commit in range(commits):
                _commit_filler(db, commit * rows, rows)
                sizes.append(_log_size(path) // PAGE)
        assert max(sizes) < limit + 8 * (rows * 300 // PAGE), sizes
    finally:
        db.dispose()


def test_two_bulk_writers_on_one_file_keep_the_log_near_its_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two bulk runs at once (two `cxdesk ingest`, or `serve` and an ingest): each sees the
    log's file outgrow the limit when it does, whoever wrote it, and the RESTART holds the
    other writer off until the log is copied whole."""
    limit, rows, commits = 50, 100, 300
    _limit_log(monkeypatch, limit)
    path = tmp_path / "two-writers.db"
    first = _new_db(path)
    first.dispose()
    sizes: list[int] = []
    failures: list[BaseException] = []

    def run(tag: int) -> None:
        db = Database.open(str(path))
        try:
            with db.bulk_writes():
                for commit in range(commits):
                    _commit_filler(db, (tag * commits + commit) * rows, rows)
                    sizes.append(_log_size(path) // PAGE)
        except BaseException as exc:  # told below, in the test's thread
            failures.append(exc)
        finally:
            db.engine.dispose()

    writers = [threading.Thread(target=run, args=(tag,)) for tag in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert not failures
    with first.session() as session:
        stored = session.execute(sa.text("SELECT count(*) FROM filler")).scalar_one()
    assert stored == 2 * commits * rows
    first.dispose()
    # Written in all: ~2,100 pages. Kept near its limit, the log holds a few hundred at most.
    assert max(sizes) < 10 * limit, max(sizes)


def test_a_run_stopped_as_it_starts_ends_its_thread_without_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stop` interrupts what the thread runs; ended at once (a bulk run refused at its first
    unit), that was the thread's first statement, whose error reached the terminal as an
    unhandled exception in a thread. The interruption is made to strike there."""
    import sqlite3
    from functools import partial

    db = _new_db(tmp_path / "stopped.db")
    db.dispose()
    running: list[checkpoint.Checkpointer] = []
    registered = threading.Event()

    class StoppedAsItStarts(sqlite3.Connection):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
            if sql == "PRAGMA page_size":
                registered.wait(5)
                running[0]._stopping = True  # as `stop` sets it before interrupting
                raise sqlite3.OperationalError("interrupted")
            return super().execute(sql, *args)

    errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: errors.append(args.exc_value))
    monkeypatch.setattr(
        checkpoint.sqlite3, "connect", partial(sqlite3.connect, factory=StoppedAsItStarts)
    )
    keeper = checkpoint.Checkpointer(tmp_path / "stopped.db")
    running.append(keeper)
    registered.set()
    keeper.stop()
    assert errors == []
