"""Durations as the config file writes them (`2h`, `7d`, `1d 4h 30m`), for every settings
module."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

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
