"""Alert rules: conditions in rule-engine's language over a feedback event and its customer.

rule-engine gives a real grammar with type checking at compile time, so a typo in a field
name or comparing text to a number is reported when the config is checked, not at ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rule_engine

from cxdesk.config import AlertRuleConfig
from cxdesk.errors import ConfigError
from cxdesk.models import Priority

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
_CONTEXT = rule_engine.Context(
    type_resolver=rule_engine.type_resolver_from_dict(FACT_TYPES),
    mapping_attribute_lookup=False,
)


@dataclass(frozen=True)
class Alert:
    """The outcome for one event: every rule that fired, and the one that decides."""

    fired: tuple[AlertRuleConfig, ...]

    @property
    def decisive(self) -> AlertRuleConfig:
        """The most urgent rule; among equals, the first in the config."""
        return min(self.fired, key=lambda rule: Priority(rule.priority))

    @property
    def priority(self) -> str:
        return self.decisive.priority

    @property
    def tags(self) -> list[str]:
        return sorted({tag for rule in self.fired for tag in rule.tags})


def compile_rule(rule: AlertRuleConfig) -> rule_engine.Rule:
    try:
        return rule_engine.Rule(rule.condition, context=_CONTEXT)
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
    """The configured rules, compiled once."""

    def __init__(self, rules: list[AlertRuleConfig]) -> None:
        self.rules = [(rule, compile_rule(rule)) for rule in rules]

    def evaluate(self, facts: dict[str, Any]) -> Alert | None:
        fired = tuple(rule for rule, compiled in self.rules if compiled.matches(facts))
        return Alert(fired) if fired else None


def event_facts(event: Any, customer: Any) -> dict[str, Any]:
    """What a condition can see: the event's fields and the customer's id, name and tier."""
    facts = {name: getattr(event, name, None) for name in FACT_TYPES}
    facts["drivers"] = tuple(facts["drivers"] or ())
    facts.update(customer_id=customer.id, customer_name=customer.name, customer_tier=customer.tier)
    return facts
