"""`cxdesk serve` over HTTP, on each backend: events in through ingest's own pipeline, record
by record; tickets read back within the caller's scope; who may do what; one case per
customer however many requests come at once."""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cxdesk.web import limits
from tests.integration.serving import (
    MAX_RECORDS,
    Desk,
    auth,
    beside,
    desk_on,
    event,
    logged,
    settings,
)

LINES = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    with desk_on(request.param, tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture
def client(desk: Desk) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=desk.url, timeout=60) as http:
        yield http


def post(client: httpx.Client, body: object, login: str = "feed") -> httpx.Response:
    return client.post("/v1/events", json=body, headers=auth(login))


def test_a_mix_is_answered_record_by_record(client: httpx.Client, desk: Desk) -> None:
    answer = post(
        client,
        [
            event("mix-1", "MIX1"),  # a detractor: a new case
            event("mix-2", "MIX1", nps=1),  # the same customer: the same case
            event("mix-1", "MIX1"),  # the first again
            {"event_id": "mix-3", "kind": "survey"},  # refused: no time, no customer
            event("mix-4", "MIX2", nps=10),  # a promoter: stored, no case
            7,
        ],
    )
    assert answer.status_code == 207
    body = answer.json()
    assert (body["records"], body["accepted"], body["duplicate"], body["quarantined"]) == (
        6,
        3,
        1,
        2,
    )
    first, second, again, refused, promoter, scalar = body["results"]
    assert first["status"] == "accepted" and first["ticket_action"] == "opened"
    case = first["ticket"]
    assert case.startswith("CX-")
    assert second == {
        "index": 1, "event_id": "mix-2", "status": "accepted", "ticket": case,
        "ticket_action": "updated",
    }  # fmt: skip
    assert again == {"index": 2, "event_id": "mix-1", "status": "duplicate", "ticket": case}
    assert refused["status"] == "quarantined" and refused["event_id"] == "mix-3"
    assert "occurred_at" in refused["reason"] and "customer" in refused["reason"]
    assert promoter == {"index": 4, "event_id": "mix-4", "status": "accepted", "ticket": None}
    assert scalar["status"] == "quarantined" and scalar["event_id"] is None
    source = f"http:feed:{body['request_id']}"
    assert desk.scalar("SELECT count(*) FROM quarantine WHERE source = :s", s=source) == 2
    assert desk.scalar("SELECT count(*) FROM feedback_events WHERE event_id LIKE 'mix-%'") == 3
    number = int(case.removeprefix("CX-"))
    detail = desk.scalar("SELECT detail FROM audit_log WHERE ticket_id = :t LIMIT 1", t=number)
    by = (json.loads(detail) if isinstance(detail, str) else detail)["by"]
    assert by == "feed"  # the token's agent handed the events over


def test_json_lines_are_read_as_ingest_reads_a_file(client: httpx.Client) -> None:
    lines = [json.dumps(event("jl-1", "JL1", nps=9)), "", json.dumps(event("jl-2", "JL2")), "{"]
    answer = client.post("/v1/events", content="\n".join(lines), headers={**auth("feed"), **LINES})
    assert answer.status_code == 207
    results = answer.json()["results"]
    assert [(r["index"], r["line"], r["status"]) for r in results] == [
        (0, 1, "accepted"),
        (1, 3, "accepted"),
        (2, 4, "quarantined"),
    ]
    assert results[1]["ticket_action"] == "opened"


def test_one_event_alone(client: httpx.Client) -> None:
    answer = post(client, event("one-1", "ONE1", nps=8))
    assert answer.status_code == 200
    assert answer.json()["results"] == [
        {"index": 0, "event_id": "one-1", "status": "accepted", "ticket": None}
    ]


def test_a_replay_changes_nothing_and_tells_the_same_tickets(
    client: httpx.Client, desk: Desk
) -> None:
    batch = [event(f"re-{n}", f"RE{n % 3}") for n in range(9)]
    first = post(client, batch)
    again = post(client, batch)
    assert first.status_code == again.status_code == 200
    assert {r["status"] for r in again.json()["results"]} == {"duplicate"}
    tickets = [r["ticket"] for r in first.json()["results"]]
    assert [r["ticket"] for r in again.json()["results"]] == tickets
    assert len(set(tickets)) == 3
    assert desk.scalar("SELECT count(*) FROM feedback_events WHERE event_id LIKE 're-%'") == 9


def test_requests_at_once_open_one_case_per_customer(desk: Desk) -> None:
    """Eight requests at once, each with an answer from each of 40 customers, in different
    orders: every event is stored and every customer has exactly one open case."""
    customers = [f"AT{n}" for n in range(40)]
    answers: list[httpx.Response] = []

    def send(sender: int) -> None:
        order = customers[sender * 5 :] + customers[: sender * 5]
        batch = [event(f"at-{sender}-{c}", c) for c in order]
        with httpx.Client(base_url=desk.url, timeout=120) as http:
            answers.append(post(http, batch))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert desk.scalar("SELECT count(*) FROM feedback_events WHERE event_id LIKE 'at-%'") == 320
    cases = desk.scalar(
        "SELECT count(*) FROM tickets WHERE customer_id LIKE 'AT%' AND kind = 'case'"
    )
    assert cases == 40
    opened = [r for a in answers for r in a.json()["results"] if r.get("ticket_action") == "opened"]
    assert len(opened) == 40


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "token_required"),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401, "token_required"),
        ({"Authorization": "Bearer cxd_nobody-has-this"}, 401, "invalid_token"),
        (auth("ghost"), 403, "inactive_agent"),
        (auth("gone"), 403, "inactive_agent"),
        (auth("cxdesk"), 403, "inactive_agent"),
        (auth("li"), 403, "forbidden"),  # an agent feeds no events
    ],
)
def test_who_may_post_events(
    client: httpx.Client, headers: dict[str, str], status: int, code: str
) -> None:
    answer = client.post("/v1/events", json=event("auth-1", "AUTH1"), headers=headers)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code
    assert answer.json()["error"]["where"] == "Authorization"
    if status == 401:
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="cxdesk"')


def test_a_ticket_is_read_in_scope_and_masked_by_role(client: httpx.Client) -> None:
    phoned = event("read-1", "READ1")
    phoned["customer"]["phone"] = "13812345678"
    ticket = post(client, phoned).json()["results"][0]["ticket"]
    agent = client.get(f"/v1/tickets/{ticket}", headers=auth("li"))
    assert agent.status_code == 200
    shown = agent.json()
    assert shown["id"] == ticket and shown["queue"] == "aftersales"
    assert shown["customer"]["phone"] == "*******5678"
    assert shown["timeline"][0]["event_id"] == "read-1"
    supervisor = client.get(f"/v1/tickets/{ticket.lower()}", headers=auth("zhou"))
    assert supervisor.json()["customer"]["phone"] == "13812345678"
    other_team = client.get(f"/v1/tickets/{ticket}", headers=auth("wang"))
    missing = client.get("/v1/tickets/CX-999999", headers=auth("wang"))
    assert other_team.status_code == missing.status_code == 404
    assert other_team.json()["error"]["message"] == f"no ticket {ticket}"
    assert missing.json()["error"]["message"] == "no ticket CX-999999"
    assert client.get("/v1/tickets/CX-ABC", headers=auth("li")).status_code == 404
    assert client.get(f"/v1/tickets/{ticket}", headers=auth("feed")).status_code == 403
    assert client.get(f"/v1/tickets/{ticket}", headers=auth("cxdesk")).status_code == 403


def test_healthz_needs_no_token(client: httpx.Client) -> None:
    answer = client.get("/healthz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        pytest.param("text/plain", b"{}", 415, "unsupported_media_type", id="text"),
        pytest.param(None, b"{}", 415, "unsupported_media_type", id="no-type"),
        pytest.param(
            "application/json; charset=latin-1", b"{}", 415, "unsupported_charset", id="latin-1"
        ),
        pytest.param("application/json", b'{"event_id": ', 400, "bad_json", id="cut-short"),
        pytest.param("application/json", b"\xff\xfe", 400, "bad_json", id="not-utf-8"),
        pytest.param(
            "application/json", b"[" * 5000 + b"]" * 5000, 400, "bad_json", id="deeply-nested"
        ),
        pytest.param("application/json", b'"an event"', 422, "not_an_event", id="a-string"),
        pytest.param("application/json", b"[]", 422, "no_records", id="empty-array"),
        pytest.param("application/x-ndjson", b"\n \n", 422, "no_records", id="blank-lines"),
        pytest.param(
            "application/json",
            b"[{}" + b", {}" * MAX_RECORDS + b"]",
            413,
            "too_many_records",
            id="array-too-long",
        ),
        pytest.param(
            "application/x-ndjson",
            b"{}\n" * (MAX_RECORDS + 1),
            413,
            "too_many_records",
            id="lines-too-many",
        ),
        pytest.param("application/json", b" " * (11 << 20), 413, "body_too_large", id="11-MiB"),
    ],
)
def test_a_bad_request_is_refused_whole_saying_what_and_where(
    client: httpx.Client,
    desk: Desk,
    content_type: str | None,
    body: bytes,
    status: int,
    code: str,
) -> None:
    before = desk.scalar("SELECT count(*) FROM quarantine")
    headers = auth("feed") | ({"Content-Type": content_type} if content_type else {})
    answer = client.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert (error["status"], error["code"]) == (status, code)
    assert error["where"] in ("body", "Content-Type")
    assert desk.scalar("SELECT count(*) FROM quarantine") == before


def test_a_body_streamed_past_the_limit_is_stopped(client: httpx.Client) -> None:
    """No Content-Length to refuse it by: the bytes are counted as they come."""

    def chunks() -> Iterator[bytes]:
        for _ in range(12):
            yield b" " * (1 << 20)

    headers = {**auth("feed"), "Content-Type": "application/json"}
    answer = client.post("/v1/events", content=chunks(), headers=headers)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_a_body_that_trickles_in_is_cut_off(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller that sends part of its body and then nothing is answered 408 once the body's
    time is up, not held (with its connection) for as long as it likes."""
    monkeypatch.setattr(limits, "BODY_SECONDS", 0.2, raising=False)
    host, port = desk.url.removeprefix("http://").split(":")
    head = (
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: {auth('feed')['Authorization']}\r\nContent-Length: 1000\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=30) as caller:
        caller.sendall(head.encode() + b'{"event_id": ')
        answer = caller.makefile("rb").read()  # the server closes once it has answered
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"408"
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "body_timeout"


def test_unknown_paths_and_methods_answer_in_json(client: httpx.Client) -> None:
    assert client.get("/v2/nothing").json()["error"]["code"] == "not_found"
    wrong = client.get("/v1/events", headers=auth("feed"))
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    ["/v1/tickets/CX-000001/", "/v1/events/", "/healthz/", "/v1/followups/" + "x" * 32 + "/"],
)
def test_a_trailing_slash_is_no_redirect_to_the_callers_host(
    client: httpx.Client, path: str
) -> None:
    """A path with a slash too many is one no endpoint has: a JSON 404, never a redirect whose
    Location is built from the Host header the caller sent (an open redirect, which would
    also have carried a reply link's token to it)."""
    method = "GET" if path.startswith(("/v1/tickets", "/healthz")) else "POST"
    answer = client.request(method, path, headers={**auth("li"), "Host": "evil.example"})
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.json()["error"]["code"] == "not_found"


def test_a_token_over_its_rate_waits(desk: Desk) -> None:
    with (
        beside(desk.db, settings(rate=0.01, burst=2)) as base,
        httpx.Client(base_url=base) as http,
    ):
        statuses = [http.get("/v1/tickets/CX-000001", headers=auth("li")) for _ in range(3)]
        other = http.get("/v1/tickets/CX-000001", headers=auth("zhou"))
    assert [a.status_code for a in statuses[:2]] != [429, 429]
    assert statuses[2].status_code == 429
    assert int(statuses[2].headers["Retry-After"]) >= 1
    assert other.status_code != 429  # each token has its own bucket


def test_each_request_is_one_json_line_in_the_access_log(
    client: httpx.Client, tmp_path: Path
) -> None:
    from cxdesk import logs
    from cxdesk.config import LogConfig

    log = tmp_path / "access.log"
    logs.follow_requests(LogConfig(file=log))
    try:
        post(client, [event("log-1", "LOG1"), event("log-2", "LOG2")])
        client.get("/v1/tickets/CX-000001", headers={"Authorization": "Bearer cxd_secret"})
        text = logged(log, 2)
    finally:
        logs.follow_requests(LogConfig())
    assert "cxd_" not in text and "LOG1" not in text  # neither token nor body
    posted, refused = (json.loads(line) for line in text.splitlines())
    assert set(posted) == {
        "time", "method", "path", "status", "login", "records", "duration_ms", "remote",
        "request_id",
    }  # fmt: skip
    assert (posted["method"], posted["path"], posted["status"]) == ("POST", "/v1/events", 200)
    assert (posted["login"], posted["records"]) == ("feed", 2)
    assert posted["remote"].startswith("127.0.0.1:")
    assert (refused["status"], refused["login"], refused["records"]) == (401, None, None)


def _varied(prefix: str, count: int) -> list[object]:
    """Events of every sort: detractors opening cases for customers of different tiers,
    promoters, complaints, repeats, refused records."""
    batch: list[object] = []
    for n in range(count):
        tier = ["gold", "standard"][n % 2]
        sort = [
            {"nps": n % 4},
            {"nps": 9, "csat": 5},
            {"kind": "complaint", "comment": "快递晚了三天 \x1b[31m", "nps": None},
            {"event_id": f"{prefix}-{n - 3}", "nps": 0},  # a repeat of an earlier id
            {"nps": "9"},
            {"nps": 11},
        ][n % 6]
        answer = {**event(f"{prefix}-{n}", f"{prefix}{n % 40}"), **sort}
        batch.append({**answer, "customer": {**answer["customer"], "tier": tier}})
    return batch


def _told(answer: httpx.Response) -> tuple[int, list[dict[str, object]]]:
    return answer.status_code, answer.json()["results"]


WORKERS = {"checker": ["checking"], "writer": ["writing"], "both": ["checking", "writing"]}


@pytest.mark.parametrize("dies", list(WORKERS))
def test_records_worked_apart_are_told_and_stored_as_worked_in_the_thread(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, dies: str
) -> None:
    """The server checks posted records in a process of their own and writes them in
    another; what comes of them is what comes of records checked and written in the
    request's thread, and when either process dies the server goes on doing its work in its
    threads."""
    tickets = "SELECT customer_id, queue_id, priority, first_response_due, resolution_due "
    tickets += "FROM tickets ORDER BY id"
    answers, stored = [], []
    for apart in (True, False):
        (directory := tmp_path / f"apart-{apart}").mkdir()
        others = set(multiprocessing.active_children())  # other servers' processes
        with desk_on(backend, directory, checked_apart=apart) as running:
            with httpx.Client(base_url=running.url, timeout=120) as http:
                told = [_told(post(http, _varied("V", 300))), _told(post(http, _varied("W", 60)))]
                working = set(multiprocessing.active_children()) - others
                assert len(working) == (2 if apart else 0)
                for worker in working:
                    if dies == "both" or (worker.name == "cxdesk-writer") == (dies == "writer"):
                        worker.kill()
                        worker.join()
                told.append(_told(post(http, _varied("X", 120))))
            answers.append(told)
            with running.db.engine.connect() as connection:
                stored.append(connection.exec_driver_sql(tickets).all())
    assert answers[0] == answers[1]
    assert stored[0] == stored[1] and len(stored[0]) > 40
    for work in ("checking", "writing"):
        said = f"the {work} process stopped"
        assert caplog.text.count(said) == (work in WORKERS[dies]), caplog.text
