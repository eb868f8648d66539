"""A select of five or more columns, which sqlmodel runs but cannot describe to a checker."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.sql.expression import Select


def select_columns(*columns: Any) -> Select[*tuple[Any, ...]]:
    """`select(*columns)` read as rows of any values: sqlmodel's `select` takes any number of
    columns but is typed for at most four, so a checker finds no signature for more."""
    statement: Select[*tuple[Any, ...]] = select(*columns)
    return statement
