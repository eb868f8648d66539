"""A usage error, in any group, is one line on standard error and the help to see."""

from __future__ import annotations

import pytest

from cxdesk.cli import COMMANDS
from tests.conftest import Run


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_a_bad_option_is_one_line_and_a_hint(run: Run, group: str) -> None:
    code, out, err = run(group, "--bogus")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "No such option '--bogus'" in err
    assert f"(see `cxdesk {group} --help`)" in err


@pytest.mark.parametrize(
    ("args", "said", "hint"),
    [
        (("report",), "Choose from: sla, loop, nps, drivers, backlog", "cxdesk report"),
        (("ingest", "x.jsonl", "--batch", "0"), "Invalid value for '--batch'", "cxdesk ingest"),
        (("ingest", "x.jsonl", "--format", "xml"), "'xml' is not one of", "cxdesk ingest"),
        (("backup",), "Missing argument 'TARGET'", "cxdesk backup"),
        (("db", "copy"), "Missing option '--to'", "cxdesk db copy"),
        (("ticket", "pend", "CX-1"), "Missing option '--reason'", "cxdesk ticket pend"),
        (("rules", "test"), "Missing argument 'FILE|-'", "cxdesk rules test"),
        (
            ("ticket", "assign", "CX-1"),
            "give one or more TICKETs then LOGIN",
            "cxdesk ticket assign",
        ),
        (("ticket", "note"), "give one or more TICKETs, or --from-list", "cxdesk ticket note"),
    ],
)
def test_a_missing_or_bad_value_is_one_line_and_a_hint(
    run: Run, args: tuple[str, ...], said: str, hint: str
) -> None:
    code, out, err = run(*args)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "\\n" not in err and "\\t" not in err
    assert said in err and err.rstrip().endswith(f"(see `{hint} --help`)")
