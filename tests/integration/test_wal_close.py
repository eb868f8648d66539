"""The write-ahead log is copied into the SQLite file and truncated when cxdesk lets go of
the database, even with a connection left open to the end; never while others read."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa

from cxdesk.db import Database
from cxdesk.db.checkpoint import truncate_log
from tests.conftest import DEMO_ADMIN, Run


def _wal(path: Path) -> int:
    log = Path(f"{path}-wal")
    return log.stat().st_size if log.exists() else 0


def _write(db: Database) -> None:
    with db.write() as session:
        session.execute(sa.text("UPDATE meta SET value = value WHERE key = 'demo'"))
        session.execute(sa.text("CREATE TABLE scratch (n INTEGER)"))
        session.execute(sa.text("INSERT INTO scratch VALUES (1), (2), (3)"))


def test_letting_go_truncates_the_log_though_a_connection_stays(demo_sqlite: Path) -> None:
    with closing(sqlite3.connect(demo_sqlite)) as lingering:  # a thread's, left open
        lingering.execute("SELECT count(*) FROM tickets").fetchone()
        db = Database.open(str(demo_sqlite))
        _write(db)
        assert _wal(demo_sqlite) > 0
        db.dispose()
        assert _wal(demo_sqlite) == 0
        assert lingering.execute("SELECT count(*) FROM scratch").fetchone() == (3,)


def test_a_reader_keeps_the_log_and_is_not_waited_for(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    _write(db)
    with closing(sqlite3.connect(demo_sqlite, isolation_level=None)) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM scratch").fetchone()  # a read snapshot held
        _write_more(db)
        db.dispose()
        assert _wal(demo_sqlite) > 0 and not truncate_log(demo_sqlite)
        reader.execute("COMMIT")
    assert truncate_log(demo_sqlite) and _wal(demo_sqlite) == 0


def _write_more(db: Database) -> None:
    with db.write() as session:
        session.execute(sa.text("INSERT INTO scratch VALUES (4)"))


def test_a_cli_command_leaves_no_log_behind(demo_sqlite: Path, run: Run) -> None:
    with closing(sqlite3.connect(demo_sqlite)) as lingering:
        lingering.execute("SELECT count(*) FROM tickets").fetchone()
        code, _, err = run(
            "--db", str(demo_sqlite), "--as", DEMO_ADMIN, "ticket", "note", "1", "--message", "hi"
        )
        assert code == 0, err
        assert _wal(demo_sqlite) == 0
