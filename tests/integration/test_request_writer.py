"""The server's writing process (`RequestWriter`): errors raised there are raised in the
server with their origin, a request it was writing when it died is written by the server, it
ends its run when the server stops (killed if it cannot), and it is a user of the database
of its own."""

from __future__ import annotations

import marshal
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest
import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import DatabaseError
from cxdesk.i18n import say
from cxdesk.workflow.intake import request_checker, request_writer
from cxdesk.workflow.intake.feed import checked, to_wire
from cxdesk.workflow.intake.forked_worker import ended_within
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.request_checker import RequestChecker
from cxdesk.workflow.intake.request_pipeline import RequestPipeline
from cxdesk.workflow.intake.request_writer import RemoteTraceback, RequestWriter, WriterStopped
from tests.integration.serving import NOW, auth, desk_on, event, prepared

Check = Callable[[list[Record]], bytes]


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


def _intake(db: Database) -> Ingestor:
    return Ingestor(db, Settings(), source="serve", clock=lambda: NOW)


def _records(prefix: str, count: int) -> list[Record]:
    return [
        Record(n + 1, orjson.dumps(event(f"{prefix}-{n}", f"{prefix}{n % 3}")).decode())
        for n in range(count)
    ]


def _check(intake: Ingestor) -> Check:
    """Checking as the checking process does, in this process."""
    timezone, window, ahead = intake.terms.timezone, intake.terms.window(), intake.work_ahead()
    return lambda records: marshal.dumps(
        to_wire([checked(record, timezone, window, ahead) for record in records])
    )


def test_an_error_in_the_writing_process_is_raised_in_the_server_with_its_origin(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_writer, "ingest_request", _failing)  # forked with it
    intake = _intake(db)
    writer, check = RequestWriter(intake), _check(intake)
    try:
        told = {"person": "feed", "in_lines": False}
        with pytest.raises(DatabaseError, match="the disk is full at the log") as raised:
            writer.write([_records("a", 2), _records("b", 2)], check, source="http:1", **told)
        assert raised.value.said is not None  # as raised there: a desk can translate it
        assert isinstance(raised.value.__cause__, RemoteTraceback)
        assert "in _failing" in str(raised.value.__cause__)  # where it arose, for the log
        with pytest.raises(RuntimeError, match="_TwoPartError: no room at the log"):
            writer.write([_records("c", 1)], check, source="two-part", **told)
        assert len(_writers()) == 1  # alive: an error is the request's, not the process's
    finally:
        writer.close()


def test_a_request_whose_checking_failed_half_way_leaves_the_next_one_whole(
    db: Database,
) -> None:
    """The batches checked before are written and told for; the next request's answer is
    its own, not what was left of the one before."""
    intake = _intake(db)
    writer, check = RequestWriter(intake), _check(intake)
    calls = 0

    def failing_second(records: list[Record]) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 2:  # an error a pipe could raise, too: still the checking's
            raise OSError("the checking broke")
        return check(records)

    told = {"person": "feed", "in_lines": True}
    try:
        with pytest.raises(OSError, match="the checking broke"):
            writer.write([_records("f", 2), _records("g", 2)], failing_second, source="1", **told)
        outcomes = writer.write([_records("f", 3)], check, source="2", **told)
        assert len(_writers()) == 1
    finally:
        writer.close()
    assert outcomes is not None
    assert [(o.event_id, o.status) for o in outcomes] == [
        ("f-0", "duplicate"),  # written with the first batch of the request before
        ("f-1", "duplicate"),
        ("f-2", "accepted"),
    ]


def test_the_writing_process_ends_its_run_when_closed(db: Database) -> None:
    intake = _intake(db)
    writer = RequestWriter(intake)
    (process,) = _writers()
    writer.close()
    assert not process.is_alive() and process.exitcode == 0
    with pytest.raises(WriterStopped):  # not written by the server instead: it has stopped
        writer.write([_records("h", 1)], _check(intake), source="after", person="feed",
                     in_lines=True)  # fmt: skip


def test_a_stopped_writing_process_does_not_keep_the_server_from_stopping(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGSTOP (or a call that never returns) with requests waiting on it: the server's
    close kills it after its wait, and each request, the one sent and the one waiting for
    its turn, is told the server stopped; none is written by the server instead."""
    monkeypatch.setattr(request_writer, "STOP_WAIT_S", 1)
    intake = _intake(db)
    writer = RequestWriter(intake)
    (process,) = _writers()
    assert process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    errors: list[Exception] = []

    def post(prefix: str) -> None:
        try:
            writer.write([_records(prefix, 2)], _check(intake), source=prefix, person="feed",
                         in_lines=True)  # fmt: skip
        except WriterStopped as exc:
            errors.append(exc)

    waiting = [threading.Thread(target=post, args=(prefix,)) for prefix in ("s", "t")]
    for thread in waiting:
        thread.start()
    time.sleep(0.5)  # one request is sent, the other waits for its turn
    writer.close()
    for thread in waiting:
        thread.join(30)
    assert not process.is_alive()
    assert [str(e) for e in errors] == ["the server stopped before this request was written"] * 2
    assert "the writing process did not stop; killed" in caplog.text
    with db.session() as session:
        assert session.execute(sa.text("SELECT count(*) FROM feedback_events")).scalar() == 0


def test_a_stopped_checking_process_does_not_keep_the_server_from_stopping(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(request_checker, "STOP_WAIT_S", 1)
    intake = _intake(db)
    checker = RequestChecker(intake.terms, intake.work_ahead())
    (process,) = [p for p in multiprocessing.active_children() if p.name != "cxdesk-writer"]
    assert process.pid is not None
    os.kill(process.pid, signal.SIGSTOP)
    checker.close()  # returns: it no longer waits for the process without end
    assert ended_within(process.pid, 20)  # reaped by the pool's own thread, not joined here
    assert "the checking process did not stop; killed" in caplog.text


def test_the_writing_process_is_a_user_of_the_database_of_its_own(tmp_path: Path) -> None:
    """The server lets go of every connection while its writer writes on: on SQLite, the
    server's last close must not take the write-ahead log away from under the writer
    (forked with the server's connection open, the writer held no lock of its own, and what
    it wrote after went to a deleted log, lost)."""
    path = tmp_path / "cx.db"
    db = prepared(str(path))
    pipeline = RequestPipeline(_intake(db), in_processes=True)
    told = {"person": "feed", "in_lines": True}
    try:
        pipeline.ingest(_records("u", 50), source="1", **told)
        db.engine.dispose()  # the server's last connection closed
        assert (tmp_path / "cx.db-wal").exists()  # the writer is using it
        pipeline.ingest(_records("v", 50), source="2", **told)
        with sqlite3.connect(path) as reader:
            (stored,) = reader.execute("SELECT count(*) FROM feedback_events").fetchone()
    finally:
        pipeline.close()
        db.dispose()
    assert stored == 100


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


_UNCLOSED = """
import multiprocessing, sys
from datetime import UTC, datetime
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.request_pipeline import RequestPipeline
from cxdesk.workflow.ops.schema import upgrade_database

db = Database.open(sys.argv[1], must_exist=False)
upgrade_database(db)
intake = Ingestor(db, Settings(), source="serve", clock=lambda: datetime.now(UTC))
RequestPipeline(intake, in_processes=True)
print(*[p.pid for p in multiprocessing.active_children()], flush=True)
sys.exit(3)  # as a server failing before it closes the pipeline
"""


def test_a_server_that_never_closes_its_workers_still_exits(tmp_path: Path) -> None:
    """Its writing process ends with it, not waited for without end by multiprocessing's
    exit handler (it ignores the SIGTERM that sends, and its pipe never ended while it
    held the server's end too)."""
    done = subprocess.run(
        [sys.executable, "-c", _UNCLOSED, str(tmp_path / "cx.db")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    workers = [int(pid) for pid in done.stdout.split()]
    assert len(workers) == 2, done.stderr  # a worker gone already: why, in its own words
    assert all(ended_within(pid, 10) for pid in workers)
