"""Tables that fit the terminal without cutting what tells rows apart, and piped tables that
keep every value whole on one line."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from cxdesk.output import GAP, SHRUNK, WIDE_COLUMNS, fit_columns
from tests.conftest import DEMO_NOW, Run
from tests.terminal import run_cli

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


def _lines(text: str) -> list[str]:
    return [ANSI.sub("", line) for line in text.replace("\r\n", "\n").splitlines()]


@pytest.mark.parametrize("columns", [80, 120, 200])
def test_report_sla_fits_and_cuts_no_header_or_login(demo_sqlite: str, columns: int) -> None:
    db = ("--db", str(demo_sqlite), "--now", DEMO_NOW.isoformat())
    code, out, err = run_cli([*db, "report", "sla"], columns=columns, tty_out=True)
    assert code == 0, err
    lines = _lines(out)
    assert "…" not in "".join(lines)
    assert max(cell_len(line.rstrip()) for line in lines) <= columns
    header = lines[0].split()
    assert header[:4] == ["by", "key", "tickets", "first_response_pct"]
    assert "resolution_pct" in header
    code, out, _ = run_cli([*db, "report", "sla", "--format", "json"])
    logins = {row["key"] for row in json.loads(out) if row["by"] == "agent"}
    keys = {line.split()[1] for line in lines[1:] if line.startswith("agent")}
    assert keys == logins
    if columns < 200:
        code, out, _ = run_cli([*db, "report", "sla", "--wide"], columns=columns, tty_out=True)
        assert "resolution_p90_h" in _lines(out)[0]


@pytest.mark.parametrize("kind", ["loop", "nps", "drivers", "backlog"])
def test_every_report_fits_80_columns_uncut(demo_sqlite: str, kind: str) -> None:
    db = ("--db", str(demo_sqlite), "--now", DEMO_NOW.isoformat())
    code, out, err = run_cli([*db, "report", kind], tty_out=True)
    assert code == 0, err
    lines = _lines(out)
    assert "…" not in out and max(cell_len(line.rstrip()) for line in lines) <= 80
    _, piped, _ = run_cli([*db, "report", kind, "--format", "json"])
    assert len(lines) == len(json.loads(piped)) + 1


def test_ticket_list_at_80_columns_keeps_ids_logins_and_the_clock(demo_sqlite: str) -> None:
    db = ("--db", str(demo_sqlite), "--now", DEMO_NOW.isoformat())
    code, out, err = run_cli([*db, "ticket", "list", "--limit", "40"], tty_out=True)
    assert code == 0
    lines = _lines(out)
    assert lines[0].split()[0] == "id" and "assignee" in lines[0] and "sla" in lines[0]
    assert "hidden" in err and "--wide" in err
    _, out, _ = run_cli([*db, "ticket", "list", "--limit", "40", "--format", "json"])
    listed = json.loads(out)
    for line, ticket in zip(lines[1:], listed, strict=True):
        assert line.startswith(ticket["id"] + " ")
        assert ticket["assignee"] is None or f" {ticket['assignee']} " in line
        assert max(cell_len(line.rstrip()) for line in lines) <= 80


def test_piped_tables_cut_and_wrap_nothing(demo_copy: str, run: Run) -> None:
    db = ("--db", demo_copy, "--now", DEMO_NOW.isoformat())
    _, out, _ = run(*db, "ticket", "list", "--limit", "300", "--format", "json")
    titles = [t["title"] for t in json.loads(out)]
    assert max(len(t) for t in titles) > 60  # some would not fit a narrow column
    _, out, err = run(*db, "ticket", "list", "--limit", "300")
    lines = out.splitlines()
    assert len(lines) == len(titles) + 1 and not err
    for line, title in zip(lines[1:], titles, strict=True):
        assert line.rstrip().endswith(title)


def test_piped_ticket_show_does_not_wrap(demo_sqlite: str) -> None:
    db = ("--db", str(demo_sqlite), "--now", DEMO_NOW.isoformat())
    _, out, _ = run_cli([*db, "ticket", "list", "--limit", "300", "--format", "json"])
    longest = max(json.loads(out), key=lambda t: len(t["title"]))
    code, out, _ = run_cli([*db, "ticket", "show", longest["id"]], columns=80)
    assert code == 0 and longest["title"] in out.splitlines()[0]


NAMES = st.sampled_from(["id", "title", "queue", "assignee", "sla", "note", "stage"])


@given(
    st.lists(NAMES, min_size=1, max_size=7, unique=True),
    st.lists(st.integers(1, 60), min_size=7, max_size=7),
    st.integers(10, 250),
)
def test_fitted_columns_fit_or_keep_only_the_first(
    columns: list[str], sizes: list[int], width: int
) -> None:
    natural = dict(zip(columns, sizes, strict=False))
    drop = columns[::-1][:2]
    shown = fit_columns(natural, columns, drop, width)
    assert shown[0] == columns[0] and shown == [c for c in columns if c in shown]
    least = sum(min(natural[c], SHRUNK) if c in WIDE_COLUMNS else natural[c] for c in shown)
    assert least + GAP * (len(shown) - 1) <= width or shown == columns[:1]
    if shown != columns:  # nothing is hidden that would have fitted
        assert sum(natural.values()) + GAP * (len(columns) - 1) > width
