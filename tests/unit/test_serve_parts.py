"""The server's parts that need no server: the rate buckets and their keys, the token table,
HOST:PORT."""

from __future__ import annotations

import pytest

from cxdesk.config import ServeToken
from cxdesk.errors import ConfigError
from cxdesk.web.answers import HttpError
from cxdesk.web.callers import Tokens, mint_token, token_hash
from cxdesk.web.limits import TokenBuckets
from cxdesk.web.reply_limits import client_key, token_key
from cxdesk.web.server import split_listen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_refills_at_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == 1  # refused: a second to wait
    assert buckets.take("b") == 0  # another key's bucket is full
    clock.now += 0.5  # one request's worth at 2 a second
    assert (buckets.take("a"), buckets.take("a")) == (0, 1)
    clock.now += 60
    # never more than the burst, however long it waited
    assert [buckets.take("a") for _ in range(4)] == [0, 0, 0, 1]


def test_a_slow_rate_says_how_long_to_wait() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.1, burst=1, clock=clock)
    assert buckets.take("a") == 0
    assert buckets.take("a") == 10


def test_waiting_is_told_without_taking() -> None:
    buckets = TokenBuckets(rate=1, burst=1, clock=Clock())
    assert (buckets.wait("a"), buckets.wait("a")) == (0, 0)
    assert (buckets.take("a"), buckets.wait("a")) == (0, 1)


def test_the_buckets_held_are_bounded_the_least_recently_used_forgotten() -> None:
    """Keys made up by callers (addresses, reply tokens) cannot grow the buckets without end;
    a forgotten bucket is a full one again."""
    buckets = TokenBuckets(rate=0.001, burst=1, keys=3, clock=Clock())
    for key in ("a", "b", "c"):
        assert buckets.take(key) == 0
    assert buckets.take("a") > 0  # "a" is now the most recently used
    for n in range(10_000):
        buckets.take(f"flood-{n}")
        assert len(buckets) <= 3
    assert buckets.take("b") == 0  # forgotten long ago, so full again


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same subscriber's /64
        ("::ffff:203.0.113.7", "203.0.113.7"),
        (None, "(unknown)"),
    ],
)
def test_a_client_is_counted_by_its_address_an_ipv6_one_by_its_64(
    host: str | None, key: str
) -> None:
    assert client_key(host) == key


def test_reply_tokens_are_kept_as_hashes() -> None:
    assert "secret-token" not in token_key("secret-token")
    assert len(token_key("x" * 10_000)) == len(token_key("y")) == 32


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
