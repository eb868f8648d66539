"""Statement pieces every wing uses: a select of five or more columns, which sqlmodel runs
but cannot describe to a checker, and a column SQLite is told not to search by."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import select
from sqlmodel.sql.expression import Select


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """`select(*columns)` read as rows of any values: sqlmodel's `select` takes any number of
    columns but is typed for at most four, so a checker finds no signature for more."""
    statement: Select[*tuple[Any, ...]] = select(*columns)
    return statement


class Unindexed(FunctionElement[Any]):
    """A column's value that SQLite hands to no index or virtual table to search by
    (`+column`), so that it searches by the other terms; the column itself elsewhere."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type  # compared as the column is: its values bound alike


@compiles(Unindexed)
def _render_unindexed(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(Unindexed, "sqlite")
def _render_unindexed_sqlite(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"
