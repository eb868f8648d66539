"""The follow-up survey's settings: when an answer verifies a fix (`[verify]`), and how cxdesk
runs the command that sends each survey: the command and the reply address are top-level keys
(`followup_command`, `followup_reply_base`), the rest a `[followup_delivery]` table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from cxdesk.config.base import Duration, StrictModel


class VerifyConfig(StrictModel):
    window: Duration = timedelta(days=7)
    nps_success: int = Field(default=7, ge=0, le=10)
    csat_success: int = Field(default=4, ge=1, le=5)

    def verified_by(self, nps: int | None, csat: int | None) -> bool:
        """Whether a follow-up answer with these scores verifies the resolution."""
        return (nps is not None and nps >= self.nps_success) or (
            csat is not None and csat >= self.csat_success
        )


def _check_argv(argv: list[str]) -> list[str]:
    """An argument list runs without a shell; a NUL byte cannot be passed to a program."""
    if any("\x00" in arg for arg in argv):
        raise ValueError("an argument holds a NUL byte")
    if not argv[0].strip():
        raise ValueError("the program's name is empty")
    return argv


Argv = Annotated[list[str], Field(min_length=1), AfterValidator(_check_argv)]


def _check_reply_base(value: str | None) -> str | None:
    """An http(s) address the reply token is appended to, printable as it stands."""
    if value is None:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("spaces or control characters in the address")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http:// or https:// address")
    if parts.query or parts.fragment:
        raise ValueError("the address ends in a path; the token is appended to it")
    return value


ReplyBase = Annotated[str | None, AfterValidator(_check_reply_base)]


def reply_url(base: str, token: str) -> str:
    """The address an answer to the survey with `token` is posted to."""
    return base.rstrip("/") + "/" + token


class FollowupDeliveryConfig(BaseModel):
    """How surveys are sent: at most one per customer in `suppress_days`, each tried up to
    `max_attempts` times, `backoff_base` after the first failure, doubling up to
    `backoff_cap`; the command is stopped after `timeout`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suppress_days: int = Field(
        default=7, ge=0, le=3650, description="no second survey to a customer within (0: off)"
    )
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_base: Duration = Field(default=timedelta(minutes=1), gt=timedelta(0))
    backoff_cap: Duration = Field(default=timedelta(hours=6), gt=timedelta(0))
    timeout: Duration = Field(default=timedelta(seconds=30), gt=timedelta(0), le=timedelta(hours=1))
    per_pass: int = Field(
        default=200, ge=1, description="surveys a sweep sends at most, so that it comes back"
    )

    @model_validator(mode="after")
    def _cap_at_least_base(self) -> FollowupDeliveryConfig:
        if self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_cap is shorter than backoff_base")
        return self
