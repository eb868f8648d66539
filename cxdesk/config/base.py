"""What every section of the settings is built from: strict models, durations in words, time
zones checked, and pydantic's complaints said as `file: where: what`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")


def parse_duration(value: Any) -> Any:
    """Accept `2h`, `7d`, `1d 4h 30m` besides what pydantic reads (seconds, ISO 8601)."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match and any(match.groups()):
            days, hours, minutes = (int(g or 0) for g in match.groups())
            return timedelta(days=days, hours=hours, minutes=minutes)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class StrictModel(BaseModel):
    """Unknown keys are errors, so a typo in the file is reported with its path."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_duration(value: timedelta) -> str:
    """The duration in words: `1830 days`, `1 hour`, `1 day 4 hours 30 minutes`."""
    minutes = int(value.total_seconds()) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"))
    parts = [f"{n} {unit}{'s' if n > 1 else ''}" for n, unit in units if n]
    return " ".join(parts) or "0 minutes"


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def format_validation_error(source: str, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {message}" if where else message)
    return f"{source}: " + "; ".join(problems)
