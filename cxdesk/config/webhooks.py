"""The `[webhooks]` section: where ticket events are sent, signed, and how hard to try.

A module of its own so that the settings stay one screenful per concern; `Settings` checks
the queues and teams an endpoint names against its own."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from cxdesk.config.base import Duration, StrictModel

WebhookEvent = Literal[
    "ticket.opened",
    "ticket.escalated",
    "ticket.breached",
    "ticket.resolved",
    "ticket.verified",
    "ticket.reopened",
]
WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    "ticket.opened",
    "ticket.escalated",
    "ticket.breached",
    "ticket.resolved",
    "ticket.verified",
    "ticket.reopened",
)
MIN_SECRET = 16  # characters of a signing secret: a short one can be guessed from signatures
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _all_events() -> list[WebhookEvent]:
    return list(WEBHOOK_EVENTS)


class WebhookEndpoint(StrictModel):
    """One receiver: its URL, the secret its deliveries are signed with, what it hears of."""

    name: str = Field(description="how deliveries and `webhooks list` name it")
    url: str = Field(description="http or https; redirects are not followed")
    secret: str | None = Field(
        default=None,
        description="the signing secret itself; only in a file no one else can read",
    )
    secret_env: str | None = Field(
        default=None, description="the environment variable holding the signing secret"
    )
    events: list[WebhookEvent] = Field(default_factory=_all_events, min_length=1)
    queues: list[str] = Field(default_factory=list, description="only these queues' tickets")
    teams: list[str] = Field(default_factory=list, description="only these teams' tickets")
    timeout: float = Field(
        default=10, gt=0, le=60, description="seconds for a whole attempt, answer included"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a name: lower-case letters, digits, - and _, "
                "at most 64, starting with a letter or digit"
            )
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value)
            no_port = parts.port == 0  # a port out of range or not a number raises
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a URL: {exc}") from None
        if no_port:
            raise ValueError(f"{value!r}: port 0")
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{value!r}: only http:// and https:// URLs are sent to")
        if not parts.hostname:
            raise ValueError(f"{value!r}: no host in the URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError(f"{value!r}: no credentials in the URL; deliveries are signed")
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
            raise ValueError(f"{value!r}: spaces or control characters in the URL")
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_SECRET:
            raise ValueError(f"at least {MIN_SECRET} characters")
        return value

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookEndpoint:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError(f"webhook {self.name}: give one of secret_env or secret")
        return self

    def signing_secret(self) -> str | None:
        """The secret as delivery finds it: None when its variable is unset or too short."""
        if self.secret is not None:
            return self.secret
        value = os.environ.get(self.secret_env or "")
        return value if value is not None and len(value) >= MIN_SECRET else None

    def wants(self, kind: str, queue_id: str, team_id: str) -> bool:
        """Whether an event of `kind` on a ticket of this queue and team is sent here."""
        return (
            kind in self.events
            and (not self.queues or queue_id in self.queues)
            and (not self.teams or team_id in self.teams)
        )


class WebhooksConfig(StrictModel):
    """Ticket events, out to receivers over HTTP, at least once, from a durable outbox."""

    endpoints: list[WebhookEndpoint] = Field(default_factory=list)
    max_attempts: int = Field(default=8, ge=1, le=50, description="then a delivery fails")
    keep: Duration = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description="delivered and failed deliveries are deleted after this long",
    )

    @field_validator("endpoints")
    @classmethod
    def _unique_names(cls, value: list[WebhookEndpoint]) -> list[WebhookEndpoint]:
        seen: set[str] = set()
        for endpoint in value:
            if endpoint.name in seen:
                raise ValueError(f"two endpoints named {endpoint.name!r}")
            seen.add(endpoint.name)
        return value

    def by_name(self) -> dict[str, WebhookEndpoint]:
        return {endpoint.name: endpoint for endpoint in self.endpoints}
