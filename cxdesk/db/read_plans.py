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
    given: dict[str, Callable[[Any], Any] | None]  # each value's bind processor, by name
    required: frozenset[str]  # the names the caller must give
    own: dict[str, Any]  # the statement's own values (`stage != 'closed'`), made for the driver
    results: Processors


class DriverRead:
    """A SELECT whose bound values are named (`bindparam("id")`), run on the driver. Values
    SQLAlchemy fills in only at execution (an expanding IN list, a value rendered into the
    SQL) are refused when the statement is first compiled: run those with `execute`."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def rows(self, connection: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """The statement's rows for these bound values, inside the connection's transaction;
        a value given for one the statement has takes its place, as with `execute`."""
        dialect = connection.dialect
        plan = self._compiled.get(dialect.name)
        if plan is None:
            plan = self._compiled[dialect.name] = self._compile(dialect)
        bound = dict(plan.own)
        for name, value in values.items():
            if name not in plan.given:
                raise ValueError(f"the statement has no bound value {name!r}")
            process = plan.given[name]
            bound[name] = value if process is None else process(value)
        if missing := plan.required - values.keys():
            raise ValueError(f"a value is required for {', '.join(sorted(missing))}")
        parameters = bound if plan.names is None else tuple(bound[n] for n in plan.names)
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
        late = [
            name
            for bind, name in compiled.bind_names.items()
            if bind.expanding or bind.literal_execute
        ]
        if late:
            raise ValueError(
                f"values filled in at execution ({', '.join(late)}) cannot be read on the "
                "driver: run this statement with execute"
            )
        given: dict[str, Callable[[Any], Any] | None] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for bind, name in compiled.bind_names.items()
        }
        own = {
            name: _made(given[name], bind.effective_value)
            for bind, name in compiled.bind_names.items()
            if not bind.required
        }
        results = tuple(
            (i, process)
            for i, column in enumerate(self.statement.selected_columns)
            if (process := column.type.dialect_impl(dialect).result_processor(dialect, None))
        )
        names = tuple(compiled.positiontup or ()) if compiled.positional else None
        return _Compiled(compiled.string, names, given, frozenset(given) - own.keys(), own, results)


def _made(process: Callable[[Any], Any] | None, value: Any) -> Any:
    return value if process is None else process(value)
