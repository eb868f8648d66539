"""What SQLite does with the statements a piece of work runs: the tables a command or a read
of one thing must never scan whole, whatever their size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@contextmanager
def statements_run() -> Iterator[list[tuple[str, Any]]]:
    """The SQLite statements any engine runs while the block runs, with their parameters
    (what is read when it ends: the plans asked for after it are not among them)."""
    ran: list[tuple[str, Any]] = []

    def note(connection: Any, _cursor: Any, statement: str, bound: Any, *_: Any) -> None:
        if connection.dialect.name == "sqlite":
            ran.append((statement, bound))

    sa.event.listen(Engine, "before_cursor_execute", note)
    try:
        yield ran
    finally:
        sa.event.remove(Engine, "before_cursor_execute", note)


def plans_of(engine: Engine, ran: list[tuple[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """Each read or write statement of `ran`, with the steps of its plan."""
    with engine.connect() as connection:
        for statement, bound in ran:
            if not statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "WITH")):
                continue
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", bound)
            yield statement, [step for *_, step in plan]


def scans_of(engine: Engine, ran: list[tuple[str, Any]], table: str) -> list[str]:
    """The statements of `ran` whose plan scans `table` whole."""
    return [
        statement
        for statement, steps in plans_of(engine, ran)
        if any(step.startswith(f"SCAN {table}") for step in steps)
    ]
