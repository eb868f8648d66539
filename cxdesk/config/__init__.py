"""Settings: one TOML file validated by pydantic, with defaults taken from the product brief.

Looked for at `--config`, then `CXDESK_CONFIG`, then `cxdesk.toml` beside the SQLite
database; with none of them the defaults apply. Each section is a model in a module of this
package; `Settings` puts them together and checks what refers across them (rules to queues,
queues to calendars and teams, webhooks to both).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from cxdesk.config.base import (
    Duration,
    StrictModel,
    check_timezone,
    format_duration,
    format_validation_error,
)
from cxdesk.config.clocks import (
    WEEKDAYS,
    CalendarConfig,
    PolicyConfig,
    Target,
    _default_calendars,
    _default_policies,
)
from cxdesk.config.followups import Argv, FollowupDeliveryConfig, ReplyBase, VerifyConfig
from cxdesk.config.intake import (
    AlertRuleConfig,
    IngestConfig,
    MetricAlertsConfig,
    RulesFile,
    _default_rules,
    parse_rules_file,
    rule_reference_problem,
)
from cxdesk.config.org import (
    AccountRole,
    QueueConfig,
    StaffRole,
    TeamConfig,
    ViewConfig,
    _admins_and_ingest,
    _default_queues,
    _default_teams,
    _supervisors_and_admins,
)
from cxdesk.config.serve import ServeConfig, ServeToken
from cxdesk.config.system import AuditConfig, DatabaseConfig, LogConfig
from cxdesk.config.webhooks import WebhooksConfig
from cxdesk.errors import ConfigError

__all__ = [
    "WEEKDAYS",
    "AlertRuleConfig",
    "AuditConfig",
    "CalendarConfig",
    "DatabaseConfig",
    "Duration",
    "IngestConfig",
    "LogConfig",
    "MetricAlertsConfig",
    "PolicyConfig",
    "QueueConfig",
    "RulesFile",
    "ServeConfig",
    "ServeToken",
    "Settings",
    "Target",
    "TeamConfig",
    "ViewConfig",
    "find_config",
    "format_duration",
    "load_settings",
    "parse_rules_file",
    "parse_settings",
]

CONFIG_NAME = "cxdesk.toml"


class Settings(StrictModel):
    timezone: str = "Asia/Shanghai"
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    log: LogConfig = Field(default_factory=LogConfig)
    calendars: dict[str, CalendarConfig] = Field(default_factory=_default_calendars)
    policies: dict[str, PolicyConfig] = Field(default_factory=_default_policies)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    cx_managers: list[str] = Field(
        default_factory=list, description="logins notified at escalation level 2"
    )
    teams: dict[str, TeamConfig] = Field(default_factory=_default_teams)
    queues: dict[str, QueueConfig] = Field(default_factory=_default_queues)
    views: dict[str, ViewConfig] = Field(
        default_factory=dict, description="saved queue views, after the built-in ones"
    )
    rules: list[AlertRuleConfig] = Field(default_factory=_default_rules)
    metric_alerts: MetricAlertsConfig = Field(default_factory=MetricAlertsConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    webhooks: WebhooksConfig = Field(default_factory=WebhooksConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    notify_command: list[str] | None = Field(
        default=None, description="argv run with each notification as JSON on stdin"
    )
    followup_command: Argv | None = Field(
        default=None, description="argv the sweep runs with each due survey as JSON on stdin"
    )
    followup_reply_base: ReplyBase = Field(
        default=None, description="http(s) address a survey's reply token is appended to"
    )
    followup_delivery: FollowupDeliveryConfig = Field(default_factory=FollowupDeliveryConfig)
    pii_roles: list[StaffRole] = Field(
        default_factory=_supervisors_and_admins,
        description="roles that see customers' phone and email unmasked",
    )
    ingest_roles: list[AccountRole] = Field(
        default_factory=_admins_and_ingest,
        description="roles that may ingest events and read the quarantine's raw records",
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_with_defaults(cls, data: Any) -> Any:
        """Named sections add to (or replace by name) the built-in ones, not the whole set."""
        if isinstance(data, dict):
            for key, defaults in (
                ("calendars", _default_calendars),
                ("policies", _default_policies),
                ("teams", _default_teams),
                ("queues", _default_queues),
            ):
                if isinstance(data.get(key), dict):
                    data = {**data, key: {**defaults(), **data[key]}}
        return data

    @model_validator(mode="after")
    def _check_references(self) -> Settings:
        for queue_id, queue in self.queues.items():
            where = f"queues.{queue_id}"
            if queue.team not in self.teams:
                raise ValueError(f"{where}.team: unknown team {queue.team!r}")
            if queue.calendar not in self.calendars:
                raise ValueError(f"{where}.calendar: unknown calendar {queue.calendar!r}")
            if queue.policy not in self.policies:
                raise ValueError(f"{where}.policy: unknown SLA policy {queue.policy!r}")
        for policy_id, policy in self.policies.items():
            for priority in ("P1", "P2", "P3"):
                name = policy.target(priority).calendar
                if name is not None and name not in self.calendars:
                    raise ValueError(
                        f"policies.{policy_id}.{priority}.calendar: unknown calendar {name!r}"
                    )
        if self.metric_alerts.queue not in self.queues:
            raise ValueError(f"metric_alerts.queue: unknown queue {self.metric_alerts.queue!r}")
        problem = rule_reference_problem(self.rules, self.queues)
        if problem is not None:
            raise ValueError(problem)
        for endpoint in self.webhooks.endpoints:
            where = f"webhooks.endpoints {endpoint.name}"
            for queue_id in endpoint.queues:
                if queue_id not in self.queues:
                    raise ValueError(f"{where}.queues: unknown queue {queue_id!r}")
            for team_id in endpoint.teams:
                if team_id not in self.teams:
                    raise ValueError(f"{where}.teams: unknown team {team_id!r}")
        return self

    _tz = field_validator("timezone")(check_timezone)

    def calendar(self, name: str) -> CalendarConfig:
        try:
            return self.calendars[name]
        except KeyError:
            known = sorted(self.calendars)
            raise ConfigError(f"unknown calendar {name!r}; defined: {known}") from None

    def policy(self, name: str) -> PolicyConfig:
        try:
            return self.policies[name]
        except KeyError:
            known = sorted(self.policies)
            raise ConfigError(f"unknown SLA policy {name!r}; defined: {known}") from None


def parse_settings(text: str, source: str = CONFIG_NAME) -> Settings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from exc


def find_config(explicit: str | None, database_file: Path | None) -> Path | None:
    """The config file that applies, or None to use the defaults."""
    if explicit or os.environ.get("CXDESK_CONFIG"):
        path = Path(explicit or os.environ["CXDESK_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        return path
    if database_file is not None:
        beside = database_file.parent / CONFIG_NAME
        if beside.is_file():
            return beside
    return None


def load_settings(explicit: str | None = None, database_file: Path | None = None) -> Settings:
    path = find_config(explicit, database_file)
    if path is None:
        return Settings()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    return parse_settings(text, str(path))
