"""Printing listings as a table, JSON or CSV. Cell text is never read as markup."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")
WIDE_COLUMNS = frozenset({"title", "body", "display_name"})


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def print_rows(rows: Sequence[dict[str, Any]], fmt: Format, columns: Sequence[str]) -> None:
    """Print `rows`; the table and CSV show `columns`, JSON every key of each row."""
    if fmt == "json":
        print_json(list(rows))
    elif fmt == "csv":
        writer = csv.DictWriter(
            sys.stdout, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in columns:
            wide = name in WIDE_COLUMNS
            table.add_column(
                name, no_wrap=True, overflow="ellipsis", max_width=60 if wide else None
            )
        for row in rows:
            table.add_row(*(Text(_cell(row.get(name))) for name in columns))
        # Piped output is not cut to 80 columns: one row stays one line for grep and friends.
        width = None if sys.stdout.isatty() else 250
        Console(width=width, highlight=False).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)
