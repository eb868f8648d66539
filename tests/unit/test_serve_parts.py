"""The server's parts that need no server: each token's bucket, the token table, HOST:PORT."""

from __future__ import annotations

import pytest

from cxdesk.config import ServeToken
from cxdesk.errors import ConfigError
from cxdesk.web.answers import HttpError
from cxdesk.web.callers import Tokens, mint_token, token_hash
from cxdesk.web.limits import TokenBuckets
from cxdesk.web.server import split_listen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    for _ in range(3):
        buckets.take("a")
    with pytest.raises(HttpError) as refused:
        buckets.take("a")
    assert refused.value.status == 429
    assert refused.value.headers["Retry-After"] == "1"
    buckets.take("b")  # another token's bucket is full
    clock.now += 0.5  # one request's worth at 2 a second
    buckets.take("a")
    with pytest.raises(HttpError):
        buckets.take("a")
    clock.now += 60
    for _ in range(3):  # never more than the burst, however long it waited
        buckets.take("a")
    with pytest.raises(HttpError):
        buckets.take("a")


def test_a_slow_rate_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.1, burst=1, clock=clock)
    buckets.take("a")
    with pytest.raises(HttpError) as refused:
        buckets.take("a")
    assert refused.value.headers["Retry-After"] == "10"


def test_only_a_configured_token_is_known_by_its_hash() -> None:
    token, digest = mint_token()
    assert digest == token_hash(token) and token not in digest
    tokens = Tokens(
        [ServeToken(login="x", sha256=token_hash("other")), ServeToken(login="feed", sha256=digest)]
    )
    assert tokens.login_of(f"Bearer {token}") == ("feed", digest)
    assert tokens.login_of(f"bearer  {token} ")[0] == "feed"
    for header in (None, "", "Bearer", f"Basic {token}", f"Bearer {token}x", "Bearer \udcff"):
        with pytest.raises(HttpError) as refused:
            tokens.login_of(header)
        assert refused.value.status == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("listen", "where"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("[::1]:9000", ("::1", 9000)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
    ],
)
def test_listen_is_host_and_port(listen: str, where: tuple[str, int]) -> None:
    assert split_listen(listen) == where


@pytest.mark.parametrize("listen", ["8080", ":8080", "localhost", "host:http", "host:70000"])
def test_listen_refuses_what_is_not_host_and_port(listen: str) -> None:
    with pytest.raises(ConfigError):
        split_listen(listen)
