"""Every byte cxdesk prints: plain lines, tables, JSON and CSV, all made safe here.

Stored and input text is untrusted (customer comments, raw quarantined records, file names,
error messages that echo input). Printed as is, an ESC sequence retitles or clears the
reader's terminal and a bidi override makes a line read differently from what it says; a CSV
cell starting with `=` is a formula to a spreadsheet. So nothing is printed except through
the helpers of this module: `say` for a line, `print_rows` for listings, `print_json`.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")
WIDE_COLUMNS = frozenset({"title", "body", "display_name"})

# What a terminal may act on or that makes text display unlike itself: C0 controls, DEL, C1
# controls, the bidi marks, embeddings, overrides and isolates, the Unicode line and paragraph
# separators, and lone surrogates (undecodable file-name bytes, which cannot even be encoded).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
_UNSAFE_IN_LINES = re.compile(f"\r\n|[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
# What json.dumps(ensure_ascii=False) leaves raw in strings although a terminal may act on it.
_RAW_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# OWASP: a spreadsheet reads a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def sanitize(text: str, *, multiline: bool = False) -> str:
    """`text` with every unsafe character shown as an inert escape (`\\x1b`, `\\u202e`).

    Ordinary Unicode (Chinese, emoji) is kept. With `multiline`, newlines and tabs stay (a
    CR LF pair becomes a newline); otherwise they too are shown as `\\n` and `\\t`, so that one
    value stays one line. The result holds no unsafe character, so sanitising it again
    changes nothing.
    """
    pattern = _UNSAFE_IN_LINES if multiline else _UNSAFE
    return pattern.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r\n":
        return "\n"
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def say(text: object, *, err: bool = False, multiline: bool = False, bold: bool = False) -> None:
    """Print one line (or, with `multiline`, a block) of text that may hold data."""
    shown = sanitize(str(text), multiline=multiline)
    click.echo(click.style(shown, bold=True) if bold else shown, err=err)


def json_text(data: Any, indent: int | None = None) -> str:
    """`data` as JSON whose strings escape everything a terminal could act on."""
    text = json.dumps(data, ensure_ascii=False, indent=indent, default=str)
    # These characters only occur inside JSON strings, where `\uXXXX` stands for them.
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data, indent=2) + "\n")


def print_json_lines(rows: Iterable[Any]) -> None:
    """One JSON document a line (JSON Lines)."""
    for row in rows:
        sys.stdout.write(json_text(row) + "\n")


def print_rows(rows: Sequence[dict[str, Any]], fmt: Format, columns: Sequence[str]) -> None:
    """Print `rows`; the table and CSV show `columns`, JSON every key of each row."""
    if fmt == "json":
        print_json(list(rows))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([csv_cell(name) for name in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(name)) for name in columns])
    else:
        table = Table(box=None, pad_edge=False, header_style="bold")
        for name in columns:
            wide = name in WIDE_COLUMNS
            table.add_column(
                sanitize(name), no_wrap=True, overflow="ellipsis", max_width=60 if wide else None
            )
        for row in rows:
            table.add_row(*(Text(sanitize(_cell(row.get(name)))) for name in columns))
        # Piped output is not cut to 80 columns: one row stays one line for grep and friends.
        width = None if sys.stdout.isatty() else 250
        Console(width=width, highlight=False).print(table)


def csv_cell(value: Any) -> str:
    """A CSV cell: sanitised, and text that a spreadsheet would run as a formula gets a
    leading `'`. Numbers (not text that looks like one) stay as they are, so a negative
    figure remains a number."""
    if isinstance(value, int | float):
        return str(value)
    text = sanitize(_cell(value), multiline=True)
    return f"'{text}" if starts_a_formula(text) else text


def starts_a_formula(text: str) -> bool:
    """Whether a spreadsheet may read `text` as a formula: one that trims the cell skips
    leading blanks (any Unicode space, a newline, a zero-width mark), and a full-width `＝`
    is an `=` once normalised (NFKC), as some spreadsheets and input methods make it."""
    if text.startswith(FORMULA_START):
        return True
    lead = next((c for c in text if not (c.isspace() or unicodedata.category(c) == "Cf")), "")
    return unicodedata.normalize("NFKC", lead).startswith(FORMULA_START)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)
