"""A process's small write units have the write-ahead log copied into the SQLite file by a
thread of their own, every `COMMITS_PER_CHECKPOINT` commits, instead of by whichever commit
fills SQLite's 1,000 pages; the thread ends when the database is let go or forked."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.db import Database
from cxdesk.db.checkpoint import COMMITS_PER_CHECKPOINT
from cxdesk.workflow.ops.schema import upgrade_database

ROW_BYTES = 50_000  # a unit writes a dozen pages: the log stays far below SQLite's checkpoint


def _checkpoint_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "wal-checkpoint" and t.is_alive()}


@pytest.fixture
def db(tmp_path: Path) -> Database:
    db = Database.open(str(tmp_path / "units.db"), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, body BLOB)"))
    db.dispose()  # the file holds it all, the log is empty
    return db


def _units(db: Database, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        with db.write() as session:
            session.execute(
                sa.text("INSERT INTO filler VALUES (:n, randomblob(:size))"),
                {"n": n, "size": ROW_BYTES},
            )


def _file_size(db: Database) -> int:
    return Path(db.engine.url.database or "").stat().st_size


def test_the_log_is_copied_off_the_committing_thread_every_few_units(db: Database) -> None:
    before, size = _checkpoint_threads(), _file_size(db)
    _units(db, COMMITS_PER_CHECKPOINT - 1)
    assert _checkpoint_threads() == before  # none yet, and nothing copied
    assert _file_size(db) == size
    _units(db, 1, first=COMMITS_PER_CHECKPOINT - 1)
    [thread] = _checkpoint_threads() - before
    written = COMMITS_PER_CHECKPOINT * ROW_BYTES
    deadline = time.monotonic() + 30
    while _file_size(db) < size + written:  # copied into the file by the thread
        assert time.monotonic() < deadline, "the log was not copied into the file"
        time.sleep(0.05)
    db.dispose()
    assert not thread.is_alive()
    with db.session() as session:
        stored = session.execute(sa.text("SELECT count(*) FROM filler")).scalar()
    assert stored == COMMITS_PER_CHECKPOINT


def test_the_thread_ends_before_a_fork_and_starts_again_after(db: Database) -> None:
    before = _checkpoint_threads()
    _units(db, COMMITS_PER_CHECKPOINT)
    [thread] = _checkpoint_threads() - before
    db.close_for_fork()
    assert not thread.is_alive()
    _units(db, COMMITS_PER_CHECKPOINT, first=COMMITS_PER_CHECKPOINT)
    [again] = _checkpoint_threads() - before
    assert again is not thread
    db.dispose()
    assert not again.is_alive()


def test_a_database_let_go_of_unclosed_ends_its_thread(tmp_path: Path) -> None:
    """A script's or a test's Database dropped without `dispose`: its thread and the thread's
    connection (which would keep the log's files) end with it."""
    db = Database.open(str(tmp_path / "dropped.db"), must_exist=False)
    upgrade_database(db)
    before = _checkpoint_threads()
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, body BLOB)"))
    _units(db, COMMITS_PER_CHECKPOINT)
    [thread] = _checkpoint_threads() - before
    del db, session
    gc.collect()
    assert not thread.is_alive()
