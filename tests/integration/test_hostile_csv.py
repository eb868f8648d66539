"""CSV records that stretch the reader: a quoted cell over many lines and past the csv
module's own cell limit, a cell of a hundred thousand drivers, a quote never closed. Each is
one record quarantined with a reason naming what is wrong, and every record after it is
read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxdesk.workflow.intake.readers import UNCLOSED_QUOTE, read_csv
from tests.conftest import Run
from tests.integration.test_hostile_ingest import balanced, ingest, reasons

AT = "2026-03-01T09:00:00+08:00"
HEADER = "event_id,kind,occurred_at,customer_id,nps,comment\n"


def good(n: int) -> str:
    return f"g{n},survey,{AT},C{n},3,ok\n"


def test_a_quoted_cell_longer_than_the_csv_modules_limit_is_one_record(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    long_cell = '"' + ("x" * 100 + "\n") * 1400 + '"'  # 141,400 characters over 1,400 lines
    source = tmp_path / "long.csv"
    source.write_text(HEADER + good(1) + f"a2,survey,{AT},C2,3,{long_cell}\n" + good(3) + good(4))
    code, summary, _ = ingest(run, initialised, source)
    assert code == 1
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (4, 3, 1)
    assert reasons(initialised) == ["line 3: comment: longer than the limit of 10000, got 141399"]


def test_a_hundred_thousand_drivers_are_refused_by_name(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    source = tmp_path / "drivers.csv"
    drivers = ";".join(f"d{n}" for n in range(100_000))
    source.write_text(
        f"event_id,kind,occurred_at,customer_id,drivers\nd1,survey,{AT},C1,{drivers}\n"
    )
    _, summary, _ = ingest(run, initialised, source)
    assert summary["quarantined"] == 1
    assert reasons(initialised) == ["line 2: drivers: longer than the limit of 100, got 100000"]


@pytest.mark.parametrize(
    "bad",
    [f'b,survey,{AT},"C2,3', f'b,survey,{AT},C2,3,"never closed'],
    ids=["wrong-cells", "last-cell-to-the-end"],
)
def test_an_unclosed_quote_loses_its_own_line_only(
    initialised: str, tmp_path: Path, run: Run, bad: str
) -> None:
    source = tmp_path / "unclosed.csv"
    source.write_text(HEADER + good(1) + bad + "\n" + good(3) + good(4))
    code, summary, _ = ingest(run, initialised, source)
    assert code == 1
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (4, 3, 1)
    assert balanced(summary)
    assert reasons(initialised) == [f"line 3: {UNCLOSED_QUOTE}"]


_TEXT = st.text(st.characters(codec="utf-8", exclude_characters='",\r\n\x00'), max_size=12)


@given(
    comments=st.lists(_TEXT, min_size=1, max_size=12),
    at=st.integers(min_value=0),
    cell=st.integers(min_value=0, max_value=5),
    newline=st.sampled_from(["\n", "\r\n"]),
)
@settings(max_examples=200, deadline=None)
def test_one_open_quote_among_plain_records_refuses_its_line_only(
    comments: list[str], at: int, cell: int, newline: str
) -> None:
    """Wherever a quote opens and never closes, its line alone is refused: every other
    record is read with its own line number and comment."""
    lines = [f"g{n},survey,{AT},C{n},3,{comment}" for n, comment in enumerate(comments)]
    at %= len(lines) + 1
    cells = lines[0].split(",")
    cells[cell] = '"' + cells[cell]
    lines.insert(at, ",".join(cells))
    records = list(read_csv(io.StringIO(newline.join([HEADER.strip(), *lines]) + newline)))
    assert [r.line for r in records if r.error] == [at + 2]
    assert [r.error for r in records if r.error] == [UNCLOSED_QUOTE]
    read = [(r.line, r.fields.get("comment") or "") for r in records if r.fields is not None]
    expected = [(n + 2 + (n >= at), comment.strip()) for n, comment in enumerate(comments)]
    assert [(line, comment.strip()) for line, comment in read] == expected


def test_an_open_quote_before_more_than_a_records_worth_of_lines_loses_only_its_line() -> None:
    """The quote ran past the record limit: the lines it had swallowed by then were dropped,
    stored nowhere (20,000 good records of a 50,000-line file)."""
    lines = [f"m{n},survey,2026-03-01T09:00:00+08:00,C{n},9,ok\n" for n in range(1, 30_001)]
    text = HEADER + 'm0,survey,2026-03-01T09:00:00+08:00,C0,9,"oops\n' + "".join(lines)
    assert len(text) > 1_048_576
    records = list(read_csv(io.StringIO(text)))
    refused = [(r.line, r.error) for r in records if r.error]
    assert len(refused) == 1 and refused[0][0] == 2 and UNCLOSED_QUOTE in refused[0][1]
    assert [r.fields["event_id"] for r in records if not r.error] == [
        f"m{n}" for n in range(1, 30_001)
    ]
