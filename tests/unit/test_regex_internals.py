"""What `rules check`'s backtracking warning reads from the private parser of Python's `re`."""

from __future__ import annotations

import pytest

from cxdesk.workflow.intake import regex_internals
from cxdesk.workflow.intake.regex_internals import backtracks


def test_the_parser_is_there() -> None:
    assert regex_internals.sre_parse is not None  # or every pattern would pass unchecked


def test_a_repetition_parses_as_its_bounds_and_body() -> None:
    sre = regex_internals.sre
    ((op, (low, high, body)),) = regex_internals.sre_parse.parse("(?:ab){2,5}").data
    assert (op, low, high) == (sre.MAX_REPEAT, 2, 5)
    assert [item[0] for item in body] == [sre.LITERAL, sre.LITERAL]


def test_alternatives_are_parsed_with_their_common_prefix_factored_out() -> None:
    sre = regex_internals.sre
    ((_, (_, _, body)),) = regex_internals.sre_parse.parse("(?:a|ab)*").data
    assert body[0] == (sre.LITERAL, ord("a"))
    op, (_, alternatives) = body[1]
    assert op is sre.BRANCH
    assert [list(alternative) for alternative in alternatives] == [[], [(sre.LITERAL, ord("b"))]]


@pytest.mark.parametrize(
    "pattern", ["(x+)+", "(x*)*", "(a|a)*", "(a|ab)*", "(a|aa)+$", r"(\w+\s?)+$", "(?=(a+)+)b"]
)
def test_patterns_that_backtrack(pattern: str) -> None:
    assert backtracks(pattern)


@pytest.mark.parametrize("pattern", ["a+b+", "(ab)+", "(a|b)*", "x{2}", "(a|b)?", "(a+)?", "^.*$"])
def test_patterns_that_do_not(pattern: str) -> None:
    assert not backtracks(pattern)
