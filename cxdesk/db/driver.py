"""Statements run on the DB-API connection inside SQLAlchemy's transaction, for the few fixed
statements every command runs (its BEGIN, the audit chain's end, its single-row inserts and
updates): SQLAlchemy's handling of one statement costs ten times what the driver's does
(36 against 3.5 µs for the chain's end on SQLite), and a command runs half a dozen.

Errors are raised as SQLAlchemy raises them (`IntegrityError`, `OperationalError`, ...,
with the driver's error as `orig`), which is what callers and the command line catch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@contextmanager
def driver_errors(connection: Connection, statement: str, parameters: Any = None) -> Iterator[Any]:
    """The DB-API connection under `connection`; a driver error raised in the block is raised
    again as SQLAlchemy's own for `statement`. A lost connection is invalidated, as SQLAlchemy
    does, so that the pool drops it and the rollback after it does not fail in its turn (and
    take the error's place)."""
    dialect = connection.dialect
    dbapi_error = dialect.loaded_dbapi.Error
    driver = connection.connection.driver_connection
    try:
        yield driver
    except dbapi_error as exc:
        lost = dialect.is_disconnect(exc, driver, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            statement, parameters, exc, dbapi_error, connection_invalidated=lost, dialect=dialect
        ) from exc


def run_on_driver(connection: Connection, statement: str, rows: Sequence[Any] = ((),)) -> None:
    """Run `statement` once for each of `rows` (parameters in the driver's own style)."""
    with driver_errors(connection, statement, rows) as driver:
        cursor = driver.cursor()
        try:
            many = len(rows) != 1
            parameters = rows if many else rows[0]
            _told(connection, "before_cursor_execute", cursor, statement, parameters, many)
            if many:
                cursor.executemany(statement, rows)
            else:
                cursor.execute(statement, parameters)
            _told(connection, "after_cursor_execute", cursor, statement, parameters, many)
        finally:
            cursor.close()


def copy_on_driver(connection: Connection, statement: str, rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: `statement` (a COPY ... FROM STDIN) fed `rows`, inside the transaction."""
    with (
        driver_errors(connection, statement) as driver,
        driver.cursor() as cursor,
        cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def rows_on_driver(connection: Connection, statement: str, parameters: Any) -> list[Any]:
    """The rows `statement` gives for `parameters` (in the driver's own style)."""
    with driver_errors(connection, statement, parameters) as driver:
        cursor = driver.cursor()
        try:
            _told(connection, "before_cursor_execute", cursor, statement, parameters, False)
            cursor.execute(statement, parameters)
            rows = cursor.fetchall()
            _told(connection, "after_cursor_execute", cursor, statement, parameters, False)
        finally:
            cursor.close()
    return rows  # type: ignore[no-any-return]


def first_on_driver(connection: Connection, statement: str) -> Any:
    """The first column of the first row `statement` (without parameters) gives, or None."""
    rows = rows_on_driver(connection, statement, ())
    return rows[0][0] if rows else None


def _told(
    connection: Connection, name: str, cursor: Any, statement: str, parameters: Any, many: bool
) -> None:
    """SQLAlchemy's cursor events, as it would fire them (without an execution context), so
    that what listens for the statements sent (logging, tracing, tests) sees these too."""
    listeners = getattr(connection.dispatch, name)
    if listeners:  # most of the time none: not called at all
        listeners(connection, cursor, statement, parameters, None, many)
