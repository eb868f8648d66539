"""Writing and looking up rows by the tens of thousands, as ingest and `db copy` do."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Executable,
    Result,
    Table,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.orm import Session

from cxdesk.db.engine import json_text
from cxdesk.db.read_plans import DriverRead
from cxdesk.db.write_plans import WritePlan, adding_plan, insert_plan, update_plan

FEW_KEYS = 32  # up to this many keys, a `KeyedQuery` is an IN list on SQLite


def insert_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of one shape with the driver's executemany (a COPY on PostgreSQL).

    Each column's bind processor (UTC datetimes, JSON) is looked up once and applied in one
    tight loop, skipping SQLAlchemy's per-row parameter handling (see `write_plans`).
    """
    if not rows:
        return
    _write(connection, insert_plan(table, connection.dialect, tuple(rows[0])), rows)


def add_rows(
    connection: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    keys: tuple[str, ...],
    counters: tuple[str, ...],
) -> None:
    """Insert many rows of one shape, each adding its `counters` to those of the row with
    the same `keys` where there is one, with the driver's executemany, in their order."""
    if rows:
        plan = adding_plan(table, connection.dialect, tuple(rows[0]), keys, counters)
        _write(connection, plan, rows)


def _write(connection: Connection, plan: WritePlan, rows: list[dict[str, Any]]) -> None:
    plan.execute(connection, [plan.bind(list(plan.values_of(row))) for row in rows])


def update_rows(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update many rows, each found by its primary key, with the driver's executemany, the way
    `insert_rows` inserts them: every row sets the other columns the first one names."""
    if not rows:
        return
    _write(connection, update_plan(table, connection.dialect, tuple(rows[0])), rows)


KEYS = "keys"  # the bound parameter a `KeyedQuery` hands its keys in


class KeyedQuery:
    """A statement over the rows whose `column` is one of many keys, built once for each
    dialect and size of key list and run again with new keys: building a statement and its
    cache key cost SQLAlchemy four times what running it does, which one event's lookups
    (the demo's replay, a server's small requests, each command) paid every time.

    The keys go in one bound value on PostgreSQL (an array) and, past a few, on SQLite (a
    JSON array): ingest looks up a batch's tens of thousands at once, and as chunks of an
    IN list SQLAlchemy's binding of each would cost more than the database's search. A few
    keys are a plain IN list on SQLite, where the JSON array costs more than the search.
    SQLite's JSON functions end a text at a NUL, so past a few keys none may hold one (every
    caller's are numbers or cleaned ids)."""

    def __init__(self, column: Any, build: Callable[[ColumnElement[bool]], Executable]) -> None:
        """`build` makes the statement from the condition on `column`; its other bound
        values are given to `execute` by name."""
        self.column = column
        self.build = build
        self._built: dict[tuple[str, bool], Executable] = {}
        self._reads: dict[tuple[str, int], DriverRead] = {}

    def execute(
        self, runner: Connection | Session, keys: Iterable[Any], **values: Any
    ) -> Result[*tuple[Any, ...]]:
        """The statement run for `keys` (each once: duplicates are dropped) on a connection,
        or through an ORM session, which flushes what it holds first; objects it holds that
        an update changed are the caller's to expire."""
        unique = list(set(keys))
        dialect = runner.dialect if isinstance(runner, Connection) else runner.get_bind().dialect
        form = (dialect.name, len(unique) > FEW_KEYS)
        statement = self._built.get(form)
        if statement is None:
            statement = self._built[form] = self.build(self._one_of(*form))
        bound = _bound(dialect.name, unique) if form[1] else unique  # few: an IN list
        return runner.execute(statement, {KEYS: bound, **values})

    def rows(self, connection: Connection, keys: Iterable[Any], **values: Any) -> list[Any]:
        """`execute`'s rows, for a SELECT, read on the driver (`DriverRead`): a batch of one
        event (a server's request, the demo's replay) asks four of these, where SQLAlchemy's
        handling of each cost more than the database's search. A few keys on SQLite are an
        IN list of as many bound values, compiled for each number of them."""
        unique = list(set(keys))
        if not unique:
            return []  # one of no keys: none
        dialect = connection.dialect.name
        few = dialect == "sqlite" and len(unique) <= FEW_KEYS
        form = (dialect, len(unique) if few else -1)
        read = self._reads.get(form)
        if read is None:
            if few:
                one_of = self.column.in_([bindparam(f"{KEYS}_{i}") for i in range(len(unique))])
            else:
                one_of = self._one_of(dialect, True)
            read = self._reads[form] = DriverRead(self.build(one_of))  # type: ignore[arg-type]
        if few:
            values.update((f"{KEYS}_{i}", key) for i, key in enumerate(unique))
        else:
            values[KEYS] = _bound(dialect, unique)
        return read.rows(connection, **values)

    def _one_of(self, dialect: str, many: bool) -> ColumnElement[bool]:
        column = self.column
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY  # here: SQLite loads no PostgreSQL

            # `func.any`, which PostgreSQL reads as `= ANY (…)`: `any_()` makes reference cycles.
            return column == func.any(bindparam(KEYS, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
        if not many:
            return column.in_(bindparam(KEYS, expanding=True))  # type: ignore[no-any-return]
        keys_json = func.json_each(bindparam(KEYS))
        return column.in_(select(literal_column("value")).select_from(keys_json))  # type: ignore[no-any-return]


def _bound(dialect: str, keys: list[Any]) -> Any:
    """Many keys in the one bound value of `_one_of`: a JSON array on SQLite, a list (an
    array) on PostgreSQL."""
    return json_text(keys) if dialect == "sqlite" else keys


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
