"""`cxdesk rules check`'s warnings: conditions that compile but can fail on some events.

rule-engine checks types when a rule compiles, but a fact an event leaves out is null at
run time, and `comment.length`, `nps <= 6` or `"x" in comment` then fail; `drivers[5]` fails
on an event with fewer drivers. Ingest counts such a rule as not fired for that event and
says so; these warnings say it before any event arrives. A null guard before it in an `and`
(`comment != null and …`), after an `or` (`comment == null or …`) or in a ternary's
condition makes it safe, as do the safe operators `&.` and `&[`.

A pattern that repeats something itself repeated (`(a+)+`) or alternatives that can match
the same text (`(a|aa)*`) can take exponential time on a text that almost matches; ingest
gives up on it after `REGEX_TIMEOUT_S` for that event, and the warning says so beforehand.
The check (`regex_internals`) reads the pattern as Python's own parser does (common prefixes of
alternatives factored out, so `(a|ab)*` is `(a(|b))*`).
"""

from __future__ import annotations

from collections.abc import Iterator

import rule_engine.ast as ast

from cxdesk.config import AlertRuleConfig
from cxdesk.errors import ConfigError
from cxdesk.workflow.intake.regex_internals import backtracks
from cxdesk.workflow.intake.rule_ast import ast_children
from cxdesk.workflow.intake.rules import FACT_TYPES, compile_rule
from cxdesk.workflow.intake.timed_patterns import REGEX_TIMEOUT_S

NEVER_NULL = frozenset({"event_id", "kind", "customer_id", "drivers"})
NULLABLE = frozenset(FACT_TYPES) - NEVER_NULL
_ORDERED = (
    ast.ArithmeticComparisonExpression,
    ast.ArithmeticExpression,
    ast.AddExpression,
    ast.SubtractExpression,
)


def rule_risks(rules: list[AlertRuleConfig]) -> list[str]:
    """For each rule that compiles, what in its condition can fail on an event."""
    risks: list[str] = []
    for rule in rules:
        try:
            expression = compile_rule(rule).rule.statement.expression
        except ConfigError:
            continue  # reported as an error
        found = dict.fromkeys(_risks(expression, frozenset()))
        risks += [f"rule {rule.name}: {risk}" for risk in found]
    return risks


def _symbol(node: object) -> str | None:
    return node.name if isinstance(node, ast.SymbolExpression) else None


def _null_test(node: object, kind: str) -> set[str]:
    """The facts that `node`, holding, shows to be null (`kind` eq) or not null (ne)."""
    if isinstance(node, ast.LogicExpression) and node.type == "and" and kind == "ne":
        return _null_test(node.left, kind) | _null_test(node.right, kind)
    if isinstance(node, ast.ComparisonExpression) and node.type == kind:
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(b, ast.NullExpression) and (name := _symbol(a)) is not None:
                return {name}
    return set()


def _unguarded(node: object, guarded: frozenset[str]) -> str | None:
    name = _symbol(node)
    return name if name in NULLABLE and name not in guarded else None


def _risks(node: object, guarded: frozenset[str]) -> Iterator[str]:
    guard = "guard it: `{0} != null and …`"
    if isinstance(node, ast.LogicExpression):
        yield from _risks(node.left, guarded)
        shown = _null_test(node.left, "ne" if node.type == "and" else "eq")
        yield from _risks(node.right, guarded | shown)
        return
    if isinstance(node, ast.TernaryExpression):
        yield from _risks(node.condition, guarded)
        yield from _risks(node.case_true, guarded | _null_test(node.condition, "ne"))
        yield from _risks(node.case_false, guarded | _null_test(node.condition, "eq"))
        return
    if isinstance(node, ast.GetAttributeExpression) and not node.safe:
        if (name := _unguarded(node.object, guarded)) is not None:
            yield f"{name}.{node.name} fails on an event without {name}; " + guard.format(name)
    elif isinstance(node, ast.GetItemExpression) and not node.safe:
        name = _symbol(node.container)
        if _unguarded(node.container, guarded) is not None:
            yield f"{name}[…] fails on an event without {name}; " + guard.format(name)
        elif isinstance(node.item, ast.FloatExpression) and name is not None:
            index = int(node.item.value)
            yield (f"{name}[{index}] fails on an event with fewer {name}; write `{name}&[{index}]`")
    elif isinstance(node, ast.FuzzyComparisonExpression) and isinstance(
        node.right, ast.StringExpression
    ):
        if backtracks(node.right.value):
            yield (
                f"pattern {node.right.value!r} repeats a repetition or overlapping alternatives, "
                f"which can take exponential time; on an event where it takes over "
                f"{REGEX_TIMEOUT_S} s the rule counts as failed"
            )
    elif isinstance(node, ast.ContainsExpression):
        if (name := _unguarded(node.container, guarded)) is not None:
            yield f"`in {name}` fails on an event without {name}; " + guard.format(name)
    elif isinstance(node, _ORDERED):
        for side in (node.left, node.right):
            if (name := _unguarded(side, guarded)) is not None:
                yield f"{name} may be null, which `<`, `+` and the like fail on; " + guard.format(
                    name
                )
    for child in ast_children(node):
        yield from _risks(child, guarded)
