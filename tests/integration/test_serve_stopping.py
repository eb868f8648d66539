"""A server that begins to stop finishes the writes under way and tells the requests still
waiting for their turn to send again (503, Retry-After), storing nothing of them: waiting on,
they would be cut off with a bare 500 once the grace ran out, some written all the same."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from cxdesk.web.app import build_app
from cxdesk.web.server import server
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.request_pipeline import RequestPipeline
from tests.integration.serving import NOW, auth, event, prepared, settings

POSTS = 5  # two get an ingest thread each (INGEST_THREADS), three wait for one


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_requests_waiting_to_write_when_the_server_stops_are_told_to_send_again(
    tmp_path: Path,
) -> None:
    db = prepared(str(tmp_path / "cx.db"))
    config = settings()
    intake = Ingestor(db, config, source="serve", clock=lambda: NOW)
    app = build_app(db, config, lambda: NOW, RequestPipeline(intake, in_processes=False))
    desk = app.state.desk
    threads = int(desk.ingesting.total_tokens)
    running = server(app, "127.0.0.1:0", config.serve, stopping=desk.stop)
    serving = threading.Thread(target=running.run, daemon=True)
    serving.start()
    _until(lambda: running.started, "the server to start")
    url = f"http://127.0.0.1:{running.servers[0].sockets[0].getsockname()[1]}"
    answers: dict[str, httpx.Response] = {}

    def post(event_id: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            answers[event_id] = client.post(
                "/v1/events", json=event(event_id, f"C-{event_id}"), headers=auth("feed")
            )

    intake._writing.acquire()  # a long write under way: every ingest waits for its turn
    try:
        posts = [threading.Thread(target=post, args=(f"EV-{n}",)) for n in range(POSTS)]
        for thread in posts:
            thread.start()
        _until(
            lambda: desk.ingesting.statistics().tasks_waiting == POSTS - threads,
            "the requests past the ingest threads to queue",
        )
        running.should_exit = True
        _until(lambda: desk.stopping, "the server to begin stopping")
    finally:
        intake._writing.release()
    for thread in posts:
        thread.join(60)
    serving.join(60)

    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [200] * threads + [503] * (POSTS - threads)
    refused = {i for i, answer in answers.items() if answer.status_code == 503}
    for event_id in refused:
        answer = answers[event_id]
        assert answer.json()["error"]["code"] == "stopping"
        assert int(answer.headers["Retry-After"]) > 0
    with db.engine.connect() as connection:
        stored = set(connection.execute(sa.text("SELECT event_id FROM feedback_events")).scalars())
    assert stored == set(answers) - refused
    db.dispose()
