"""Alert rules and the settings file: defaults, errors that name what and where."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from cxdesk.config import AlertRuleConfig, Settings, load_settings, parse_settings
from cxdesk.errors import ConfigError
from cxdesk.workflow.intake.rules import RuleSet, compile_rule, event_facts

RULES = RuleSet(Settings().rules)


def fire(customer_tier: str | None = "standard", **event: object) -> list[str] | None:
    fields = {
        "event_id": "e",
        "kind": "survey",
        "channel": None,
        "touchpoint": None,
        "journey": None,
        "nps": None,
        "csat": None,
        "ces": None,
        "comment": None,
        "drivers": [],
    }
    fields.update(event)
    customer = SimpleNamespace(id="c1", name="x", tier=customer_tier)
    alert = RULES.evaluate(event_facts(SimpleNamespace(**fields), customer))
    return None if alert is None else [alert.decisive.name, alert.priority, alert.decisive.queue]


@pytest.mark.parametrize(
    ("event", "tier", "expected"),
    [
        ({"nps": 6}, "standard", ["detractor", "P2", "aftersales"]),
        ({"nps": 7}, "standard", None),
        ({"nps": 0}, "gold", ["gold_detractor", "P1", "vip"]),
        ({"nps": 9}, "gold", None),
        ({"csat": 2}, None, ["low_csat", "P2", "aftersales"]),
        ({"csat": 3}, None, None),
        ({"kind": "complaint"}, None, ["complaint", "P2", "aftersales"]),
        ({"comment": "系统故障了"}, None, ["outage", "P1", "aftersales"]),
        ({"comment": "App 无法使用"}, None, ["outage", "P1", "aftersales"]),
        ({"comment": "the site is DOWN"}, None, ["outage", "P1", "aftersales"]),
        ({"comment": "downloaded fine"}, None, None),
        ({"kind": "complaint", "comment": "outage again"}, None, ["outage", "P1", "aftersales"]),
    ],
)
def test_default_rules(event: dict, tier: str | None, expected: list[str] | None) -> None:
    assert fire(tier, **event) == expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("nps <=< 6", "rule bad: syntax error at column 7"),
        ("npx <= 6", "rule bad: unknown field 'npx'"),
        ("kind < 3", "rule bad: data type mismatch"),
    ],
)
def test_rule_errors_name_the_rule_and_the_problem(condition: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        compile_rule(AlertRuleConfig(name="bad", condition=condition, priority="P1", queue="vip"))


def test_settings_file_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"policies.default.P1.first_response"):
        parse_settings(
            '[policies.default]\nP1 = {first_response = "soon", resolution = "1d"}\n'
            'P2 = {first_response = "1h", resolution = "1d"}\n'
            'P3 = {first_response = "1h", resolution = "1d"}\n'
        )
    with pytest.raises(ConfigError, match="timezon: Extra inputs are not permitted"):
        parse_settings('timezon = "UTC"')
    with pytest.raises(ConfigError, match="invalid TOML"):
        parse_settings("timezone = ")
    with pytest.raises(ConfigError, match=r"queues\.x\.team: unknown team 'nope'"):
        parse_settings('[queues.x]\nname = "X"\nteam = "nope"\n')
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        parse_settings('timezone = "Mars/Olympus"')
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(str(tmp_path / "missing.toml"))


def test_settings_file_beside_the_database_is_used(tmp_path: Path) -> None:
    (tmp_path / "cxdesk.toml").write_text(
        'timezone = "Europe/Berlin"\n[calendars.de]\ntimezone = "Europe/Berlin"\n'
        'holidays = "DE"\nhours = {mon = ["08:00-17:00"], fri = ["08:00-12:00"]}\n',
        encoding="utf-8",
    )
    settings = load_settings(None, tmp_path / "cxdesk.db")
    assert settings.timezone == "Europe/Berlin"
    assert settings.calendar("de").holidays == "DE"
    assert load_settings(None, tmp_path / "elsewhere" / "cxdesk.db").timezone == "Asia/Shanghai"


def test_durations_read_like_people_write_them() -> None:
    settings = parse_settings(
        "[policies.fast]\nat_risk = 0.5\n"
        'P1 = {first_response = "30m", resolution = "1d 4h"}\n'
        'P2 = {first_response = "2h", resolution = "PT48H"}\n'
        'P3 = {first_response = 3600, resolution = "7d"}\n'
    )
    policy = settings.policy("fast")
    assert policy.P1.first_response.total_seconds() == 1800
    assert policy.P1.resolution.total_seconds() == 28 * 3600
    assert policy.P2.resolution.total_seconds() == 48 * 3600
    assert policy.P3.first_response.total_seconds() == 3600
