"""How much a caller may send: a request's body, stopped as it streams past the limit, and
rates of requests (token buckets, per bearer token, client address or reply token)."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
from starlette.requests import ClientDisconnect, Request

from cxdesk.i18n import Message, say
from cxdesk.web.answers import HttpError

# How long a body may take to arrive, from its first byte awaited to its last: a caller that
# trickles a byte now and then would otherwise hold its connection (and its memory) forever.
BODY_SECONDS = 60.0
BUSY_RETRY = 1  # seconds a request refused for the bodies in flight is told to wait
# Buckets one limit holds at most: some hundred bytes each, a few megabytes in all.
MAX_KEYS = 20_000


def _too_big(limit: int) -> HttpError:
    return HttpError(
        413,
        "body_too_large",
        say("the body is over the limit of {limit} bytes (serve.max_body)", limit=limit),
        where="body",
    )


class BodyBudget:
    """The bytes of request bodies the server holds at once, in all. A body of declared
    length reserves it before any of it is read; one sent in chunks reserves each chunk as
    it comes (reserving the most it might be would let a few stalled callers hold the whole
    budget for a minute). A request that would go past the budget is answered 503. The
    ingest's own limiter lets few requests work at once, but without this the others' bodies
    would all be read, and held, while they wait their turn. Used from the event loop only,
    so it needs no lock."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.held = 0

    @asynccontextmanager
    async def body(self, request: Request, limit: int) -> AsyncIterator[bytes]:
        """The body, held against the budget until the block ends; 413 as soon as it is
        known to be over `limit` bytes (by its declared length before any of it is read,
        else once the bytes read pass it), 408 when it has not all arrived within
        `BODY_SECONDS`, 503 when the budget is spent."""
        held = 0
        try:
            declared = _declared_length(request, limit)
            if declared is not None:
                self._reserve(declared)
                held = declared
            chunks, size = [], 0
            async for chunk in _chunks(request):
                size += len(chunk)
                if size > limit:
                    raise _too_big(limit)
                if declared is None:
                    self._reserve(len(chunk))
                    held += len(chunk)
                chunks.append(chunk)
            yield b"".join(chunks)
        finally:
            self.held -= held

    def _reserve(self, size: int) -> None:
        if self.held + size > self.capacity:
            raise HttpError(
                503,
                "busy",
                say(
                    "the server holds as many request bodies as it may ({capacity} bytes, "
                    "serve.body_memory); try again in {seconds} s",
                    capacity=self.capacity,
                    seconds=BUSY_RETRY,
                ),
                headers={"Retry-After": str(BUSY_RETRY), "Connection": "close"},
            )
        self.held += size


def _declared_length(request: Request, limit: int) -> int | None:
    """The body's Content-Length, if it has one: 400 if it is no number, 413 past `limit`."""
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        raise HttpError(
            400, "bad_length", say("Content-Length is not a number"), where="Content-Length"
        )
    if int(declared) > limit:
        raise _too_big(limit)
    return int(declared)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, all of them within `BODY_SECONDS` (else 408)."""
    try:
        with anyio.fail_after(BODY_SECONDS):
            async for chunk in request.stream():
                yield chunk
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


def too_often(message: Message, wait: int) -> HttpError:
    """429, saying why, with when to try again."""
    return HttpError(429, "rate_limited", message, headers={"Retry-After": str(wait)})


class TokenBuckets:
    """Per key, `burst` requests at once, refilled at `rate` a second. At most `keys` buckets
    are held, so that keys a caller makes up (addresses, reply tokens) cannot grow them
    without end: past that the least recently used is forgotten, which errs on the side of
    letting its caller through again, never on refusing another."""

    def __init__(
        self,
        rate: float,
        burst: int,
        keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.keys = keys
        self.clock = clock
        # key: (tokens, when counted), least recently used first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Take one request from `key`'s bucket and answer 0; if it is empty, take nothing
        and answer the seconds until it holds one."""
        return self._count(key, take=True)

    def wait(self, key: str) -> int:
        """The seconds until `key`'s bucket holds one request (0: it does), taking nothing."""
        return self._count(key, take=False)

    def give_back(self, key: str) -> None:
        """Return one request taken from `key`'s bucket (its bucket never holds past `burst`)."""
        with self._lock:
            if key in self._buckets:
                tokens, then = self._buckets[key]
                self._buckets[key] = (min(float(self.burst), tokens + 1), then)

    def __len__(self) -> int:
        return len(self._buckets)

    def _count(self, key: str, *, take: bool) -> int:
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            wait = 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.rate))
            self._buckets[key] = (tokens - 1 if take and not wait else tokens, now)
            if len(self._buckets) > self.keys:
                self._buckets.popitem(last=False)
            return wait
