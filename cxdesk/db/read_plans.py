"""Fixed SELECTs that a command or an event asks each time, compiled once per dialect and run
on the driver's connection, each column's value made by its type's result processor as
SQLAlchemy makes it: SQLAlchemy's handling of a statement and its result cost several times
what the driver's read does (a ticket's locked read: 83 against 21 µs on SQLite).

Like the write plans, this reads SQLAlchemy's compiled statement: the order of its bound
values (`positiontup` for SQLite's positional paramstyle); `tests/integration/test_read_plans.py`
pins that the rows read are those SQLAlchemy reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Select
from sqlalchemy.sql.compiler import SQLCompiler

from cxdesk.db.driver import rows_on_driver

Processors = tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, processor)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # the bound values' names in order; None: taken by name
    fixed: dict[str, Any]  # the statement's own values (`stage != 'closed'`), made for the driver
    binds: tuple[tuple[str, Callable[[Any], Any]], ...]  # (name, bind processor) of the others
    results: Processors


class DriverRead:
    """A SELECT whose bound values are named (`bindparam("id")`), run on the driver."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """The statement's rows for these bound values, inside the connection's transaction."""
        dialect = connection.dialect
        plan = self._compiled.get(dialect.name)
        if plan is None:
            plan = self._compiled[dialect.name] = self._compile(dialect)
        for name, process in plan.binds:
            values[name] = process(values[name])
        values.update(plan.fixed)
        parameters = values if plan.names is None else tuple(values[n] for n in plan.names)
        rows = rows_on_driver(connection, plan.sql, parameters)
        if not plan.results:
            return [tuple(row) for row in rows]
        made = []
        for row in rows:
            row = list(row)
            for i, process in plan.results:
                row[i] = process(row[i])
            made.append(tuple(row))
        return made

    def first(self, connection: Connection, **values: Any) -> tuple[Any, ...] | None:
        """The first row, or None."""
        rows = self.rows(connection, **values)
        return rows[0] if rows else None

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        assert not compiled.escaped_bind_names, "bound values are named plainly"
        names = tuple(compiled.positiontup or ()) if compiled.positional else None
        processors = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in compiled.binds.items()
        }
        fixed = {
            name: _made(processors[name], bind.effective_value)
            for name, bind in compiled.binds.items()
            if not bind.required
        }
        binds = tuple(
            (name, process)
            for name, process in processors.items()
            if process is not None and name not in fixed
        )
        results = tuple(
            (i, process)
            for i, column in enumerate(self.statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        )
        return _Compiled(compiled.string, names, fixed, binds, results)


def _made(process: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if process is None else process(value)
