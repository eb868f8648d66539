"""Bulk INSERTs and UPDATEs compiled once per table, dialect and set of columns, and run
with the driver's executemany (a COPY on PostgreSQL), skipping SQLAlchemy's handling of
each row's parameters and of the statement: ingest writes hundreds of thousands of rows this
way, and a command its few single rows, both a good deal faster than through
`Connection.execute`.

This reads SQLAlchemy's compiler internals: the order of a statement's bound values
(`SQLCompiler.positiontup` for SQLite's positional paramstyle, `binds` for psycopg's named
one), and applies each column type's bind processor itself. `tests/integration/test_write_plans.py`
pins that the rows written are those SQLAlchemy writes; should the compiler stop listing the
bound values there, making a plan fails with a clear error.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Compiled, Connection, Dialect, Table, bindparam
from sqlalchemy.sql.compiler import SQLCompiler

from cxdesk.db.driver import copy_on_driver, run_on_driver

COPY_MIN_ROWS = 10  # PostgreSQL: fewer rows than this are inserted, not copied
_KEY_BIND = "primary_key"


@dataclass(frozen=True)
class WritePlan:
    """An INSERT or UPDATE, compiled for a dialect, with each bound value's processor."""

    sql: str
    names: tuple[str, ...]  # the bound values' names, in the statement's order
    positional: bool  # the driver takes rows as sequences, not as dicts
    values_of: Callable[[dict[str, Any]], tuple[Any, ...]]  # a row's values in that order
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, bind processor)
    copy: str | None = None  # PostgreSQL: the same insert as a COPY (see execute)

    def bind(self, values: list[Any]) -> list[Any]:
        """Values in `names` order, converted for the driver in place."""
        for i, process in self.converted:
            values[i] = process(values[i])
        return values

    def execute(self, connection: Connection, rows: list[list[Any]]) -> None:
        """Run the statement for each bound row with the driver's executemany; on PostgreSQL
        many rows go as one COPY instead, which the server takes without planning and running
        an INSERT for each. A COPY waits for the server twice, so a few rows, such as a
        command's audit row, are still inserted."""
        if self.copy is not None and len(rows) >= COPY_MIN_ROWS:
            copy_on_driver(connection, self.copy, rows)
        elif self.positional:
            run_on_driver(connection, self.sql, [tuple(row) for row in rows])
        else:
            named = [dict(zip(self.names, row, strict=True)) for row in rows]
            run_on_driver(connection, self.sql, named)


@lru_cache(maxsize=256)  # per engine's dialect; bounded, as tests make many engines
def insert_plan(table: Table, dialect: Dialect, columns: tuple[str, ...]) -> WritePlan:
    """The statement and bind processors for inserting these columns, compiled once per
    process: one audit row per command would otherwise pay a compilation each time."""
    plan = _plan(table, dialect, table.insert().compile(dialect=dialect, column_keys=list(columns)))
    if dialect.name != "postgresql":
        return plan
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(table.c[name].name) for name in plan.names)
    return replace(plan, copy=f"COPY {quote(table.name)} ({names}) FROM STDIN")


@lru_cache(maxsize=256)
def update_plan(table: Table, dialect: Dialect, columns: tuple[str, ...]) -> WritePlan:
    """The statement and bind processors for setting these columns (all but the primary key
    among them) of the row with the primary key given."""
    (key,) = table.primary_key.columns
    settings = [name for name in columns if name != key.name]
    # SQLAlchemy keeps a column's own name for its SET value, so the key is bound apart
    statement = table.update().where(key == bindparam(_KEY_BIND, type_=key.type))
    compiled = statement.compile(dialect=dialect, column_keys=settings)
    return _plan(table, dialect, compiled, {_KEY_BIND: key.name})


@lru_cache(maxsize=256)
def adding_plan(
    table: Table,
    dialect: Dialect,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    counters: tuple[str, ...],
) -> WritePlan:
    """The statement and bind processors for inserting these columns where no row has the
    same `keys`, and for adding the row's `counters` to those of the row that has (an
    `ON CONFLICT ... DO UPDATE`, said alike by PostgreSQL and SQLite). Built from the
    dialect's own insert, which its engine has loaded: SQLite's imports nothing of
    PostgreSQL's."""
    insert = importlib.import_module(f"sqlalchemy.dialects.{dialect.name}").insert(table)
    statement = insert.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: table.c[name] + insert.excluded[name] for name in counters},
    )
    return _plan(table, dialect, statement.compile(dialect=dialect, column_keys=list(columns)))


def _plan(
    table: Table, dialect: Dialect, compiled: Compiled, renamed: dict[str, str] | None = None
) -> WritePlan:
    assert isinstance(compiled, SQLCompiler)  # an INSERT's or UPDATE's
    names = _bound_names(compiled)
    columns = [(renamed or {}).get(name, name) for name in names]
    processors = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    return WritePlan(
        sql=compiled.string,
        names=names,
        positional=compiled.positional,
        values_of=itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],),
        converted=tuple((i, p) for i, p in enumerate(processors) if p is not None),
    )


def _bound_names(compiled: SQLCompiler) -> tuple[str, ...]:
    """The statement's bound values' names, in the order the driver takes them."""
    names = getattr(compiled, "positiontup" if compiled.positional else "binds", None)
    if not names:
        raise RuntimeError(
            "this SQLAlchemy's compiled statements no longer list their bound values in "
            "`positiontup` and `binds`, which cxdesk's bulk writes read"
        )
    return tuple(names)
