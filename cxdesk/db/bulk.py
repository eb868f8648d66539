"""Writing and looking up rows by the tens of thousands, as ingest and `db copy` do."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Dialect,
    Engine,
    Table,
    bindparam,
    func,
    literal_column,
    select,
)

from cxdesk.db.engine import json_text
from cxdesk.db.write_plans import insert_plan, update_plan

FEW_KEYS = 32  # up to this many keys, `one_of` is an IN list on SQLite


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one shape with the driver's executemany (a COPY on PostgreSQL).

    Each column's bind processor (UTC datetimes, JSON) is looked up once and applied in one
    tight loop, skipping SQLAlchemy's per-row parameter handling (see `write_plans`).
    """
    if not rows:
        return
    plan = insert_plan(table, connection.dialect, tuple(rows[0]))
    plan.execute(connection, [plan.bind(list(plan.values_of(row))) for row in rows])


def update_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update many rows, each found by its primary key, with the driver's executemany, the way
    `insert_rows` inserts them: every row sets the other columns the first one names."""
    if not rows:
        return
    plan = update_plan(table, connection.dialect, tuple(rows[0]))
    plan.execute(connection, [plan.bind(list(plan.values_of(row))) for row in rows])


def one_of(column: Any, keys: list[Any], dialect: Dialect) -> ColumnElement[bool]:
    """`column IN keys` with all the keys in one bound value: a JSON array on SQLite, an
    array on PostgreSQL. Ingest looks up a batch's tens of thousands of keys at once; as
    chunks of an IN list, SQLAlchemy's building and binding of each cost more than the
    database's search. A few keys (one event's, in the demo's replay) are a plain IN list on
    SQLite: the JSON array's statement is built anew each time, costing more than the search."""
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY  # here: SQLite loads no PostgreSQL

        # `func.any`, which PostgreSQL reads as `= ANY (…)`: `any_()` makes reference cycles.
        return column == func.any(bindparam(None, keys, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    if len(keys) <= FEW_KEYS:  # a statement whose compiled form is kept and used again
        return column.in_(keys)  # type: ignore[no-any-return]
    # Not `func.json_each(…).table_valued(…)`, whose column collections form reference
    # cycles: they held every batch's keys until the collector ran, which ingest does rarely.
    keys_json = func.json_each(bindparam(None, json_text(keys)))
    return column.in_(select(literal_column("value")).select_from(keys_json))  # type: ignore[no-any-return]


class Growth:
    """Told how many rows a bulk run added, ANALYZEs the tables on PostgreSQL each time the
    run has doubled them since their statistics were taken.

    Without statistics (a new database, where autovacuum analyzes a minute later at the
    earliest) PostgreSQL plans a batch's look-up of hundreds of keys as a scan of the whole
    table, so every batch would read the growing tables again.
    """

    def __init__(self, engine: Engine, tables: tuple[Table, ...]) -> None:
        self.engine = engine
        self.tables = tables if engine.dialect.name == "postgresql" else ()
        self.rows = self._estimated_rows() if self.tables else 0
        self.added = 0

    def grew(self, rows: int) -> None:
        if not self.tables:
            return
        self.added += rows
        if self.added >= self.rows:
            with self.engine.connect() as connection:
                names = ", ".join(table.name for table in self.tables)
                connection.exec_driver_sql(f"ANALYZE {names}")
                connection.commit()
            self.rows += self.added
            self.added = 0

    def _estimated_rows(self) -> int:
        with self.engine.connect() as connection:
            estimate = connection.exec_driver_sql(
                "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%(name)s)",
                {"name": self.tables[0].name},
            ).scalar()
        return max(int(estimate or 0), 0)  # -1: never analyzed
