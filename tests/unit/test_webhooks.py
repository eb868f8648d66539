"""Webhooks without a database: the body and its signature whatever text a ticket carries,
the backoff, the endpoints' configuration."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxdesk.config import parse_settings
from cxdesk.errors import ConfigError
from cxdesk.workflow.loop.ticket_events import TicketFacts, event_body
from cxdesk.workflow.ops.webhook_http import signature, signed_headers
from tests.integration.webhook_receiver import README, verify

HOSTILE = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from('\x00\x1b[2J\r\n\t\u202e\x7f\x9b"\\/')),
    st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=50),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=3), st.integers(1, 100_000)),
)
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@settings(max_examples=100, deadline=None)
@given(
    customer=HOSTILE,
    actor=HOSTILE,
    detail=HOSTILE,
    secret=st.text(min_size=16),
    number=st.integers(1, 2**31 - 1),
)
def test_any_text_round_trips_and_its_signature_checks_out(
    customer: str, actor: str, detail: str, secret: str, number: int
) -> None:
    facts = TicketFacts(number, "case", "q", "t", "P1", "new", customer, actor, 0)
    body = event_body("e" * 32, "ticket.opened", AT, facts, actor, {"rule": detail})
    assert not any(ord(c) < 0x20 for c in body)  # every control character escaped
    told = json.loads(body)
    assert told["ticket"]["customer_id"] == customer
    assert (told["actor"], told["details"]["rule"]) == (actor, detail)
    assert told["ticket"]["ref"] == f"CX-{number:06d}"
    data = body.encode()
    headers = signed_headers(secret, "e" * 32, data)
    assert verify(secret, headers, data)
    assert not verify(secret, headers, data + b" ")
    assert not verify(secret + "x", headers, data)


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    # computed apart: printf '1700000000.{}' | openssl dgst -sha256 -hmac key16key16key16
    expected = "sha256=1d2a3a3456196bff1088254857b6013133ca90b69b8818268ced8c6903f464a0"
    assert signature("key16key16key16", 1_700_000_000, b"{}") == expected


def test_a_stale_timestamp_is_refused_by_the_recipe() -> None:
    old = signed_headers("k" * 16, "e", b"{}", now=time.time() - 3600)
    assert not verify("k" * 16, old, b"{}")


def endpoint(**fields: str) -> str:
    lines = ["[[webhooks.endpoints]]", 'name = "crm"']
    lines += [f"{key} = {value}" for key, value in fields.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"url": '"ftp://x.example/"', "secret_env": '"S"'}, "only http:// and https://"),
        ({"url": '"https://u:p@x.example/"', "secret_env": '"S"'}, "no credentials in the URL"),
        ({"url": '"https:///path"', "secret_env": '"S"'}, "no host in the URL"),
        ({"url": '"https://x.example/"'}, "give one of secret_env or secret"),
        ({"url": '"https://x"', "secret": '"short"'}, "at least 16 characters"),
        ({"url": '"https://x"', "secret_env": '"S"', "queues": '["nope"]'}, "unknown queue"),
        ({"url": '"https://x"', "secret_env": '"S"', "teams": '["nope"]'}, "unknown team"),
        ({"url": '"https://x"', "secret_env": '"S"', "events": '["ticket.eaten"]'}, "events.0"),
        ({"url": '"https://x"', "secret_env": '"S"', "timeout": "0"}, "timeout"),
    ],
)
def test_a_bad_endpoint_is_refused_naming_where(fields: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError, match="webhooks") as refused:
        parse_settings(endpoint(**fields))
    assert said in str(refused.value)


def test_the_readmes_example_config_is_valid() -> None:
    section = README.read_text(encoding="utf-8").split("## Webhooks", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    (crm,) = parse_settings(example).webhooks.endpoints
    assert (crm.secret_env, crm.queues, crm.timeout) == ("CXDESK_WEBHOOK_CRM", ["vip"], 10)


def test_two_endpoints_may_not_share_a_name() -> None:
    one = endpoint(url='"https://x"', secret_env='"S"')
    with pytest.raises(ConfigError, match="two endpoints named 'crm'"):
        parse_settings(one + one)
