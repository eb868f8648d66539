"""The test databases handed back for the next test (tests/pg_copies.py): one is used again
only as the template's exact copy, whatever the test before did to it."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import PG_ADMIN_URL, pg_database_url
from tests.pg_copies import PgCopies


@pytest.fixture
def copies(pg_schema_template: str) -> Iterator[PgCopies]:
    pool = PgCopies(PG_ADMIN_URL)
    yield pool
    pool.close()


def _oid(name: str) -> int | None:
    """The database's own number, which a new name keeps and a new copy does not."""
    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as admin:
        row = admin.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return None if row is None else int(row[0])


def _connect(name: str) -> psycopg.Connection:
    return psycopg.connect(pg_database_url(name).replace("+psycopg", ""), autocommit=True)


def _state(name: str) -> tuple:
    """What a test could have changed: each table's rows, and where a sequence stands."""
    with _connect(name) as connection:
        tables = [
            t
            for (t,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        rows = {t: sorted(map(repr, connection.execute(f'SELECT * FROM "{t}"'))) for t in tables}
        ticket_id = connection.execute("SELECT nextval('tickets_id_seq')").fetchone()
    return rows, ticket_id


def test_rows_and_sequences_are_put_back(copies: PgCopies, pg_schema_template: str) -> None:
    first = copies.take(pg_schema_template)
    number = _oid(first)
    expected = _state(first)
    copies.give_back(first, pg_schema_template)  # the sequence _state moved is put back too
    again = copies.take(pg_schema_template)
    assert _oid(again) == number and again != first  # the same copy, under a new name
    with _connect(again) as connection:
        connection.execute("INSERT INTO meta (key, value) VALUES ('left', 'by the test before')")
        connection.execute("DELETE FROM alembic_version")
        connection.execute("SELECT nextval('tickets_id_seq') FROM generate_series(1, 5)")
    copies.give_back(again, pg_schema_template)
    third = copies.take(pg_schema_template)
    assert _oid(third) == number
    assert _state(third) == expected


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE tickets ADD COLUMN extra text",
        "CREATE INDEX ix_extra ON tickets (title)",
        "DROP INDEX ix_audit_ticket",
        "CREATE TABLE extra (id int)",
        "CREATE FUNCTION extra() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA extra",
        "ALTER TABLE tickets ALTER COLUMN title DROP NOT NULL",
        "ANALYZE tickets",  # statistics cxdesk reads, which cannot be put back
    ],
)
def test_a_changed_schema_or_statistics_is_dropped(
    copies: PgCopies, pg_schema_template: str, change: str
) -> None:
    name = copies.take(pg_schema_template)
    with _connect(name) as connection:
        connection.execute(change)
    number = _oid(name)
    copies.give_back(name, pg_schema_template)
    assert _oid(name) is None  # dropped
    assert _oid(copies.take(pg_schema_template)) != number


def test_a_session_left_open_is_ended_before_the_rows_are_put_back(
    copies: PgCopies, pg_schema_template: str
) -> None:
    name = copies.take(pg_schema_template)
    left_open = _connect(name)
    left_open.autocommit = False
    left_open.execute("INSERT INTO meta (key, value) VALUES ('held', 'x')")  # holds its lock
    copies.give_back(name, pg_schema_template)
    assert left_open.closed or left_open.broken or _gone(left_open)
    reused = copies.take(pg_schema_template)
    with _connect(reused) as connection:
        assert connection.execute("SELECT count(*) FROM meta WHERE key = 'held'").fetchone() == (0,)


def test_a_process_left_behind_cannot_reach_the_next_tests_copy(
    copies: PgCopies, pg_schema_template: str
) -> None:
    name = copies.take(pg_schema_template)
    copies.give_back(name, pg_schema_template)
    reused = copies.take(pg_schema_template)
    assert reused != name
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        _connect(name)


def _gone(connection: psycopg.Connection) -> bool:
    try:
        connection.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False
