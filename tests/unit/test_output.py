"""The one sanitizer everything printed goes through, and the rule that nothing bypasses it."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import unicodedata
from pathlib import Path
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from cxdesk.output import csv_cell, json_text, print_rows, sanitize

PACKAGE = Path(__file__).resolve().parents[2] / "cxdesk"
# Anything a terminal may act on, or that shows text unlike itself.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# Every code point, surrogates included (undecodable file-name bytes arrive as those).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()))


@given(ANY_TEXT)
def test_one_line_output_holds_no_control_bidi_or_surrogate(text: str) -> None:
    shown = sanitize(text)
    assert not UNSAFE.search(shown)
    assert not any(unicodedata.category(c) == "Cs" for c in shown)
    shown.encode("utf-8")  # printable, whatever came in
    assert sanitize(shown) == shown  # already inert: sanitising again changes nothing


@given(ANY_TEXT)
def test_multiline_output_keeps_only_newlines_and_tabs(text: str) -> None:
    shown = sanitize(text, multiline=True)
    assert not UNSAFE.search(shown.replace("\n", "").replace("\t", ""))
    assert shown.count("\n") == text.count("\n")  # CR LF became LF, a lone CR is shown
    assert sanitize(shown, multiline=True) == shown


@given(st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_ordinary_text_is_kept_as_is(text: str) -> None:
    assert sanitize(text) == text


def test_control_sequences_are_shown_as_escapes() -> None:
    hostile = "\x1b]2;PWNED\x1b\\ \x1b[2J\x07\r\x08\x00\x7f\x9b\u202eabc\u2066 中文 😀"
    assert sanitize(hostile) == (
        "\\x1b]2;PWNED\\x1b\\ \\x1b[2J\\x07\\r\\x08\\x00\\x7f\\x9b\\u202eabc\\u2066 中文 😀"
    )
    assert sanitize("a\r\nb\tc\rd\ne") == "a\\r\\nb\\tc\\rd\\ne"
    assert sanitize("a\r\nb\tc\rd\ne", multiline=True) == "a\nb\tc\\rd\ne"


@given(st.recursive(ANY_TEXT, lambda inner: st.lists(inner) | st.dictionaries(ANY_TEXT, inner)))
def test_json_is_the_same_data_with_nothing_raw(data: object) -> None:
    text = json_text(data, indent=2)
    assert not UNSAFE.search(text.replace("\n", ""))
    text.encode("utf-8")
    # As JSON carries it: a lone high surrogate before a lone low one reads back as the pair.
    assert json.loads(text) == json.loads(json.dumps(data))


def test_json_keeps_chinese_and_escapes_what_json_dumps_leaves_raw() -> None:
    value = "中文 \x1b[2J \x9b \u2028 \u2029 \u202e \x7f \udc80"
    assert json_text(value) == '"中文 \\u001b[2J \\u009b \\u2028 \\u2029 \\u202e \\u007f \\udc80"'
    assert json.loads(json_text(value)) == value


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# Narrow and wide characters, accents, emoji; a grapheme's parts are never parted by a cut.
CELL_TEXT = st.lists(st.sampled_from([*"ab XY-09", "王", "快递", "😀", "é", "e\u0301", "ｶ", "…"]))


@given(st.lists(CELL_TEXT.map("".join), max_size=6), st.integers(27, 60))
def test_a_table_keeps_its_columns_in_line_and_cuts_only_with_an_ellipsis(
    titles: list[str], width: int
) -> None:
    """On a terminal `width` cells wide (room for an id and a title's `SHRUNK` cells), every
    line of a table is as wide as the others, so the columns line up, and no wider than the
    terminal; free text is shown whole, or as its beginning followed by an ellipsis."""
    listed = [{"id": f"CX-{i:06d}", "title": title} for i, title in enumerate(titles)]
    shown = _Terminal()
    with (
        mock.patch.dict(os.environ, {"COLUMNS": str(width)}),
        contextlib.redirect_stdout(shown),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        print_rows(listed, "table", ("id", "title"))
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.getvalue()).splitlines()
    assert len(lines) == len(listed) + 1 and lines[0].split() == ["id", "title"]
    assert len({cell_len(line) for line in lines}) == 1 and cell_len(lines[0]) <= width
    for line, row in zip(lines[1:], listed, strict=True):
        assert line.startswith(row["id"] + "  ")
        title = line[len(row["id"]) + 2 :].rstrip(" ")
        if title != row["title"].rstrip(" "):
            assert title.endswith("…") and row["title"].startswith(title[:-1].rstrip(" "))


def test_csv_text_that_starts_a_formula_becomes_text() -> None:
    for formula in ("=cmd|' /C calc'!A0", "+1+1", "-1+1", "@SUM(A1)", "\t=1"):
        assert csv_cell(formula) == "'" + formula
    assert csv_cell("\r=1") == "\\r=1"  # a CR is shown, so it no longer leads
    assert csv_cell("a=1") == "a=1" and csv_cell("中文") == "中文"
    assert csv_cell(-3) == "-3" and csv_cell(-2.5) == "-2.5"  # numbers stay numbers
    assert csv_cell("-3") == "'-3"  # text that looks like one does not
    assert csv_cell(["=a", "b"]) == "'=a;b"
    assert csv_cell(None) == ""
    # a spreadsheet that trims the cell, or reads a full-width sign, still sees a formula
    for formula in (" =1+1", "\u00a0=1", "\u3000=1", "\n=1", "\u200b=1", "＝1+1", "﹢1", "＠A1"):
        assert csv_cell(formula).startswith("'"), formula
    assert csv_cell(" 1") == " 1" and csv_cell("１２") == "１２"  # no sign, no formula


BLANKS = st.text(st.sampled_from(" \n\u00a0\u1680\u2000\u2009\u200b\u202f\u205f\u3000\ufeff"))
SIGNS = st.sampled_from("=+-@＝＋－＠﹦﹢﹣﹫⁼⁺₌₊")


@given(BLANKS, SIGNS, ANY_TEXT)
def test_csv_text_led_by_blanks_and_any_form_of_a_sign_becomes_text(
    blanks: str, sign: str, rest: str
) -> None:
    assert csv_cell(blanks + sign + rest).startswith("'")


@given(ANY_TEXT)
def test_a_csv_cell_never_opens_with_a_formula_sign(text: str) -> None:
    cell = csv_cell(text)
    lead = cell.lstrip("".join(c for c in cell if c.isspace() or unicodedata.category(c) == "Cf"))
    assert cell.startswith("'") or not unicodedata.normalize("NFKC", lead[:1]).startswith(
        ("=", "+", "-", "@")
    )


def _prints(call: ast.Call) -> bool:
    """`print(…)`, `click.echo(…)`, `sys.stdout.write(…)`, `Console(…)` and the like."""
    name = ast.unparse(call.func)
    return name in {"print", "click.echo", "click.secho", "Console", "rich.console.Console"} or (
        name.startswith(("sys.stdout.", "sys.stderr.")) and not name.endswith(".flush")
    )


def test_only_the_output_module_prints() -> None:
    """A future command cannot forget the sanitizer: printing goes through cxdesk.output
    (the TUI draws through Textual, whose text is sanitised by `plain` and `block`)."""
    offenders = [
        f"{path.name}:{node.lineno}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "output.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and _prints(node)
    ]
    assert offenders == []
