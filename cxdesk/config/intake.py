"""What feedback does on its way in: the alert rules, the metric alerts over windows, and how
far from now an event may be dated; and a proposed rules file, checked as the config is."""

from __future__ import annotations

import tomllib
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cxdesk.config.base import Duration, StrictModel, format_validation_error
from cxdesk.config.org import QueueConfig
from cxdesk.errors import ConfigError


class AlertRuleConfig(StrictModel):
    """When `condition` (rule-engine syntax, over the event and its customer) holds, alert."""

    name: str = Field(min_length=1, max_length=128)
    condition: str = Field(min_length=1)
    priority: Literal["P1", "P2", "P3"]
    queue: str
    tags: list[str] = Field(default_factory=list)


OUTAGE_WORDS = r"(?i)(故障|无法使用|outage|\\bdown\\b)"


def _default_rules() -> list[AlertRuleConfig]:
    detractor = "nps != null and nps <= 6"
    return [
        AlertRuleConfig(name="detractor", condition=detractor, priority="P2", queue="aftersales"),
        AlertRuleConfig(
            name="gold_detractor",
            condition=f'{detractor} and customer_tier == "gold"',
            priority="P1",
            queue="vip",
            tags=["vip"],
        ),
        AlertRuleConfig(
            name="low_csat",
            condition="csat != null and csat <= 2",
            priority="P2",
            queue="aftersales",
        ),
        AlertRuleConfig(
            name="complaint", condition='kind == "complaint"', priority="P2", queue="aftersales"
        ),
        AlertRuleConfig(
            name="outage",
            condition=f'comment != null and comment =~~ "{OUTAGE_WORDS}"',
            priority="P1",
            queue="aftersales",
            tags=["outage"],
        ),
    ]


class MetricAlertsConfig(StrictModel):
    """Three-colour alerts over rolling windows; each opens one problem ticket per scope."""

    queue: str = "aftersales"
    complaint_rise: float = Field(default=0.15, gt=0, description="red: day-over-day rise")
    complaint_rise_days: int = Field(default=3, ge=1)
    gold_detractors: int = Field(default=3, ge=1, description="red: within 24 h")
    csat_drop_points: float = Field(default=5, gt=0, description="yellow: queue CSAT, week")
    nps_drop_points: float = Field(default=5, gt=0, description="yellow: touchpoint NPS, week")
    min_answers: int = Field(default=30, ge=1, description="per week, before a drop counts")
    # The windows are days and weeks wide: the sweep (every 30 s under `watch`) looks again
    # only this long after its last look, so its passes stay cheap at any volume.
    every: Duration = Field(default=timedelta(minutes=5), description="evaluated at most so often")
    # A resolved problem is verified by its metric over this window, from its resolution;
    # fewer answers than this in the window leave it closed unverified.
    verify_window: Duration = Field(default=timedelta(days=14), description="problems' verify")
    verify_min_answers: int = Field(default=20, ge=1, description="answers a verification needs")


class IngestConfig(StrictModel):
    """How far from the ingest's clock an event's `occurred_at` may be. Back-fills of a few
    years are normal; a future beyond clock skew is a wrong clock or time zone upstream, and
    an alert dated decades away would start an SLA clock nobody can read. Bounded so that
    working time from any accepted event to now stays countable on a calendar."""

    past: Duration = Field(default=timedelta(days=1830), gt=timedelta(0), le=timedelta(days=7320))
    future: Duration = Field(default=timedelta(hours=1), ge=timedelta(0), le=timedelta(days=366))


def rule_reference_problem(
    rules: list[AlertRuleConfig], queues: dict[str, QueueConfig]
) -> str | None:
    """The first rule naming a queue that is not configured, or a name already taken."""
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.queue not in queues:
            return f"rules[{index}] {rule.name}: unknown queue {rule.queue!r}"
        if rule.name in seen:
            return f"rules[{index}]: duplicate rule name {rule.name!r}"
        seen.add(rule.name)
    return None


class RulesFile(BaseModel):
    """A proposed rule set: the `[[rules]]` of a file written as the config writes them (the
    file may be a whole config; its other tables are not read)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rules: list[AlertRuleConfig]


def parse_rules_file(text: str, source: str, queues: dict[str, QueueConfig]) -> RulesFile:
    """The rules of a proposed rules file, checked against the configured queues."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    if "rules" not in data:
        raise ConfigError(f"{source}: no [[rules]] in it")
    try:
        proposed = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from exc
    problem = rule_reference_problem(proposed.rules, queues)
    if problem is not None:
        raise ConfigError(f"{source}: {problem}")
    return proposed
