"""How much a caller may send: a request's body, stopped as it streams past the limit, and
each token's rate of requests (a token bucket)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import anyio
from starlette.requests import ClientDisconnect, Request

from cxdesk.i18n import say
from cxdesk.web.answers import HttpError

# How long a body may take to arrive, from its first byte awaited to its last: a caller that
# trickles a byte now and then would otherwise hold its connection (and its memory) forever.
BODY_SECONDS = 60.0


def _too_big(limit: int) -> HttpError:
    return HttpError(
        413,
        "body_too_large",
        say("the body is over the limit of {limit} bytes (serve.max_body)", limit=limit),
        where="body",
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to be over `limit` bytes: by its
    declared length before any of it is read, else once the bytes read pass the limit; 408
    when it has not all arrived within `BODY_SECONDS`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HttpError(
                400, "bad_length", say("Content-Length is not a number"), where="Content-Length"
            )
        if int(declared) > limit:
            raise _too_big(limit)
    chunks, size = [], 0
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_big(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise HttpError(
            408,
            "body_timeout",
            say("the body did not arrive within {seconds} s", seconds=f"{BODY_SECONDS:g}"),
            where="body",
            headers={"Connection": "close"},
        ) from None
    except ClientDisconnect:  # nobody is left to answer: no traceback for the log
        raise HttpError(
            400, "disconnected", say("the client left before the body ended"), where="body"
        ) from None
    return b"".join(chunks)


class TokenBuckets:
    """Per token, `burst` requests at once, refilled at `rate` a second. Keyed by the
    configured tokens' hashes only, so there are as many buckets as tokens."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (tokens, when counted)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Take one request from `key`'s bucket; 429, with when to try again, if empty."""
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((1 - tokens) / self.rate))
                raise HttpError(
                    429,
                    "rate_limited",
                    say(
                        "over this token's rate of {rate} requests a second (serve.rate, "
                        "serve.burst); try again in {seconds} s",
                        rate=f"{self.rate:g}",
                        seconds=wait,
                    ),
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[key] = (tokens - 1, now)
