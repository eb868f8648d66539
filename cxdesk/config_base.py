"""What every section of the settings is built from: strict models and durations in words.

Apart from `config.py` so that a section kept in a module of its own (`webhook_config.py`)
can use them without importing the settings that include it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

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
