"""Alert rules: conditions in rule-engine's language over a feedback event and its customer.

rule-engine gives a real grammar with type checking at compile time, so a typo in a field
name or comparing text to a number is reported when the config is checked, not at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from types import SimpleNamespace
from typing import Any

import rule_engine

from cxdesk.config import AlertRuleConfig
from cxdesk.errors import ConfigError
from cxdesk.models import Priority
from cxdesk.workflow.intake.events import Fired
from cxdesk.workflow.intake.timed_patterns import time_limit_patterns

_T = rule_engine.DataType
FACT_TYPES: dict[str, Any] = {
    "event_id": _T.STRING,
    "kind": _T.STRING,
    "channel": _T.STRING,
    "touchpoint": _T.STRING,
    "journey": _T.STRING,
    "nps": _T.FLOAT,
    "csat": _T.FLOAT,
    "ces": _T.FLOAT,
    "comment": _T.STRING,
    "drivers": _T.ARRAY(_T.STRING),
    # The customer's fields, flattened with the names the CSV input uses.
    "customer_id": _T.STRING,
    "customer_name": _T.STRING,
    "customer_tier": _T.STRING,
}
# The event's own fields, as the schema names them (shared with what ingest stores).
EVENT_FIELDS = (
    "event_id",
    "kind",
    "channel",
    "touchpoint",
    "journey",
    "nps",
    "csat",
    "ces",
    "comment",
)
CACHE_SIZE = 4096
CUSTOMER_FACTS = ("customer_name", "customer_tier")  # what a customer row can fill in


@dataclass(frozen=True)
class Alert:
    """The outcome for one event: every rule that fired, and the one that decides."""

    fired: tuple[AlertRuleConfig, ...]

    # Computed once: ingest's outcome cache hands the same Alert to thousands of events.
    @cached_property
    def decisive(self) -> AlertRuleConfig:
        """The most urgent rule; among equals, the first in the config."""
        return min(self.fired, key=lambda rule: Priority(rule.priority))

    @property
    def priority(self) -> str:
        return self.decisive.priority

    @cached_property
    def tags(self) -> list[str]:
        return sorted({tag for rule in self.fired for tag in rule.tags})


@dataclass
class RuleFailure:
    """A rule that failed on events of a run, counted as not fired for them; the first."""

    rule: str
    line: int
    event_id: str
    why: str
    count: int = 1

    def __str__(self) -> str:
        events = "an event" if self.count == 1 else f"{self.count} events"
        return (
            f"rule {self.rule} failed on {events}, counted as not fired "
            f"(first: line {self.line}, event {self.event_id}: {self.why})"
        )


@dataclass(frozen=True)
class CompiledRule:
    config: AlertRuleConfig
    rule: rule_engine.Rule
    symbols: tuple[str, ...]  # the facts the condition reads, in first-use order


def compile_rule(rule: AlertRuleConfig) -> CompiledRule:
    """Compile with type checking, noting which facts the condition reads."""
    symbols: list[str] = []

    def resolve_type(name: str) -> Any:
        if name not in FACT_TYPES:
            raise rule_engine.errors.SymbolResolutionError(name)
        if name not in symbols:
            symbols.append(name)
        return FACT_TYPES[name]

    context = rule_engine.Context(type_resolver=resolve_type, mapping_attribute_lookup=False)
    try:
        compiled = rule_engine.Rule(rule.condition, context=context)
    except rule_engine.errors.RuleSyntaxError as exc:
        position = f" at column {exc.token.lexpos + 1}" if exc.token is not None else ""
        raise ConfigError(f"rule {rule.name}: syntax error{position}: {exc.message}") from exc
    except rule_engine.errors.SymbolResolutionError as exc:
        known = ", ".join(FACT_TYPES)
        raise ConfigError(
            f"rule {rule.name}: unknown field {exc.symbol_name!r} (fields: {known})"
        ) from exc
    except rule_engine.errors.EngineError as exc:
        raise ConfigError(f"rule {rule.name}: {exc.message}") from exc
    time_limit_patterns(compiled.statement.expression)
    return CompiledRule(rule, compiled, tuple(symbols))


def rule_errors(rules: list[AlertRuleConfig]) -> list[str]:
    """Every rule that does not compile, with its name and where it goes wrong."""
    errors = []
    for rule in rules:
        try:
            compile_rule(rule)
        except ConfigError as exc:
            errors.append(str(exc))
    return errors


class RuleSet:
    """The configured rules, compiled once.

    A condition's outcome depends only on the facts it reads, and most of those (scores,
    kind, tier) take few values, so each rule remembers its recent outcomes by them, and the
    set remembers whole outcomes by every fact any rule reads: ingest evaluates the engine
    only for combinations it has not just seen.

    A condition that fails on an event (`comment.length` where the comment is null,
    `drivers[5]` of two drivers) counts as not fired for it: the outcome holds `~n` for rule
    n (negative, where a fired rule is n), for ingest to report (see `failed`, `why_failed`).
    """

    def __init__(self, rules: list[AlertRuleConfig]) -> None:
        self.configs = list(rules)
        self.rules = [self._memoised(compile_rule(rule)) for rule in rules]
        self.symbols = tuple(dict.fromkeys(name for _, names, _ in self.rules for name in names))
        self._outcome = lru_cache(maxsize=CACHE_SIZE)(self._evaluate)
        self.alert_of = lru_cache(maxsize=CACHE_SIZE)(self._alert_of)
        # The customer's fields that some condition reads, as ValidEvent names them.
        self._customer_fields = [name for name in self.symbols if name in CUSTOMER_FACTS]

    @staticmethod
    def _memoised(compiled: CompiledRule) -> tuple[AlertRuleConfig, tuple[str, ...], Any]:
        symbols, rule = compiled.symbols, compiled.rule

        @lru_cache(maxsize=CACHE_SIZE)
        def matches(values: tuple[Any, ...]) -> bool | None:
            """Whether it holds; None where it fails on these values."""
            try:
                return bool(rule.matches(dict(zip(symbols, values, strict=True))))
            except Exception:  # the engine's errors, and Python's (`"x" in null`)
                return None

        return compiled.config, symbols, matches

    def evaluate(self, facts: dict[str, Any]) -> Alert | None:
        return self.alert_of(self.fired(facts))

    def fired(self, facts: dict[str, Any]) -> Fired:
        return self._outcome(tuple(facts[name] for name in self.symbols))

    def fired_by(self, values: tuple[Any, ...]) -> Fired:
        """As `fired`, given the facts' values in the order of `symbols` (as a stored row's
        columns hold them, with no dictionary made for each event)."""
        return self._outcome(values)

    def judge_alone(self, event: Any) -> Fired | None:
        """The rules a validated event fires, judged by what it carries; None when a condition
        reads a customer field the event leaves out, which the stored customer then decides.
        Ingest's reading process judges this way, ahead of the writer."""
        if any(getattr(event, name) is None for name in self._customer_fields):
            return None
        customer = SimpleNamespace(
            id=event.customer_id, name=event.customer_name, tier=event.customer_tier
        )
        return self.fired(event_facts(event, customer))

    def _evaluate(self, values: tuple[Any, ...]) -> Fired:
        facts = dict(zip(self.symbols, values, strict=True))
        fired = []
        for n, (_, symbols, matches) in enumerate(self.rules):
            holds = matches(tuple(facts[name] for name in symbols))
            if holds is not False:
                fired.append(n if holds else ~n)
        return tuple(fired)

    def _alert_of(self, fired: Fired) -> Alert | None:
        rules = tuple(self.configs[n] for n in fired if n >= 0)
        return Alert(rules) if rules else None

    def failed(self, fired: Fired) -> list[AlertRuleConfig]:
        """The rules that failed on the event instead of holding or not."""
        return [self.configs[~n] for n in fired if n < 0]

    def why_failed(self, rule: AlertRuleConfig, facts: dict[str, Any]) -> str:
        """What the engine says when `rule` is evaluated on `facts` (for a report)."""
        compiled = compile_rule(rule)
        try:
            compiled.rule.matches({name: facts[name] for name in compiled.symbols})
        except Exception as exc:
            nulls = [name for name in compiled.symbols if facts[name] is None]
            null = f" (null here: {', '.join(nulls)})" if nulls else ""
            return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}{null}"
        return "no error"


def event_facts(event: Any, customer: Any) -> dict[str, Any]:
    """What a condition can see: the event's fields and the customer's id, name and tier."""
    facts = {name: getattr(event, name) for name in EVENT_FIELDS}
    facts.update(
        drivers=tuple(event.drivers or ()),
        customer_id=customer.id,
        customer_name=customer.name,
        customer_tier=customer.tier,
    )
    return facts
