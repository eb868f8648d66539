"""Statements run on the driver's connection (a command's fixed ones) fail as SQLAlchemy's
would: a lost server connection is told as lost, and the desk goes on with a new one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cxdesk.db import Database, first_on_driver


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
