"""The server's writing process (`RequestWriter`): errors raised there are raised in the
server, a request it was writing when it died is written by the server, and it ends its run
when the server stops."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import DatabaseError
from cxdesk.i18n import say
from cxdesk.workflow.intake import request_writer
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.request_writer import RequestWriter
from tests.integration.serving import NOW, auth, desk_on, event


class _TwoPartError(Exception):
    """An error pickle cannot make again from its message alone."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(f"{what} at {where}")


def _failing(_intake: Ingestor, _batches: object, *, source: str, **_told: object) -> None:
    if source == "two-part":
        raise _TwoPartError("no room", "the log")
    raise DatabaseError(say("the disk is full at {where}", where="the log"))


def _writers() -> list[multiprocessing.process.BaseProcess]:
    return [p for p in multiprocessing.active_children() if p.name == "cxdesk-writer"]


def test_an_error_in_the_writing_process_is_raised_in_the_server(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_writer, "ingest_request", _failing)  # forked with it
    writer = RequestWriter(Ingestor(db, Settings(), source="serve", clock=lambda: NOW))
    try:
        with pytest.raises(DatabaseError, match="the disk is full at the log") as raised:
            writer.write([], source="http:feed:1", person="feed", in_lines=False)
        assert raised.value.said is not None  # as raised there: a desk can translate it
        with pytest.raises(RuntimeError, match="_TwoPartError: no room at the log"):
            writer.write([], source="two-part", person="feed", in_lines=False)
        assert len(_writers()) == 1  # alive: an error is the request's, not the process's
    finally:
        writer.close()


def test_the_writing_process_ends_its_run_when_closed(db: Database) -> None:
    writer = RequestWriter(Ingestor(db, Settings(), source="serve", clock=lambda: NOW))
    (process,) = _writers()
    writer.close()
    assert not process.is_alive() and process.exitcode == 0
    assert writer.write([], source="after", person="feed", in_lines=False) is None


@contextmanager
def _writes_held(db: Database) -> Iterator[None]:
    """Another connection keeps the events from being written until the block ends."""
    if db.is_sqlite:
        holder = sqlite3.connect(db.engine.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()
        return
    with db.engine.connect() as connection:
        connection.exec_driver_sql("LOCK TABLE feedback_events IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            connection.rollback()


def test_a_request_whose_writer_died_under_it_is_written_by_the_server(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The writing process killed while it waits for another writer's lock: the request is
    answered all the same, each event stored once."""
    events = [event(f"died-{n}", f"DIED{n % 2}") for n in range(6)]
    with desk_on(backend, tmp_path) as running:
        (writer,) = _writers()
        with _writes_held(running.db):
            answers: list[httpx.Response] = []
            posting = threading.Thread(
                target=lambda: answers.append(
                    httpx.post(
                        f"{running.url}/v1/events", json=events, headers=auth("feed"), timeout=120
                    )
                )
            )
            posting.start()
            time.sleep(1)  # the request reaches the writer, which waits for the lock
            writer.kill()
            writer.join()
        posting.join(120)
        (answer,) = answers
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 6
        assert running.scalar("SELECT count(*) FROM feedback_events") == 6
        assert running.scalar("SELECT count(*) FROM tickets") == 2
    assert "the writing process stopped" in caplog.text
