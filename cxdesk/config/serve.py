"""`cxdesk serve`'s settings: where it listens, its tokens (kept as hashes), its limits."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator, model_validator

from cxdesk.config.base import StrictModel


class ServeToken(StrictModel):
    """A bearer token of `cxdesk serve`, kept as its SHA-256 only (`cxdesk serve token`)."""

    login: str = Field(min_length=1, description="the agent the token acts as")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="the token's SHA-256, in hex")


class ServeConfig(StrictModel):
    """`cxdesk serve`: where it listens, who may call it, and how much one caller may send."""

    listen: str = Field(default="127.0.0.1:8080", pattern=r"^\S+:\d{1,5}$", description="HOST:PORT")
    max_body: int = Field(default=10 << 20, ge=1024, description="bytes a request may carry")
    body_memory: int | None = Field(
        default=None,
        ge=64 << 10,
        description="bytes of request bodies held at once, in all (503 past it); "
        "default four times max_body",
    )
    max_connections: int = Field(
        default=1000, ge=1, description="connections at once; a request past them gets 503"
    )
    max_records: int = Field(default=10_000, ge=1, description="events a request may carry")
    rate: float = Field(default=20, gt=0, description="requests a second a token may make")
    burst: int = Field(default=40, ge=1, description="requests a token may make at once")
    reply_rate: float = Field(
        default=2, gt=0, description="follow-up answers a second from one client address"
    )
    reply_burst: int = Field(
        default=20, ge=1, description="follow-up answers at once from one client address"
    )
    reply_token_attempts: int = Field(
        default=10, ge=1, description="answers one reply token may be sent an hour"
    )
    reply_misses: int = Field(
        default=10, ge=1, description="tokens naming no survey one client address may try an hour"
    )
    proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="reverse proxies (addresses or networks) whose X-Forwarded-For is believed",
    )
    tokens: list[ServeToken] = Field(default_factory=list)

    @model_validator(mode="after")
    def _a_body_fits(self) -> ServeConfig:
        if self.body_memory is not None and self.body_memory < self.max_body:
            raise ValueError(
                f"body_memory ({self.body_memory}) is less than max_body ({self.max_body}): "
                "no body of max_body could be taken"
            )
        return self

    def bodies_held(self) -> int:
        """The bytes of request bodies the server holds at once."""
        return self.body_memory if self.body_memory is not None else 4 * self.max_body

    @field_validator("proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
                ) from None
        return value

    @field_validator("tokens")
    @classmethod
    def _each_token_once(cls, value: list[ServeToken]) -> list[ServeToken]:
        hashes = [token.sha256 for token in value]
        if len(set(hashes)) != len(hashes):
            raise ValueError("the same token is listed twice")
        return value
