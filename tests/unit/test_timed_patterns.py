"""What the time limit on rule patterns relies on inside rule-engine: a literal pattern kept
compiled in `FuzzyComparisonExpression._right`, and only its `match` and `search` called."""

from __future__ import annotations

import re
import time

import pytest
import rule_engine
import rule_engine.ast

from cxdesk.config import AlertRuleConfig
from cxdesk.workflow.intake.rule_ast import ast_children
from cxdesk.workflow.intake.rules import compile_rule
from cxdesk.workflow.intake.timed_patterns import TimedPattern, time_limit_patterns

CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict({"comment": rule_engine.DataType.STRING})
)


def fuzzy_nodes(node: object) -> list[rule_engine.ast.FuzzyComparisonExpression]:
    found = [node] if isinstance(node, rule_engine.ast.FuzzyComparisonExpression) else []
    for child in ast_children(node):
        found += fuzzy_nodes(child)
    return found


@pytest.mark.parametrize("operator", ["=~", "=~~", "!~", "!~~"])
def test_rule_engine_keeps_a_literal_pattern_compiled_where_it_is_replaced(operator: str) -> None:
    rule = rule_engine.Rule(f'comment {operator} "a+b"', context=CONTEXT)
    (node,) = fuzzy_nodes(rule.statement.expression)
    assert isinstance(node._right, re.Pattern)
    assert node._right.pattern == "a+b"


@pytest.mark.parametrize(
    ("operator", "text", "holds"),
    [("=~", "aab", True), ("=~", "xaab", False), ("=~~", "xaab", True), ("!~", "xaab", True)],
)
def test_rule_engine_matches_through_the_replacement(operator: str, text: str, holds: bool) -> None:
    rule = rule_engine.Rule(f'comment {operator} "a+b"', context=CONTEXT)
    time_limit_patterns(rule.statement.expression)
    (node,) = fuzzy_nodes(rule.statement.expression)
    assert isinstance(node._right, TimedPattern)
    assert rule.matches({"comment": text}) is holds


def test_a_pattern_that_backtracks_fails_the_rule_within_the_limit() -> None:
    config = AlertRuleConfig(
        name="slow", condition='comment =~ "(a|aa)+$"', priority="P3", queue="billing"
    )
    rule = compile_rule(config).rule
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        rule.matches({"comment": "a" * 40 + "!"})
    assert time.perf_counter() - started < 5  # with `re`, it would run for hours


def test_a_pattern_kept_elsewhere_is_a_clear_error() -> None:
    rule = rule_engine.Rule('comment =~ "a+"', context=CONTEXT)
    (node,) = fuzzy_nodes(rule.statement.expression)
    del node._right
    with pytest.raises(RuntimeError, match="no longer keeps a literal pattern"):
        time_limit_patterns(rule.statement.expression)
