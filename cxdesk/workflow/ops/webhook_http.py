"""One delivery attempt over HTTP: the body signed, POSTed once, redirects not followed, at
most a few hundred bytes of the answer read (a receiver's error page is not our problem to
download), and what happened said in a line short enough to keep."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import NamedTuple

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


def client() -> httpx.Client:
    """The one client a pass sends with: no redirects followed, no cookies kept between
    receivers, each request's timeout its endpoint's."""
    # identity: a refusal's first bytes are read as sent, never inflated from a small body
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    return httpx.Client(follow_redirects=False, headers=headers)


def post(
    http: httpx.Client, endpoint: WebhookEndpoint, secret: str, event_id: str, body: str
) -> Attempt:
    """POST the body to the endpoint once."""
    data = body.encode()
    try:
        with http.stream(
            "POST",
            endpoint.url,
            content=data,
            headers=signed_headers(secret, event_id, data),
            timeout=endpoint.timeout,
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
            return Attempt(
                False,
                status,
                _kept(say("HTTP {status}: {answer}", status=status, answer=_start_of(answer))),
            )
    except httpx.TimeoutException:
        return Attempt(
            False, None, _kept(say("no answer within {seconds} s", seconds=f"{endpoint.timeout:g}"))
        )
    except httpx.HTTPError as exc:
        return Attempt(
            False,
            None,
            _kept(say("could not send: {reason}", reason=str(exc) or type(exc).__name__)),
        )


def _start_of(answer: httpx.Response) -> str:
    """At most ANSWER_READ bytes of the body, however much the receiver sends."""
    got = b""
    for chunk in answer.iter_raw(ANSWER_READ):
        got += chunk
        if len(got) >= ANSWER_READ:
            break
    return got[:ANSWER_READ].decode("utf-8", "replace")


def _kept(message: object) -> str:
    """An error as the outbox keeps it: no control characters, one line, bounded."""
    return " ".join(clean_text(str(message)).split())[:ERROR_KEPT]
