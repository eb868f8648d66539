"""Literal patterns in rule conditions, searched within a time limit.

rule-engine offers no time limit for a pattern, and Python's `re` backtracks without end on
patterns such as `(a|aa)+$`: one event could hang ingest. So this reaches into rule-engine's
private state: it compiles a literal pattern (`comment =~ "…"`) with `re` along with the rule,
keeps it in `FuzzyComparisonExpression._right`, and calls its `match` or `search` on the text.
A `regex` pattern put there instead stops at `REGEX_TIMEOUT_S`, and the rule counts as failed
on that event. `tests/unit/test_timed_patterns.py` pins what this relies on; should rule-engine
keep the pattern elsewhere, compiling the rule is refused with a clear error rather than run
without a limit.
"""

from __future__ import annotations

import re
from typing import Any

import regex
import rule_engine.ast

from cxdesk.workflow.intake.rule_ast import ast_children

# How long one pattern may search one event's text. `regex` also gets through many patterns
# that `re` backtracks on (`(a+)+$`) at once.
REGEX_TIMEOUT_S = 0.25


class TimedPattern:
    """A pattern as rule-engine calls it (`match`, `search`), searched by `regex` within
    REGEX_TIMEOUT_S; past it, TimeoutError fails the rule for the event."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = regex.compile(pattern.pattern, pattern.flags & ~re.UNICODE)

    def match(self, text: str) -> Any:
        return self.pattern.match(text, timeout=REGEX_TIMEOUT_S)

    def search(self, text: str) -> Any:
        return self.pattern.search(text, timeout=REGEX_TIMEOUT_S)


def time_limit_patterns(node: object) -> None:
    """Give every literal pattern of a condition a time limit, in place."""
    if isinstance(node, rule_engine.ast.FuzzyComparisonExpression) and isinstance(
        node.right, rule_engine.ast.StringExpression
    ):
        compiled = getattr(node, "_right", None)
        if not isinstance(compiled, re.Pattern):
            raise RuntimeError(
                "this rule-engine no longer keeps a literal pattern compiled in "
                "FuzzyComparisonExpression._right (rule-engine 5 does), so patterns cannot be "
                "given a time limit"
            )
        node._right = TimedPattern(compiled)
    for child in ast_children(node):
        time_limit_patterns(child)
