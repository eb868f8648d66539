"""What `cxdesk serve` bounds by itself, on each backend: the request bodies it holds at once
(503 with Retry-After past `body_memory`, however many callers are still sending), the
connections it serves at once (`max_connections`), and the size of a request's head.

A request is known to be held by the server when it has been told `100 Continue`: uvicorn
sends that once the route starts reading the body, which is after the route reserved it."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from pydantic import ValidationError

from cxdesk.config import ServeConfig
from tests.integration.serving import Desk, auth, beside, desk_on, settings

HELD = 32 << 10  # bytes each held request declares


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    with desk_on(request.param, tmp_path_factory.mktemp("limits")) as running:
        yield running


class Held:
    """A POST /v1/events whose body the server is reading, and that is not finished."""

    def __init__(self, base: str, length: int | None) -> None:
        """`length` None: the body is sent in chunks, with no length declared."""
        host, port = base.removeprefix("http://").split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=60)
        self.length = length
        size = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
        head = (
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: {auth('feed')['Authorization']}\r\n"
            f"{size}\r\nExpect: 100-continue\r\n\r\n"
        )
        self.socket.sendall(head.encode())
        self.answers = self.socket.makefile("rb")
        told = self.answers.readline()
        assert told.split()[1] == b"100", told  # the server reserved its body and reads it
        assert self.answers.readline() == b"\r\n"

    def finish(self) -> int:
        """Send the rest of the body (an array of blanks: no event); the answer's status."""
        assert self.length is not None
        self.socket.sendall(b"[" + b" " * (self.length - 2) + b"]")
        return self.status()

    def chunk(self, data: bytes) -> None:
        self.socket.sendall(b"%x\r\n%s\r\n" % (len(data), data))

    def status(self) -> int:
        status = int(self.answers.readline().split()[1])
        self.close()
        return status

    def close(self) -> None:
        self.answers.close()
        self.socket.close()


@contextmanager
def holding(base: str, *lengths: int | None) -> Iterator[list[Held]]:
    with ExitStack() as stack:
        held = []
        for length in lengths:
            one = Held(base, length)
            stack.callback(one.close)
            held.append(one)
        yield held


def post(http: httpx.Client) -> httpx.Response:
    return http.post("/v1/events", json=[], headers=auth("feed"))


def test_bodies_past_the_budget_are_refused_until_one_is_done(desk: Desk) -> None:
    config = settings(max_body=HELD, body_memory=2 * HELD)
    with (
        beside(desk.db, config) as base,
        httpx.Client(base_url=base, timeout=60) as http,
        holding(base, HELD, HELD) as (first, _second),
    ):
        busy = post(http)
        assert (busy.status_code, busy.json()["error"]["code"]) == (503, "busy")
        assert busy.headers["Retry-After"] == "1"
        assert "serve.body_memory" in busy.json()["error"]["message"]
        # follow-up answers share the budget
        assert http.post("/v1/followups/any-token", json={"nps": 9}).status_code == 503
        assert first.finish() == 422  # answered: its body is no longer held
        assert post(http).status_code == 422  # an empty array: read, and refused as such
    # Small bodies fit many at once: the budget counts the bytes declared.
    with beside(desk.db, config) as base, holding(base, *[HELD // 8] * 12):
        pass


def test_a_chunked_body_holds_the_bytes_it_sent_not_the_most_it_may(desk: Desk) -> None:
    """Bodies sent in chunks, stalled after their first: others are still served. And their
    chunks count, as they come: one past what is left of the budget is refused."""
    config = settings(max_body=2 * HELD, body_memory=3 * HELD)
    with (
        beside(desk.db, config) as base,
        httpx.Client(base_url=base, timeout=60) as http,
        holding(base, *[None] * 4) as stalled,
    ):
        for one in stalled:
            one.chunk(b"[ ")
        assert post(http).status_code == 422  # read and refused as an empty array; not 503
        with holding(base, 2 * HELD) as (declared,):  # a third of the budget is left
            stalled[0].chunk(b" " * (HELD + 1))
            assert stalled[0].status() == 503
            assert declared.finish() == 422


def test_connections_past_the_limit_are_answered_503(desk: Desk) -> None:
    """Two connections held, a third is one too many (uvicorn counts the one asking)."""
    with (
        beside(desk.db, settings(max_connections=3)) as base,
        holding(base, 1000, 1000),
        httpx.Client(base_url=base, timeout=60) as http,
    ):
        assert http.get("/healthz").status_code == 503
    with beside(desk.db, settings(max_connections=3)) as base, httpx.Client(base_url=base) as http:
        assert http.get("/healthz").status_code == 200


def test_a_request_head_that_never_ends_is_refused(desk: Desk) -> None:
    """h11 keeps at most 16 KiB of a head still incomplete (a head that arrives whole in
    one read of the socket is parsed at once): a caller cannot grow it without end."""
    with httpx.Client(base_url=desk.url, timeout=60) as http:
        assert http.get("/healthz", headers={"X-Pad": "x" * (8 << 10)}).status_code == 200
        assert http.get("/healthz", headers={"X-Pad": "x" * (1 << 20)}).status_code == 400


def test_the_budget_must_hold_one_body() -> None:
    with pytest.raises(ValidationError, match="body_memory"):
        ServeConfig(max_body=1 << 20, body_memory=512 << 10)
    assert ServeConfig(max_body=1 << 20).bodies_held() == 4 << 20
