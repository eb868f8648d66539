"""One delivery attempt over HTTP: the body signed, POSTed once, redirects not followed, at
most a few hundred bytes of the answer read (a receiver's error page is not our problem to
download), and what happened said in a line short enough to keep.

An attempt has one deadline, its endpoint's `timeout`, for everything from connecting to the
last byte read: a timeout per read alone would let a receiver that trickles its answer a byte
at a time hold the attempt past its lease, and another deliverer would send it again. The
attempt is async only so that it can be cancelled at that deadline wherever it waits."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import NamedTuple

import anyio
import httpx

from cxdesk.config.webhooks import WebhookEndpoint
from cxdesk.i18n import say
from cxdesk.workflow.basics.text import clean_text

SIGNATURE, TIMESTAMP, EVENT_ID = "X-Cxdesk-Signature", "X-Cxdesk-Timestamp", "X-Cxdesk-Event-Id"
ANSWER_READ = 512  # bytes of a refusal's body kept in its error
ERROR_KEPT = 500  # characters of an error kept (the outbox's column)
USER_AGENT = "cxdesk-webhooks/1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256, keyed by the secret, of `<timestamp>.<body>`: the
    timestamp is signed so that a captured delivery cannot be replayed later as new."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, event_id: str, body: bytes, now: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID: event_id,
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp, body),
    }


class Attempt(NamedTuple):
    """What one attempt came to: delivered (a 2xx), or why not."""

    ok: bool
    status: int | None = None
    error: str | None = None


def client() -> httpx.AsyncClient:
    """The one client a round sends with: no redirects followed, no cookies kept between
    receivers, and no timeout of its own: each attempt's deadline is set by `post`."""
    # identity: a refusal's first bytes are read as sent, never inflated from a small body
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    return httpx.AsyncClient(follow_redirects=False, headers=headers, timeout=None)


async def post(
    http: httpx.AsyncClient, endpoint: WebhookEndpoint, secret: str, event_id: str, body: str
) -> Attempt:
    """POST the body to the endpoint once, abandoned after the endpoint's `timeout` in all."""
    try:
        with anyio.fail_after(endpoint.timeout):
            return await _exchange(http, endpoint, secret, event_id, body)
    except TimeoutError:
        return Attempt(
            False, None, _kept(say("no answer within {seconds} s", seconds=f"{endpoint.timeout:g}"))
        )
    except httpx.HTTPError as exc:
        return Attempt(
            False,
            None,
            _kept(say("could not send: {reason}", reason=str(exc) or type(exc).__name__)),
        )


async def _exchange(
    http: httpx.AsyncClient, endpoint: WebhookEndpoint, secret: str, event_id: str, body: str
) -> Attempt:
    """The request and what its answer says, with no deadline of its own."""
    data = body.encode()
    async with http.stream(
        "POST",
        endpoint.url,
        content=data,
        headers=signed_headers(secret, event_id, data),
    ) as answer:
        status = answer.status_code
        if 200 <= status < 300:
            return Attempt(True, status)
        if answer.is_redirect:
            where = answer.headers.get("location", "")
            return Attempt(
                False,
                status,
                _kept(
                    say(
                        "HTTP {status}: redirected to {where}; redirects are not followed",
                        status=status,
                        where=where[:200],
                    )
                ),
            )
        start = await _start_of(answer)
        return Attempt(
            False, status, _kept(say("HTTP {status}: {answer}", status=status, answer=start))
        )


async def _start_of(answer: httpx.Response) -> str:
    """At most ANSWER_READ bytes of the body, however much the receiver sends."""
    got = b""
    async for chunk in answer.aiter_raw(ANSWER_READ):
        got += chunk
        if len(got) >= ANSWER_READ:
            break
    return got[:ANSWER_READ].decode("utf-8", "replace")


def _kept(message: object) -> str:
    """An error as the outbox keeps it: no control characters, one line, bounded."""
    return " ".join(clean_text(str(message)).split())[:ERROR_KEPT]
