"""The SLA clocks' settings: working calendars (hours, holidays, exceptions) and the policies
that give each priority its targets on one of them."""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import Field, field_validator

from cxdesk.config.base import Duration, StrictModel, check_timezone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


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

    _tz = field_validator("timezone")(check_timezone)

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
