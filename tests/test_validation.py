"""Validation a batch ahead in a second process: the same outcomes, and no loose ends."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow import validation
from cxdesk.workflow.events import ValidEvent
from cxdesk.workflow.ingest import Ingestor
from cxdesk.workflow.org import sync_org
from cxdesk.workflow.readers import Record, read_csv, read_jsonl
from cxdesk.workflow.validation import Validator, validate_record

TZ = "Asia/Shanghai"
BATCH = validation.MIN_BATCH_FOR_CHILD


def jsonl_records(count: int, start: int = 0) -> list[Record]:
    """Valid events with every fourth line bad in a different way, and one unreadable."""
    lines = []
    for n in range(start, start + count):
        record = {
            "event_id": f"v{n}",
            "kind": "survey",
            "occurred_at": "2026-03-02T08:00:00",  # naive: read in the configured zone
            "customer": {"id": f"C{n % 50}", "tier": "gold", "name": "王芳\x1b[2J"},
            "nps": n % 11,
            "drivers": ["price", "物流"],
        }
        match n % 4:
            case 1:
                record["nps"] = 11
            case 2:
                del record["customer"]
        lines.append("{not json" if n % 4 == 3 else json.dumps(record, ensure_ascii=False))
    records = list(read_jsonl(io.StringIO("\n".join(lines) + "\n")))
    records[0] = Record(1, "\ufffd", error="not valid UTF-8")  # as the reader shows it
    return records


def csv_records(count: int) -> list[Record]:
    rows = ["event_id,kind,occurred_at,customer_id,nps,drivers,comment"]
    rows += [
        f'c{n},survey,2026-03-02T08:00:00+08:00,C{n},{n % 12},a;b,"x, y"' for n in range(count)
    ]
    return list(read_csv(io.StringIO("\n".join(rows) + "\n")))


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """The validating processes started, as they start."""
    started: list[subprocess.Popen[bytes]] = []
    original = Validator._start

    def spy(self: Validator) -> subprocess.Popen[bytes]:
        started.append(original(self))
        return started[-1]

    monkeypatch.setattr(Validator, "_start", spy)
    return started


def test_full_batches_are_validated_in_a_child_with_the_same_outcomes(
    launches: list[subprocess.Popen[bytes]],
) -> None:
    batches = [jsonl_records(BATCH), jsonl_records(BATCH, BATCH), csv_records(BATCH)]
    with Validator(TZ, BATCH) as validator:
        pending = [validator.submit(batch) for batch in batches]
        outcomes = [outcome() for outcome in pending]
    assert len(launches) == 1  # the first batch was validated here while the child started
    for batch, outcome in zip(batches, outcomes, strict=True):
        assert outcome == [validate_record(record, TZ) for record in batch]
    first = outcomes[1]
    assert first[0] == "not valid UTF-8"
    assert first[1] == "nps: must be <= 10, got 11"
    assert first[2] == "customer: required"
    assert first[3].startswith("invalid JSON")
    event = first[4]
    assert isinstance(event, ValidEvent)
    assert event.occurred_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Shanghai time
    assert event.customer_name == "王芳[2J"  # control characters cleaned in the child too
    assert event.drivers == ("price", "物流")
    assert launches[0].returncode == 0  # closed with the validator, and it exited cleanly


def test_small_batches_never_start_a_child(launches: list[subprocess.Popen[bytes]]) -> None:
    with Validator(TZ, BATCH - 1) as validator:
        for _ in range(3):
            validator.submit(jsonl_records(BATCH - 1))()
    assert launches == []


def test_when_the_child_dies_its_batch_and_the_rest_are_validated_here(
    launches: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    batches = [jsonl_records(BATCH, n * BATCH) for n in range(4)]
    with Validator(TZ, BATCH) as validator:
        validator.submit(batches[0])()
        second = validator.submit(batches[1])
        launches[0].send_signal(signal.SIGKILL)
        launches[0].wait()
        outcomes = [second(), *(validator.submit(batch)() for batch in batches[2:])]
    for batch, outcome in zip(batches[1:], outcomes, strict=True):
        assert outcome == [validate_record(record, TZ) for record in batch]
    assert len(launches) == 1  # not started again
    warning = capsys.readouterr().err
    assert warning.count("cxdesk: warning:") == 1
    assert "the validating process stopped (exit code -9)" in warning
    assert "validating in this process" in warning


def test_a_child_that_cannot_start_leaves_validation_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    batches = [jsonl_records(BATCH, n * BATCH) for n in range(3)]
    with Validator(TZ, BATCH) as validator:
        outcomes = [validator.submit(batch)() for batch in batches]
    for batch, outcome in zip(batches, outcomes, strict=True):
        assert outcome == [validate_record(record, TZ) for record in batch]
    assert "cannot start the validating process" in capsys.readouterr().err


def _db(tmp_path: Path) -> Database:
    db = Database.open(str(tmp_path / "cxdesk.db"), must_exist=False)
    db.upgrade()
    with db.write() as session:
        sync_org(session, Settings())
    return db


def _stored(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.exec_driver_sql("SELECT count(*) FROM feedback_events").scalar_one()


def test_a_full_batch_is_written_when_the_feed_goes_quiet(tmp_path: Path) -> None:
    """The batch validated ahead must not wait for records that have not come yet."""
    db = _db(tmp_path)
    seen: list[int] = []
    full, tail = jsonl_records(BATCH), jsonl_records(8, BATCH)

    def feed() -> Iterator[Record | None]:
        yield from full
        yield None  # quiet
        seen.append(_stored(db))
        yield from tail

    summary = Ingestor(db, Settings(), source="t", clock=lambda: datetime.now(UTC)).run(feed())
    valid = [isinstance(validate_record(r, TZ), ValidEvent) for r in full]
    assert seen == [sum(valid)]  # the full batch was written before the feed went on
    assert _stored(db) == summary.accepted
    db.dispose()


def test_bulk_writes_checkpoint_beside_the_writer(tmp_path: Path) -> None:
    db = _db(tmp_path)
    path = tmp_path / "cxdesk.db"
    before = path.stat().st_size
    with db.bulk_writes(), db.write() as session:
        connection = session.connection()
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        connection.exec_driver_sql("CREATE TABLE filler (x TEXT)")
        connection.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 4000) INSERT INTO filler SELECT hex(randomblob(500)) FROM n"
        )
    # The thread copied the log into the file; the commit itself did not (autocheckpoint off).
    assert path.stat().st_size > before + 4000 * 1000
    with db.engine.connect() as connection:  # back in the pool: checkpointing at commit again
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    db.dispose()


def test_a_killed_ingest_leaves_no_validating_process(tmp_path: Path) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the child")
    db = _db(tmp_path)
    db.dispose()
    lines = [r.raw for r in jsonl_records(4 * BATCH) if r.error is None]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines * 20) + "\n", encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, "-m", "cxdesk", "--db", str(tmp_path / "cxdesk.db"), "ingest", str(feed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    children: list[int] = []
    deadline = time.monotonic() + 30
    while not children and parent.poll() is None and time.monotonic() < deadline:
        children = _children_of(parent.pid)
        time.sleep(0.01)
    assert children, "ingest of several full batches started no validating process"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in children):
        time.sleep(0.05)
    assert [pid for pid in children if _running(pid)] == []  # it saw its stdin close


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child its killed parent never reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
