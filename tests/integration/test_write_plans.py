"""Bulk writes through write plans store what SQLAlchemy's own executemany stores: the plans
read the order of bound values from SQLAlchemy's compiler and bind each value themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from cxdesk.db import COPY_MIN_ROWS, Database, insert_plan, insert_rows, update_rows
from cxdesk.db.write_plans import _bound_names
from cxdesk.models.base import UTCDateTime

METADATA = sa.MetaData()


def twin(name: str) -> sa.Table:
    return sa.Table(
        name,
        METADATA,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("note", sa.String(200)),
        sa.Column("score", sa.Float),
    )


PLANNED, PLAIN = twin("planned"), twin("plain")
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def sample_rows(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "at": (T0 + timedelta(minutes=n)).astimezone(UTC if n % 2 else None),
            "data": {"z": [n, None, "中文"], "a": {"nested": n % 3 == 0}},
            "note": None if n % 3 else f"note {n} 'quoted' \"twice\"",
            "score": None if n % 4 else n / 3,
        }
        for n in range(1, count + 1)
    ]


def stored(connection: sa.Connection, table: sa.Table) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, below SQLAlchemy's result processing."""
    text = f"SELECT id, CAST(at AS TEXT), CAST(data AS TEXT), note, score FROM {table.name}"
    return [tuple(row) for row in connection.exec_driver_sql(f"{text} ORDER BY id")]


@pytest.mark.parametrize("count", [COPY_MIN_ROWS - 1, COPY_MIN_ROWS * 3])
def test_rows_are_stored_as_sqlalchemy_stores_them(empty_db: Database, count: int) -> None:
    rows = sample_rows(count)
    changes = [
        {"id": row["id"], "note": f"changed {row['id']}", "data": [row["id"]]} for row in rows
    ]
    (key,) = PLAIN.primary_key.columns
    by_key = PLAIN.update().where(key == sa.bindparam("primary_key"))
    with empty_db.engine.begin() as connection:
        METADATA.create_all(connection)
        insert_rows(connection, PLANNED, rows)
        connection.execute(PLAIN.insert(), rows)
        assert stored(connection, PLANNED) == stored(connection, PLAIN)
        update_rows(connection, PLANNED, changes[::2])
        keyed = [{**row, "primary_key": row.pop("id")} for row in map(dict, changes[::2])]
        connection.execute(by_key, keyed)
        assert stored(connection, PLANNED) == stored(connection, PLAIN)
        METADATA.drop_all(connection)


def test_the_compiler_lists_the_bound_values_in_the_statements_order(
    empty_db: Database,
) -> None:
    dialect = empty_db.engine.dialect
    columns = ("note", "id", "data")
    plan = insert_plan(PLANNED, dialect, columns)
    assert sorted(plan.names) == sorted(columns)
    if plan.positional:  # SQLite: the values go by position, in the statement's order
        listed = plan.sql.split("(", 1)[1].split(")", 1)[0].replace('"', "")
        assert [name.strip() for name in listed.split(",")] == list(plan.names)


def test_a_compiler_without_the_list_is_a_clear_error() -> None:
    class Compiled:
        positional = True
        positiontup = None

    with pytest.raises(RuntimeError, match="no longer list their bound values"):
        _bound_names(Compiled())  # type: ignore[arg-type]
