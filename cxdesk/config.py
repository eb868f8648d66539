"""Settings: one TOML file validated by pydantic, with defaults taken from the product brief.

Looked for at `--config`, then `CXDESK_CONFIG`, then `cxdesk.toml` beside the SQLite
database; with none of them the defaults apply.

One module on purpose: the sections are small pydantic models that refer to each other
(rules to queues, queues to calendars and teams), and the checks across them read best
beside the models they check.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cxdesk.config_base import Duration, StrictModel
from cxdesk.errors import ConfigError
from cxdesk.followup_config import Argv, FollowupDeliveryConfig, ReplyBase
from cxdesk.webhook_config import WebhooksConfig

CONFIG_NAME = "cxdesk.toml"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def format_duration(value: timedelta) -> str:
    """The duration in words: `1830 days`, `1 hour`, `1 day 4 hours 30 minutes`."""
    minutes = int(value.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"))
    parts = [f"{n} {unit}{'s' if n > 1 else ''}" for n, unit in units if n]
    return " ".join(parts) or "0 minutes"


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class CalendarConfig(StrictModel):
    """When the SLA clock runs: opening hours per weekday, public holidays, own exceptions."""

    timezone: str | None = None
    always_open: bool = False
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: str | None = Field(
        default=None, description="country code for the `holidays` package, e.g. CN"
    )
    extra_holidays: list[date] = Field(default_factory=list)
    extra_workdays: list[date] = Field(default_factory=list)

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday; use one of {', '.join(WEEKDAYS)}")
            for span in spans:
                if not _HOURS.match(span):
                    raise ValueError(f"{day}: {span!r} is not a span like 09:00-18:00")
        return value

    @field_validator("holidays")
    @classmethod
    def _check_country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # The registry's codes, not `holidays.list_supported_countries()`: that imports
        # every country's module (some 250 of them) to list their subdivisions.
        from holidays.registry import EntityLoader

        if value.upper() not in EntityLoader.get_country_codes():
            raise ValueError(f"no holiday calendar for country code {value!r}")
        return value.upper()


class Target(StrictModel):
    first_response: Duration
    resolution: Duration
    calendar: str | None = Field(
        default=None, description="run this priority on another calendar (e.g. 24x7 for P1)"
    )


class PolicyConfig(StrictModel):
    """SLA targets per priority, counted on the queue's calendar."""

    P1: Target
    P2: Target
    P3: Target
    at_risk: float = Field(default=0.75, gt=0, lt=1)

    def target(self, priority: str) -> Target:
        target: Target = getattr(self, priority)
        return target


class VerifyConfig(StrictModel):
    window: Duration = timedelta(days=7)
    nps_success: int = Field(default=7, ge=0, le=10)
    csat_success: int = Field(default=4, ge=1, le=5)


def _default_calendars() -> dict[str, CalendarConfig]:
    weekdays = {day: ["09:00-18:00"] for day in WEEKDAYS[:5]}
    return {
        "24x7": CalendarConfig(always_open=True),
        "cn-business": CalendarConfig(timezone="Asia/Shanghai", hours=weekdays, holidays="CN"),
    }


def _default_policies() -> dict[str, PolicyConfig]:
    return {
        "default": PolicyConfig(
            P1=Target(
                first_response=timedelta(hours=2),
                resolution=timedelta(hours=24),
                calendar="24x7",
            ),
            P2=Target(first_response=timedelta(hours=24), resolution=timedelta(hours=48)),
            P3=Target(first_response=timedelta(hours=72), resolution=timedelta(days=7)),
        )
    }


class AlertRuleConfig(StrictModel):
    """When `condition` (rule-engine syntax, over the event and its customer) holds, alert."""

    name: str = Field(min_length=1, max_length=128)
    condition: str = Field(min_length=1)
    priority: Literal["P1", "P2", "P3"]
    queue: str
    tags: list[str] = Field(default_factory=list)


OUTAGE_WORDS = r"(?i)(故障|无法使用|outage|\\bdown\\b)"


StaffRole = Literal["agent", "supervisor", "admin"]
# An ingest account feeds events in; it works no tickets.
AccountRole = Literal["agent", "supervisor", "admin", "ingest"]


def _supervisors_and_admins() -> list[StaffRole]:
    return ["supervisor", "admin"]


def _admins_and_ingest() -> list[AccountRole]:
    return ["admin", "ingest"]


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


class TeamConfig(StrictModel):
    name: str
    supervisor: str | None = None


class QueueConfig(StrictModel):
    name: str
    team: str
    calendar: str = "24x7"
    policy: str = "default"
    assignment: Literal["manual", "round_robin", "least_loaded", "skills"] = "manual"


ViewColumn = Literal[
    "id", "priority", "stage", "queue", "assignee", "customer", "sla", "age", "title"
]


class ViewConfig(StrictModel):
    """A team's saved queue view: a filter in the queue's `/` words, an order, the columns."""

    filter: str = Field(min_length=1, description="as typed after / in the queue")
    title: str | None = Field(default=None, max_length=40)
    sort: Literal["sla", "priority", "age"] | None = None
    columns: list[ViewColumn] | None = Field(default=None, min_length=1)


def _default_teams() -> dict[str, TeamConfig]:
    return {
        "care": TeamConfig(name="Customer care 客户关怀"),
        "vip": TeamConfig(name="VIP recovery VIP挽回"),
    }


def _default_queues() -> dict[str, QueueConfig]:
    return {
        "aftersales": QueueConfig(name="After-sales 售后", team="care", calendar="cn-business"),
        "billing": QueueConfig(
            name="Billing 账单", team="care", calendar="cn-business", assignment="least_loaded"
        ),
        "vip": QueueConfig(name="VIP recovery VIP挽回", team="vip", assignment="round_robin"),
    }


class DatabaseConfig(StrictModel):
    """Where the database is and how it is kept (`--db` or `CXDESK_DB` come first)."""

    url: str | None = Field(
        default=None,
        min_length=1,
        description="the database (path or SQLAlchemy URL) unless --db or CXDESK_DB name one",
    )

    group: str | None = Field(
        default=None,
        min_length=1,
        description="Unix group given the SQLite file and its -wal/-shm (env CXDESK_GROUP)",
    )


class AuditConfig(StrictModel):
    """Where the audit chain's key is kept: never in the database itself."""

    key_file: Path | None = Field(
        default=None,
        description="the key's file; default: beside an SQLite file (`cxdesk.db.key`), or "
        "~/.config/cxdesk/audit-keys/HOST-PORT-DATABASE.key for a server database",
    )

    @field_validator("key_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class LogConfig(StrictModel):
    """Where cxdesk's log lines go (what commands did and what failed): none by default."""

    file: Path | None = Field(
        default=None, description="append log lines to this file; default: standard error"
    )
    level: Literal["debug", "info", "warning", "error"] | None = Field(
        default=None,
        description="the least severe line written (default warning); --log-level or "
        "CXDESK_LOG choose it for standard error",
    )

    @field_validator("file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None


class ServeToken(StrictModel):
    """A bearer token of `cxdesk serve`, kept as its SHA-256 only (`cxdesk serve token`)."""

    login: str = Field(min_length=1, description="the agent the token acts as")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the token's SHA-256, in hex")


class ServeConfig(StrictModel):
    """`cxdesk serve`: where it listens, who may call it, and how much one caller may send."""

    listen: str = Field(default="127.0.0.1:8080", pattern=r"^\S+:\d{1,5}$", description="HOST:PORT")
    max_body: int = Field(default=10 << 20, ge=1024, description="bytes a request may carry")
    max_records: int = Field(default=10_000, ge=1, description="events a request may carry")
    rate: float = Field(default=20, gt=0, description="requests a second a token may make")
    burst: int = Field(default=40, ge=1, description="requests a token may make at once")
    reply_rate: float = Field(default=20, gt=0, description="follow-up answers a second, in all")
    reply_burst: int = Field(default=100, ge=1, description="follow-up answers at once, in all")
    tokens: list[ServeToken] = Field(default_factory=list)

    @field_validator("tokens")
    @classmethod
    def _each_token_once(cls, value: list[ServeToken]) -> list[ServeToken]:
        hashes = [token.sha256 for token in value]
        if len(set(hashes)) != len(hashes):
            raise ValueError("the same token is listed twice")
        return value


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

    _tz = field_validator("timezone")(_check_timezone)

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
        raise ConfigError(_format_validation_error(source, exc)) from exc
    problem = rule_reference_problem(proposed.rules, queues)
    if problem is not None:
        raise ConfigError(f"{source}: {problem}")
    return proposed


def _format_validation_error(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return f"{source}: " + "; ".join(problems)


def parse_settings(text: str, source: str = CONFIG_NAME) -> Settings:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from exc


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
