"""Rule patterns that backtrack without end: `rules check` warns of them, and ingest gets
through an event that would set them off, counting the rule as failed on it when it takes
too long."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cxdesk.config import AlertRuleConfig
from cxdesk.workflow.intake.rule_risks import rule_risks
from tests.conftest import Run
from tests.integration.test_hostile_ingest import NOW, event, jsonl

SLOW_RULES = """
[[rules]]
name = "nested"
condition = 'comment =~ "(a+)+$"'
priority = "P3"
queue = "billing"

[[rules]]
name = "overlapping"
condition = 'comment =~ "(a|aa)+$"'
priority = "P3"
queue = "billing"
"""


def escaped(pattern: str) -> str:
    """As a rule-engine string literal writes it."""
    return pattern.replace("\\", "\\\\")


def test_ingest_gets_through_a_pattern_that_backtracks(initialised: str, tmp_path: Path) -> None:
    """Run as its own process: before the limit, this ingest never ended."""
    config = tmp_path / "rules.toml"
    config.write_text(SLOW_RULES, encoding="utf-8")
    feed = jsonl(tmp_path / "f.jsonl", event("e1", comment="a" * 40 + "!"), event("e2", nps=9))
    command = [sys.executable, "-m", "cxdesk", "--db", initialised, "--config", str(config)]
    done = subprocess.run(
        [*command, "--now", NOW, "ingest", str(feed), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CXDESK_DB": ""},
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["read"], summary["accepted"], summary["alerts"]) == (2, 2, 0)
    assert (
        "cxdesk: warning: rule overlapping failed on an event, counted as not fired "
        "(first: line 1, event e1: TimeoutError: regex timed out)"
    ) in done.stderr.splitlines()
    assert "rule nested failed" not in done.stderr  # `regex` gets through this one at once


@pytest.mark.parametrize(
    "pattern", ["(x+)+", "(x*)*", "(x+)*", "(a|a)*", "(a|ab)*", "(a|aa)+$", r"(\w+\s?)+$"]
)
def test_rules_check_warns_of_patterns_that_backtrack(pattern: str) -> None:
    rule = AlertRuleConfig(
        name="slow", condition=f'comment =~ "{escaped(pattern)}"', priority="P3", queue="billing"
    )
    (risk,) = rule_risks([rule])
    assert risk.startswith(f"rule slow: pattern {pattern!r} repeats a repetition")


@pytest.mark.parametrize("pattern", ["abc+", "(ab)+", "(a|b)+", r"[a-z]+\d*", "(?:foo|bar)+"])
def test_plain_patterns_get_no_warning(pattern: str) -> None:
    rule = AlertRuleConfig(
        name="plain", condition=f'comment =~ "{escaped(pattern)}"', priority="P3", queue="billing"
    )
    assert rule_risks([rule]) == []


def test_rules_check_names_the_pattern(initialised: str, tmp_path: Path, run: Run) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(SLOW_RULES, encoding="utf-8")
    code, out, err = run("--db", initialised, "--config", str(config), "rules", "check")
    assert (code, out) == (0, "ok: 2 rules\n")
    assert [line.split(":")[2] for line in err.splitlines()] == [
        " rule nested",
        " rule overlapping",
    ]


@pytest.mark.parametrize(
    "condition",
    [
        '[d for d in drivers if d =~ "(a|aa)+$"].length > 0',  # a comprehension's condition
        '{"k": comment =~ "(a|aa)+$"}["k"]',  # inside a mapping
    ],
)
def test_patterns_nested_in_other_expressions_are_limited_and_warned_of(condition: str) -> None:
    """The walk over a condition missed expressions kept in slots or tuples: such a pattern
    ran without a limit (minutes for one event) and `rules check` said nothing."""
    from cxdesk.workflow.intake.rules import FACT_TYPES, RuleSet

    rule = AlertRuleConfig(name="deep", condition=condition, priority="P3", queue="billing")
    rules = RuleSet([rule])
    assert any("repeats a repetition" in risk for risk in rule_risks([rule]))
    facts = dict.fromkeys(FACT_TYPES) | {
        "comment": "a" * 40 + "!",
        "drivers": ("a" * 40 + "!",) * 3,
    }
    started = time.perf_counter()
    rules.fired(facts)
    assert time.perf_counter() - started < 5
