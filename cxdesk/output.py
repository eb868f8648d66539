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
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import click
from rich.cells import cell_len, set_cell_size

if TYPE_CHECKING:
    from rich.console import Console

Format = Literal["table", "json", "csv"]
FORMATS: tuple[Format, ...] = ("table", "json", "csv")
# Free text: the only columns a table on a terminal may cut (with an ellipsis), down to
# SHRUNK cells; ids, logins and figures are shown whole or not at all.
WIDE_COLUMNS = frozenset({"title", "body", "display_name", "reason", "raw", "note", "comment"})
SHRUNK = 16
GAP = 2  # between two columns
GAP_TEXT = " " * GAP

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


def watched() -> bool:
    """Whether standard error is a terminal, where a person may watch progress."""
    return sys.stderr.isatty()


def progress_console() -> Console:
    """The console progress bars draw on: standard error (their text is sanitised)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


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


def print_rows(
    rows: Sequence[dict[str, Any]],
    fmt: Format,
    columns: Sequence[str],
    *,
    drop: Sequence[str] = (),
    wide: bool = False,
) -> None:
    """Print `rows`; the table and CSV show `columns`, JSON every key of each row.

    A table on a terminal fits its width (`fit_columns`): the columns in `drop` go first, in
    that order, and only free text (`WIDE_COLUMNS`) is ever cut; standard error names what
    was hidden. `wide` shows every column whatever the width. Piped, a table is as wide as
    its widest row: one row stays one line, no value cut, for grep and friends.
    """
    if fmt == "json":
        print_json(list(rows))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([csv_cell(name) for name in columns])
        for row in rows:
            writer.writerow([csv_cell(row.get(name)) for name in columns])
    else:
        _print_table(rows, columns, drop, wide)


def _print_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], drop: Sequence[str], wide: bool
) -> None:
    cells = {name: [sanitize(_cell(row.get(name))) for row in rows] for name in columns}
    natural = {
        name: max([cell_len(sanitize(name)), *(cell_len(v) for v in cells[name])])
        for name in columns
    }
    terminal = sys.stdout.isatty()
    shown = list(columns)
    available = sum(natural.values()) + GAP * (len(columns) - 1)
    if terminal and not wide:
        available = shutil.get_terminal_size().columns
        shown = fit_columns(natural, columns, drop, available)
        hidden = [name for name in columns if name not in shown]
        if hidden:
            say(
                f"hidden to fit {available} columns: {', '.join(hidden)} (--wide shows them)",
                err=True,
            )
    widths = _widths(natural, shown, available)
    header = GAP_TEXT.join(_in_cells(sanitize(name), widths[name]) for name in shown)
    lines = [click.style(header, bold=True)]  # plain where the output is no terminal
    lines += [
        GAP_TEXT.join(_in_cells(cells[name][i], widths[name]) for name in shown)
        for i in range(len(rows))
    ]
    click.echo("\n".join(lines))


def _in_cells(text: str, width: int) -> str:
    """`text` in exactly `width` terminal cells: padded with spaces, or cut to end in an
    ellipsis (a double-width character that would straddle the cut becomes a space)."""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    return set_cell_size(text, width)


def fit_columns(
    natural: Mapping[str, int], columns: Sequence[str], drop: Sequence[str], width: int
) -> list[str]:
    """The columns that fit `width` (each at its widest value, free text at `SHRUNK`): the
    whole set if it fits; else those in `drop` are left out, in that order, then the
    rightmost, until it fits. The first column always stays: it names the row."""
    shown = list(columns)
    for name in [*drop, *reversed(columns[1:])]:
        if _least_width(natural, shown) <= width:
            break
        if name in shown and len(shown) > 1:
            shown.remove(name)
    return shown


def _least_width(natural: Mapping[str, int], shown: Sequence[str]) -> int:
    least = sum(min(natural[n], SHRUNK) if n in WIDE_COLUMNS else natural[n] for n in shown)
    return least + GAP * (len(shown) - 1)


def _widths(natural: Mapping[str, int], shown: Sequence[str], width: int) -> dict[str, int]:
    """Each shown column's width: its widest value, but free text shares what is left of
    `width` (never under `SHRUNK`, nor what its header needs)."""
    widths = {name: natural[name] for name in shown}
    free = [name for name in shown if name in WIDE_COLUMNS]
    room = width - _least_width(natural, shown)
    for name in sorted(free, key=lambda n: natural[n]):
        least = min(natural[name], SHRUNK)
        widths[name] = least + min(natural[name] - least, max(room, 0) // len(free))
        room -= widths[name] - least
        free.remove(name)
    return widths


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
