"""Options and printing that several command groups share."""

from __future__ import annotations

import sys
from typing import Any

import click

from cxdesk.output import FORMATS, print_json, print_rows

format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)

wide_option = click.option(
    "--wide",
    is_flag=True,
    help="Show every column of the table, however narrow the terminal (otherwise the least "
    "useful go first: see the command's help).",
)


def print_figures(figures: dict[str, Any], fmt: str) -> None:
    """A summary (ingest, retry, sweep) as one JSON object or a two-column table."""
    if fmt == "json":
        print_json(figures)
        return
    rows = [
        {"figure": k, "count": ", ".join(v) or 0 if isinstance(v, list) else v}
        for k, v in figures.items()
    ]
    print_rows(rows, "table", ("figure", "count"))


def stdin_if_dash(text: str) -> str:
    return sys.stdin.read() if text == "-" else text
