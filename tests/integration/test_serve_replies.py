"""A follow-up's answer posted back by its reply token (`POST /v1/followups/{token}`), on
each backend: the survey's ticket closes verified or reopens as with an answer from a feed;
a second answer changes nothing; a wrong, expired or malformed one is refused saying why; the
token never reaches the access log."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from cxdesk.workflow.loop.desk_commands import Claim, Resolve
from cxdesk.workflow.loop.service import TicketService
from tests.integration.serving import Desk, auth, beside, desk_on, event, logged, settings

RESOLVED = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)  # before the server's clock (NOW)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    with desk_on(request.param, tmp_path_factory.mktemp("replies")) as running:
        yield running


@pytest.fixture
def client(desk: Desk) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=desk.url, timeout=60) as http:
        yield http


def resolved(desk: Desk, client: httpx.Client, customer: str) -> tuple[str, str]:
    """A case opened over HTTP for `customer`'s detractor survey, resolved by li: its ticket
    reference and its survey's reply token."""
    answer = client.post("/v1/events", json=event(f"ev-{customer}", customer), headers=auth("feed"))
    ref = answer.json()["results"][0]["ticket"]
    number = int(ref.removeprefix("CX-"))
    li = TicketService(desk.db, settings(), "li")
    li.handle(Claim(number, at=RESOLVED - timedelta(hours=1)))
    li.handle(Resolve(number, code="fix", root_cause="x", action="y", at=RESOLVED))
    token = desk.scalar("SELECT reply_token FROM followups WHERE ticket_id = :t", t=number)
    return ref, token


def stage(desk: Desk, ref: str) -> str:
    number = int(ref.removeprefix("CX-"))
    return str(desk.scalar("SELECT stage FROM tickets WHERE id = :t", t=number))


def test_a_good_answer_verifies_and_a_second_changes_nothing(
    desk: Desk, client: httpx.Client
) -> None:
    ref, token = resolved(desk, client, "R1")
    assert stage(desk, ref) == "verify"
    first = client.post(f"/v1/followups/{token}", json={"nps": 9, "comment": "好多了"})
    assert (first.status_code, first.json()) == (200, {"status": "answered", "ticket": ref})
    assert stage(desk, ref) == "closed"
    again = client.post(f"/v1/followups/{token}", json={"nps": 0})
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert stage(desk, ref) == "closed"
    scores = desk.scalar("SELECT count(*) FROM feedback_events WHERE kind = 'followup'")
    assert scores == 1


def test_a_form_posts_a_bad_answer_that_reopens(desk: Desk, client: httpx.Client) -> None:
    ref, token = resolved(desk, client, "R2")
    answer = client.post(f"/v1/followups/{token}", data={"csat": "1", "comment": "还是坏的"})
    assert (answer.status_code, answer.json()["status"]) == (200, "answered")
    assert stage(desk, ref) not in ("verify", "closed")


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"nps": 11}, 422, "nps"),
        ({"nps": "nine"}, 422, "nps"),
        ({"nps": "9"}, 422, "nps"),  # a score is a JSON integer, not text that reads as one
        ({"nps": 10.0}, 422, "nps"),
        ({"csat": 4.5}, 422, "csat"),
        ({"comment": "no score"}, 422, "body"),
        ({"nps": 9, "ticket_id": "CX-000001"}, 422, "body"),
        ([9], 422, "body"),
    ],
)
def test_a_malformed_answer_is_refused_and_the_survey_stays_open(
    desk: Desk, client: httpx.Client, body: object, status: int, where: str
) -> None:
    ref, token = resolved(desk, client, f"R3-{where}-{status}-{zlib.crc32(repr(body).encode())}")
    answer = client.post(f"/v1/followups/{token}", json=body)
    assert answer.status_code == status
    assert answer.json()["error"]["where"] == where
    assert stage(desk, ref) == "verify"
    assert client.post(f"/v1/followups/{token}", json={"nps": 10}).status_code == 200


def test_a_score_that_is_not_a_whole_number_is_refused_naming_its_field(
    desk: Desk, client: httpx.Client
) -> None:
    """The rule of file ingest, over HTTP: an event's score as a string is quarantined, an
    answer's is a 422 naming the field and why; a form's field, text by nature, is read as
    the number it says, and 9.5 is none."""
    ref, token = resolved(desk, client, "R12")
    stringly = client.post(
        "/v1/events", json=event("R12-s", "R12-s", nps="9"), headers=auth("feed")
    )
    assert stringly.status_code == 207
    assert (
        stringly.json()["results"][0]["reason"]
        == "nps: must be a whole number, not a string, got 9"
    )
    refused = client.post(f"/v1/followups/{token}", json={"nps": "9"})
    error = refused.json()["error"]
    assert (refused.status_code, error["where"]) == (422, "nps")
    assert "nps: must be a whole number, not a string" in error["message"]
    fraction = client.post(f"/v1/followups/{token}", data={"nps": "9.5"})
    assert (fraction.status_code, fraction.json()["error"]["where"]) == (422, "nps")
    assert stage(desk, ref) == "verify"
    taken = client.post(f"/v1/followups/{token}", data={"nps": "9"})
    assert (taken.status_code, taken.json()["status"]) == (200, "answered")


def test_unknown_expired_and_unreadable(desk: Desk, client: httpx.Client) -> None:
    ref, token = resolved(desk, client, "R4")
    for wrong in ("x" * 32, token[:-1] + ("A" if token[-1] != "A" else "B"), "%1b%5b2J"):
        assert client.post(f"/v1/followups/{wrong}", json={"nps": 9}).status_code == 404
    plain = client.post(
        f"/v1/followups/{token}", content=b"nps=9", headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415
    broken = client.post(
        f"/v1/followups/{token}", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400
    big = client.post(f"/v1/followups/{token}", json={"nps": 9, "comment": "x" * 40_000})
    assert big.status_code == 413
    with desk.db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE followups SET status = 'expired' WHERE reply_token = :t"), {"t": token}
        )
    gone = client.post(f"/v1/followups/{token}", json={"nps": 9})
    assert (gone.status_code, gone.json()["error"]["code"]) == (410, "expired")
    assert stage(desk, ref) == "verify"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/x-www-form-urlencoded", b"nps=9&comment=caf%E9", 400, "bad_form"),
        (
            "application/x-www-form-urlencoded; charset=iso-8859-1",
            b"nps=9",
            415,
            "unsupported_charset",
        ),
        ("application/json; charset=utf-16", b'{"nps": 9}', 415, "unsupported_charset"),
    ],
)
def test_an_answer_in_another_charset_is_refused_not_garbled(
    desk: Desk, client: httpx.Client, content_type: str, body: bytes, status: int, code: str
) -> None:
    """A page's form posted in Latin-1 (`accept-charset`, or a page without a charset) is
    refused saying so, as `/v1/events` refuses one: its comment is never kept with U+FFFD in
    place of the customer's letters, and the survey stays open for the answer sent again."""
    ref, token = resolved(desk, client, f"CS{zlib.crc32(body + content_type.encode())}")
    answer = client.post(
        f"/v1/followups/{token}", content=body, headers={"Content-Type": content_type}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert stage(desk, ref) == "verify"
    again = client.post(f"/v1/followups/{token}", data={"nps": "9", "comment": "café"})
    assert (again.status_code, again.json()["status"]) == (200, "answered")


def test_the_reply_token_stays_out_of_the_access_log(
    desk: Desk, client: httpx.Client, tmp_path: Path
) -> None:
    from cxdesk import logs
    from cxdesk.config import LogConfig

    _, token = resolved(desk, client, "R5")
    log = tmp_path / "access.log"
    logs.follow_requests(LogConfig(file=log))
    try:
        client.post(f"/v1/followups/{token}", json={"nps": 9})
        text = logged(log, 1)
    finally:
        logs.follow_requests(LogConfig())
    assert token not in text
    line = json.loads(text.splitlines()[-1])
    assert (line["path"], line["status"]) == ("/v1/followups/…", 200)


def test_a_reply_token_in_a_path_no_endpoint_has_stays_out_of_the_log(
    desk: Desk, client: httpx.Client, tmp_path: Path
) -> None:
    """A link posted without its `/v1` (a proxy that drops it), under another prefix, or in
    another case reaches no endpoint, and its token is still left out of the log."""
    from cxdesk import logs
    from cxdesk.config import LogConfig

    _, token = resolved(desk, client, "R5B")
    log = tmp_path / "access.log"
    logs.follow_requests(LogConfig(file=log))
    paths = [f"/followups/{token}", f"/V1/FOLLOWUPS/{token}", f"/v1/followups//{token}"]
    try:
        statuses = [client.post(path, json={"nps": 9}).status_code for path in paths]
        text = logged(log, len(paths))
    finally:
        logs.follow_requests(LogConfig())
    assert statuses == [404] * len(paths)
    assert token not in text
    shown = [json.loads(line)["path"] for line in text.splitlines()[-len(paths) :]]
    assert shown == ["/followups/…", "/V1/FOLLOWUPS/…", "/v1/followups/…"]


def test_another_customers_followup_event_is_quarantined(desk: Desk, client: httpx.Client) -> None:
    """A follow-up event through POST /v1/events answers only its own customer's ticket: one
    naming someone else's case is quarantined, and that case stays in verify."""
    ref, _token = resolved(desk, client, "R6-victim")
    forged = {
        "event_id": "R6-forged",
        "kind": "followup",
        "occurred_at": "2026-03-01T09:00:00+08:00",
        "customer": {"id": "R6-someone-else"},
        "nps": 10,
        "ticket_id": ref,
    }
    answer = client.post("/v1/events", json=forged, headers=auth("feed"))
    assert answer.status_code == 207
    (result,) = answer.json()["results"]
    assert result["status"] == "quarantined"
    assert "R6-someone-else" in result["reason"]
    assert stage(desk, ref) == "verify"
    own = {**forged, "event_id": "R6-own", "customer": {"id": "R6-victim"}}
    assert client.post("/v1/events", json=own, headers=auth("feed")).status_code == 200
    assert stage(desk, ref) == "closed"


def test_a_survey_answered_by_a_feed_takes_no_second_answer_by_token(
    desk: Desk, client: httpx.Client
) -> None:
    """The survey's ticket closed by its customer's follow-up event from a feed: an answer by
    the token afterwards is a duplicate, not a second score counted."""
    ref, token = resolved(desk, client, "R7")
    answer = {
        "event_id": "R7-feed",
        "kind": "followup",
        "occurred_at": "2026-03-01T09:00:00+08:00",
        "customer": {"id": "R7"},
        "nps": 10,
        "ticket_id": ref,
    }
    assert client.post("/v1/events", json=answer, headers=auth("feed")).status_code == 200
    again = client.post(f"/v1/followups/{token}", json={"nps": 0})
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    scores = "SELECT count(*) FROM feedback_events WHERE kind = 'followup' AND ticket_id = :t"
    assert desk.scalar(scores, t=int(ref.removeprefix("CX-"))) == 1


def test_a_survey_past_its_expiry_takes_no_answer_before_a_sweep_expires_it(
    desk: Desk, client: httpx.Client
) -> None:
    """The token is good until the survey's expiry, not until a sweep gets round to it."""
    ref, token = resolved(desk, client, "R8")
    with desk.db.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE followups SET expires_at = :at WHERE reply_token = :t"),
            {"at": RESOLVED, "t": token},
        )
    late = client.post(f"/v1/followups/{token}", json={"nps": 10})
    assert (late.status_code, late.json()["error"]["code"]) == (410, "expired")
    assert stage(desk, ref) == "verify"


def answering(base: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `address` (any of 127/8 is this host)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base, timeout=60, transport=transport)


def test_a_flooding_address_is_refused_while_other_customers_answer(
    desk: Desk, client: httpx.Client
) -> None:
    """The limit is per client address: one that floods is refused 429, with when to try
    again, and a header it makes up to pass for someone else changes nothing (127.0.0.2 is
    no trusted proxy); another customer's answer, straight or through the proxy on
    127.0.0.1, is taken."""
    _, flooded = resolved(desk, client, "R9-flooder")
    ref, token = resolved(desk, client, "R9-customer")
    _, proxied = resolved(desk, client, "R9-proxied")
    limits = settings(reply_rate=0.001, reply_burst=3)
    with beside(desk.db, limits) as base, answering(base, "127.0.0.2") as flooder:
        statuses = [
            flooder.post(
                f"/v1/followups/{flooded}",
                json={"nps": 99},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            for n in range(5)
        ]
        assert [a.status_code for a in statuses] == [422, 422, 422, 429, 429]
        assert statuses[3].json()["error"]["code"] == "rate_limited"
        assert int(statuses[3].headers["Retry-After"]) > 0
        with answering(base) as customer:
            answer = customer.post(f"/v1/followups/{token}", json={"nps": 9})
            assert (answer.status_code, answer.json()["status"]) == (200, "answered")
            via_proxy = customer.post(
                f"/v1/followups/{proxied}",
                json={"nps": 9},
                headers={"X-Forwarded-For": "198.51.100.200"},
            )
            assert via_proxy.status_code == 200
    assert stage(desk, ref) == "closed"


def test_a_link_tried_too_often_is_refused_while_other_links_answer(
    desk: Desk, client: httpx.Client
) -> None:
    ref, tried = resolved(desk, client, "R10-tried")
    other_ref, other = resolved(desk, client, "R10-other")
    with beside(desk.db, settings(reply_token_attempts=3)) as base, answering(base) as http:
        statuses = [
            http.post(f"/v1/followups/{tried}", json={"nps": "nine"}).status_code for _ in range(3)
        ]
        assert statuses == [422, 422, 422]
        refused = http.post(f"/v1/followups/{tried}", json={"nps": 9})
        assert refused.status_code == 429 and "reply_token_attempts" in refused.text
        assert http.post(f"/v1/followups/{other}", json={"nps": 9}).status_code == 200
    assert (stage(desk, ref), stage(desk, other_ref)) == ("verify", "closed")


def test_an_address_guessing_tokens_is_refused_while_others_answer(
    desk: Desk, client: httpx.Client
) -> None:
    """Tokens naming no survey are counted per address: past `reply_misses` the address is
    refused even with a good token, and another address's answer is taken."""
    _, own = resolved(desk, client, "R11-guesser")
    ref, token = resolved(desk, client, "R11-customer")
    with beside(desk.db, settings(reply_misses=2)) as base:
        with answering(base, "127.0.0.3") as guesser:
            guesses = [
                guesser.post(f"/v1/followups/guess-{n}", json={"nps": 9}).status_code
                for n in range(2)
            ]
            assert guesses == [404, 404]
            refused = guesser.post(f"/v1/followups/{own}", json={"nps": 9})
            assert refused.status_code == 429 and "reply_misses" in refused.text
        with answering(base) as customer:
            assert customer.post(f"/v1/followups/{token}", json={"nps": 9}).status_code == 200
    assert stage(desk, ref) == "closed"


def test_guesses_sent_at_once_are_counted_before_any_is_looked_up(
    desk: Desk, client: httpx.Client
) -> None:
    """Tokens naming no survey, sent all at once, are held to `reply_misses` as one after
    another are: each is counted before its lookup, not after, when all had passed."""
    misses = 3
    with beside(desk.db, settings(reply_misses=misses)) as base:

        def guess(n: int) -> int:
            with answering(base, "127.0.0.4") as guesser:
                return guesser.post(f"/v1/followups/at-once-{n}", json={"nps": 9}).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(guess, range(12)))
    assert statuses.count(404) == misses
    assert statuses.count(429) == 12 - misses
