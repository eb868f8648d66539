"""A bulk run's write units, from any thread, take one SQLite connection in turn: what each
commits is stored, the connection follows itself from unit to unit (so ingest may trust what
it remembers), a unit that cannot have its turn is refused before it does anything, and
nothing a unit leaves behind (a transaction, a replaced connection) outlasts it."""

from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.db import Database, WriteStamp, write_stamp
from cxdesk.db.bulk_writer import BulkWriter
from cxdesk.errors import DatabaseError
from cxdesk.workflow.ops.schema import upgrade_database


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database.open(str(tmp_path / "bulk.db"), must_exist=False)
    upgrade_database(database)
    with database.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, who TEXT)"))
    yield database
    database.dispose()


def _stored(db: Database) -> list[tuple[int, str]]:
    with db.session() as session:
        rows = session.execute(sa.text("SELECT n, who FROM filler ORDER BY n"))
        return [(n, who) for n, who in rows]


def test_units_from_many_threads_are_each_committed_on_one_connection(db: Database) -> None:
    seen: set[int] = set()
    failures: list[BaseException] = []

    def write(tag: int) -> None:
        try:
            for n in range(20):
                with db.write() as session:
                    seen.add(id(session.connection().connection.dbapi_connection))
                    session.execute(
                        sa.text("INSERT INTO filler (n, who) VALUES (:n, :who)"),
                        {"n": tag * 100 + n, "who": f"t{tag}"},
                    )
        except BaseException as exc:  # told below, in the test's thread
            failures.append(exc)

    with db.bulk_writes():
        threads = [threading.Thread(target=write, args=(tag,)) for tag in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures
    assert len(seen) == 1
    assert len(_stored(db)) == 80


def test_a_unit_that_raises_leaves_nothing_and_the_next_one_commits(db: Database) -> None:
    with db.bulk_writes():
        with pytest.raises(RuntimeError), db.write() as session:
            session.execute(sa.text("INSERT INTO filler (n, who) VALUES (1, 'lost')"))
            raise RuntimeError("refused")
        with db.write() as session:
            session.execute(sa.text("INSERT INTO filler (n, who) VALUES (2, 'kept')"))
    assert _stored(db) == [(2, "kept")]


def test_the_connection_follows_itself_until_someone_else_writes(db: Database) -> None:
    """Ingest trusts what it remembers only while its unit follows its last one: the same
    connection, no unit of this process in between, no other connection's commit."""

    def stamp() -> WriteStamp | None:
        with db.write() as session:
            return write_stamp(session.connection())

    with db.bulk_writes():
        first = stamp()
        second = stamp()
        assert second.follows(first)
        third = stamp()  # another unit of this process came between second and fourth
        fourth = stamp()
        assert not fourth.follows(second) and fourth.follows(third)
        other = Database.open(db.url)
        try:
            with other.engine.begin() as connection:
                connection.exec_driver_sql("INSERT INTO filler (n, who) VALUES (9, 'other')")
        finally:
            other.engine.dispose()
        assert not stamp().follows(fourth)


def test_a_unit_waiting_past_its_limit_is_refused_naming_the_database(db: Database) -> None:
    writer = BulkWriter(db.engine, "the-desk.db", setup=lambda _connection: None)
    try:
        with writer.turn(1.0):
            refused: list[BaseException] = []

            def wait() -> None:
                try:
                    with writer.turn(0.05):
                        pass
                except DatabaseError as exc:
                    refused.append(exc)

            waiting = threading.Thread(target=wait)
            waiting.start()
            waiting.join(timeout=10)
        assert len(refused) == 1
        assert "the-desk.db" in str(refused[0]) and "nothing was changed" in str(refused[0])
    finally:
        writer.close()


def test_a_connection_kept_past_its_unit_and_used_again_wedges_nothing(db: Database) -> None:
    """What it began outside any unit is rolled back by the next unit, which a session would
    otherwise have joined, committing nothing."""
    with db.bulk_writes():
        with db.write() as session:
            kept = session.connection()
        kept.exec_driver_sql("INSERT INTO filler (n, who) VALUES (1, 'outside')")
        for n in (2, 3):
            with db.write() as session:
                session.execute(
                    sa.text("INSERT INTO filler (n, who) VALUES (:n, 'unit')"), {"n": n}
                )
    assert _stored(db) == [(2, "unit"), (3, "unit")]


def test_a_refused_commit_leaves_no_write_lock_behind(db: Database) -> None:
    """SQLite keeps the transaction open when COMMIT fails (a deferred constraint); idle on
    the bulk writer's connection it would lock every other process out."""
    with db.write() as session:
        session.execute(sa.text("CREATE TABLE parent (n INTEGER PRIMARY KEY)"))
        session.execute(
            sa.text(
                "CREATE TABLE child (n INTEGER PRIMARY KEY, p INTEGER "
                "REFERENCES parent(n) DEFERRABLE INITIALLY DEFERRED)"
            )
        )
    with db.bulk_writes():
        with pytest.raises(sa.exc.IntegrityError), db.write() as session:
            session.execute(sa.text("INSERT INTO child VALUES (1, 99)"))  # refused at COMMIT
        with closing(sqlite3.connect(db.engine.url.database or "", timeout=0.5)) as other:
            other.execute("INSERT INTO filler VALUES (1, 'other process')")
            other.commit()
        with db.write() as session:
            session.execute(sa.text("INSERT INTO filler VALUES (2, 'next unit')"))
    assert _stored(db) == [(1, "other process"), (2, "next unit")]


def test_a_connection_replaced_midway_is_set_up_for_bulk_writing_again(db: Database) -> None:
    """An interrupted statement invalidates the connection; the next unit's, a new one,
    still leaves checkpoints to the run's thread."""
    with db.bulk_writes():
        with pytest.raises(KeyboardInterrupt), db.write() as session:
            session.connection().invalidate()
            raise KeyboardInterrupt
        with db.write() as session:
            connection = session.connection()
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            connection.exec_driver_sql("INSERT INTO filler VALUES (1, 'after')")
    assert _stored(db) == [(1, "after")]


def test_a_write_inside_a_write_of_the_same_thread_is_refused_at_once(db: Database) -> None:
    """Refused as nested, not after waiting for its turn (which says another write had it)."""
    with (
        db.bulk_writes(),
        db.write(),
        pytest.raises(DatabaseError, match="inside another write"),
        db.write(),
    ):
        pass


def test_after_the_run_the_connection_goes_back_with_checkpoints_at_commit(
    db: Database,
) -> None:
    with db.bulk_writes(), db.write() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    with db.engine.connect() as first, db.engine.connect() as second:  # the pool's two
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_a_unit_that_waited_out_another_process_s_lock_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first BEGIN gives up after the busy timeout and the unit tries again on the same
    connection: the retry must begin a transaction of its own, not join a failed one."""
    import cxdesk.db.engine as engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 100)
    database = Database.open(str(tmp_path / "held.db"), must_exist=False)
    upgrade_database(database)
    with database.write() as session:
        session.execute(sa.text("CREATE TABLE filler (n INTEGER PRIMARY KEY, who TEXT)"))
    held = threading.Event()

    def hold() -> None:
        with closing(sqlite3.connect(database.engine.url.database or "")) as other:
            other.execute("BEGIN IMMEDIATE")
            held.set()
            time.sleep(0.6)  # past several busy timeouts
            other.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        with database.bulk_writes(), database.write() as session:
            session.execute(sa.text("INSERT INTO filler (n, who) VALUES (1, 'after the wait')"))
        holder.join(5)
        assert _stored(database) == [(1, "after the wait")]
    finally:
        database.dispose()
