"""How often follow-up answers are taken (`POST /v1/followups/{token}`, no bearer token to
count by): per client address, so that one flooder is refused while every other customer's
answer is taken; per reply token, so that one survey's link tried over and over is refused
while the others still answer; and per client address again for tokens that name no survey,
so that guessing them goes at a few an hour.

The client address is the connection's, or the one a trusted proxy (`serve.proxies`) passes
in X-Forwarded-For."""

from __future__ import annotations

import hashlib
import ipaddress

from cxdesk.config import ServeConfig
from cxdesk.i18n import say
from cxdesk.web.limits import TokenBuckets, too_often

HOUR = 3600.0


def client_key(host: str | None) -> str:
    """The key a client's buckets are kept by: an IPv6 address by its /64, which one
    subscriber usually holds whole (counting each of its addresses would give it billions of
    buckets); an IPv4 address as it is, one mapped into IPv6 as IPv4."""
    if host is None:
        return "(unknown)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def token_key(token: str) -> str:
    """A reply token's key: part of its hash, so that the buckets hold no token that could be
    read back, and no key longer than this however long the path."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class ReplyLimits:
    """The three limits on follow-up answers, each a set of token buckets."""

    def __init__(self, serve: ServeConfig) -> None:
        self.clients = TokenBuckets(serve.reply_rate, serve.reply_burst)
        self.tokens = TokenBuckets(serve.reply_token_attempts / HOUR, serve.reply_token_attempts)
        self.misses = TokenBuckets(serve.reply_misses / HOUR, serve.reply_misses)

    def admit(self, client: str, token: str) -> None:
        """Count an answer from `client` for `token`; 429 when the client is over its rate or
        has tried too many tokens that name no survey, or when this token was tried too
        often."""
        wait = self.clients.take(client)
        if wait:
            raise too_often(
                say(
                    "over this address's rate of {rate} follow-up answers a second "
                    "(serve.reply_rate, serve.reply_burst); try again in {seconds} s",
                    rate=f"{self.clients.rate:g}",
                    seconds=wait,
                ),
                wait,
            )
        # Counted as a miss before the token is looked up, and given back once it names a
        # survey: counted after, guesses sent at once all passed before any was counted.
        wait = self.misses.take(client)
        if wait:
            raise too_often(
                say(
                    "too many links naming no survey from this address (serve.reply_misses "
                    "an hour); try again in {seconds} s",
                    seconds=wait,
                ),
                wait,
            )
        wait = self.tokens.take(token_key(token))
        if wait:
            self.misses.give_back(client)
            raise too_often(
                say(
                    "this survey's link was tried too often (serve.reply_token_attempts an "
                    "hour); try again in {seconds} s",
                    seconds=wait,
                ),
                wait,
            )

    def found(self, client: str) -> None:
        """Give back the miss `admit` counted: `client`'s token named a survey."""
        self.misses.give_back(client)
