"""Statements run on the driver's connection (a command's fixed ones, savepoints) do what
SQLAlchemy's would: a lost server connection is told as lost, and the desk goes on with a new
one; a savepoint rolled back undoes what was written in it alone."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from cxdesk.db import Database, first_on_driver, run_on_driver


def test_a_connection_lost_mid_statement_is_the_error_told(db: Database) -> None:
    """Not the rollback's "the connection is lost" after it, which hid why."""
    if db.is_sqlite:
        pytest.skip("a server's connection")
    with pytest.raises(sa.exc.OperationalError) as raised, db.write() as session:
        connection = session.connection()
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with db.engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid or 0)})")
            other.commit()
        first_on_driver(connection, "SELECT 1")
    assert raised.value.statement == "SELECT 1"
    assert raised.value.connection_invalidated
    with db.session() as session:
        assert session.execute(sa.text("SELECT 2")).scalar() == 2


def test_savepoints_run_on_the_driver_and_undo_what_they_held(db: Database) -> None:
    """A batch's steps each run in a savepoint (`Batch.attempt`): one rolled back leaves the
    rows written before it and in the steps beside it, and every statement is still told to
    SQLAlchemy's cursor events (query logging), none compiled by SQLAlchemy."""
    sent: list[str] = []
    compiled: list[Any] = []

    def told(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    def compiling(_conn: Any, clause: Any, *_: Any) -> None:
        compiled.append(clause)

    sa.event.listen(db.engine, "before_cursor_execute", told)
    sa.event.listen(db.engine, "before_execute", compiling)
    try:
        with db.write() as session:
            write = "INSERT INTO meta (key, value) VALUES ('{0}', '{0}')"
            run_on_driver(session.connection(), write.format("before"))
            # A savepoint begins where the session's connection is first asked for in it.
            with session.begin_nested():
                run_on_driver(session.connection(), write.format("kept"))
            with pytest.raises(RuntimeError), session.begin_nested():
                run_on_driver(session.connection(), write.format("undone"))
                raise RuntimeError("the step was refused")
            with session.begin_nested():
                run_on_driver(session.connection(), write.format("after"))
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", told)
        sa.event.remove(db.engine, "before_execute", compiling)
    with db.session() as session:
        keys = session.execute(sa.text("SELECT key FROM meta WHERE key = value")).scalars()
        assert set(keys) == {"before", "kept", "after"}
    savepoints = [s.split()[0] for s in sent if "SAVEPOINT" in s]
    assert savepoints == ["SAVEPOINT", "RELEASE", "SAVEPOINT", "ROLLBACK", "SAVEPOINT", "RELEASE"]
    assert compiled == []


def test_a_statement_failing_in_a_savepoint_leaves_the_transaction_usable(db: Database) -> None:
    """PostgreSQL aborts the whole transaction on an error until it is rolled back to the
    savepoint: rolled back on the driver, the rows before it still commit."""
    write = "INSERT INTO meta (key, value) VALUES ('{0}', 'x')"
    with db.write() as session:
        run_on_driver(session.connection(), write.format("kept"))
        with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
            run_on_driver(session.connection(), write.format("kept"))  # its key again
        run_on_driver(session.connection(), write.format("after"))
    with db.session() as session:
        keys = session.execute(sa.text("SELECT key FROM meta WHERE value = 'x'")).scalars()
        assert set(keys) == {"kept", "after"}
