"""Hostile bodies sent to `cxdesk serve`: whatever comes in, the answer is JSON whose text is
inert (no control, escape or bidi character, raw or once decoded), a bad record is
quarantined with its reason, and the server goes on answering."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk import logs
from cxdesk.config import LogConfig
from tests.integration.serving import Desk, auth, desk_on, event, logged

LINES = {**auth("feed"), "Content-Type": "application/x-ndjson"}
JSON = {**auth("feed"), "Content-Type": "application/json"}
# What no answer may carry, in its bytes or in any string once decoded.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
ANSWERS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    with desk_on(request.param, tmp_path_factory.mktemp("hostile")) as running:
        yield running


@pytest.fixture
def client(desk: Desk) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=desk.url, timeout=120) as http:
        yield http


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def inert(answer: httpx.Response) -> Any:
    """The answer's JSON, once its bytes and its strings are found inert."""
    assert answer.headers["content-type"] == "application/json"
    assert not UNSAFE.search(answer.content.decode("utf-8"))
    body = answer.json()
    for text in strings(body):
        assert not UNSAFE.search(text), text
    return body


def test_control_characters_in_records_are_not_echoed(client: httpx.Client) -> None:
    hostile = event("esc-\x1b[2J\x00-1", "ESC1", comment="\x1b]0;owned\x07 \u202egnp.exe")
    lines = [
        json.dumps(hostile),
        '{"event_id": "esc-\\u001b[31m-2", "kind": "survey"}',
        "\x1b[2J not json \x00",
        '{"event_id": "bidi-\u202e-3", "kind": 5}',
    ]
    answer = client.post("/v1/events", content="\n".join(lines).encode(), headers=LINES)
    assert answer.status_code == 207
    results = inert(answer)["results"]
    assert [r["status"] for r in results[1:]] == ["quarantined"] * 3
    assert "\\x1b" in results[1]["event_id"]


def test_bytes_that_are_not_utf_8_are_quarantined_by_line(client: httpx.Client) -> None:
    good = json.dumps(event("utf-1", "UTF1", nps=9)).encode()
    body = good + b"\n" + b'{"event_id": "utf-\xff\xfe-2"}' + b"\n" + b"\xc3\x28\n"
    answer = client.post("/v1/events", content=body, headers=LINES)
    results = inert(answer)["results"]
    assert [r["status"] for r in results] == ["accepted", "quarantined", "quarantined"]
    assert results[1]["reason"] == results[2]["reason"] == "not valid UTF-8"


def test_a_line_of_ten_megabytes_is_refused_and_the_others_taken(
    client: httpx.Client, desk: Desk
) -> None:
    huge = json.dumps(event("huge-1", "HUGE1", comment="x" * 10_000_000)).encode()
    body = huge + b"\n" + json.dumps(event("huge-2", "HUGE2", nps=9)).encode()
    answer = client.post("/v1/events", content=body, headers=LINES)
    assert answer.status_code == 207
    refused, taken = inert(answer)["results"]
    assert refused["status"] == "quarantined" and "longer than the limit" in refused["reason"]
    assert taken["status"] == "accepted"
    stored = desk.scalar(
        "SELECT length(raw) FROM quarantine WHERE source = :s",
        s=f"http:feed:{answer.json()['request_id']}",
    )
    assert stored < 10_000  # its head, not ten megabytes


def test_deep_nesting_in_a_line_is_one_record_refused(client: httpx.Client) -> None:
    deep = '{"event_id": "deep-1", "customer": ' + "[" * 100_000 + "]" * 100_000 + "}"
    body = (deep + "\n" + json.dumps(event("deep-2", "DEEP2", nps=9))).encode()
    answer = client.post("/v1/events", content=body, headers=LINES)
    assert [r["status"] for r in inert(answer)["results"]] == ["quarantined", "accepted"]


def test_a_hostile_path_reaches_the_log_inert(client: httpx.Client, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    logs.follow_requests(LogConfig(file=log))
    try:
        answer = client.get("/v1/tickets/%1b%5b2J%00%e2%80%ae", headers=auth("li"))
        line = logged(log, 1)
    finally:
        logs.follow_requests(LogConfig())
    assert answer.status_code == 404
    inert(answer)
    assert not UNSAFE.search(line.rstrip("\n"))
    assert json.loads(line)["path"].startswith("/v1/tickets/\\x1b")


@ANSWERS
@given(body=st.binary(max_size=3000))
def test_any_bytes_as_json_lines_get_an_inert_answer(client: httpx.Client, body: bytes) -> None:
    answer = client.post("/v1/events", content=body, headers=LINES)
    assert answer.status_code in (200, 207, 422)
    inert(answer)


JSON_FLOATS = st.floats(allow_nan=False, allow_infinity=False)  # json.dumps writes no JSON for inf
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | JSON_FLOATS | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@ANSWERS
@given(
    value=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"event_id": st.text(min_size=1), "kind": st.sampled_from(["survey", "review"])},
            optional={"customer": st.fixed_dictionaries({"id": st.text()}), "comment": st.text()},
        ),
    )
)
def test_any_json_value_gets_an_inert_answer(client: httpx.Client, value: Any) -> None:
    answer = client.post("/v1/events", content=json.dumps(value).encode(), headers=JSON)
    assert answer.status_code in (200, 207, 422)
    inert(answer)
