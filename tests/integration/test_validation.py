"""Validation a batch ahead in a second process: the same outcomes, and no loose ends."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cxdesk.config import IngestConfig, Settings
from cxdesk.db import Database
from cxdesk.db.engine import BULK_CACHE_KIB, CACHE_KIB
from cxdesk.errors import CxdeskError
from cxdesk.workflow.access.identity import current_login
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import bootstrap_admin
from cxdesk.workflow.clocks.sla import SlaPlanner, unplanned
from cxdesk.workflow.intake import feed as feed_module
from cxdesk.workflow.intake.events import ValidEvent
from cxdesk.workflow.intake.feed import (
    FIRST_BATCH,
    GROWTH,
    MIN_BATCH_FOR_CHILD,
    Ahead,
    Checked,
    CheckedFeed,
    Child,
    FeedSource,
    WorkAhead,
    checked_batches,
)
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record, read_csv, read_jsonl
from cxdesk.workflow.intake.rules import RuleSet
from cxdesk.workflow.intake.validation import Terms, validate_record
from cxdesk.workflow.ops.schema import upgrade_database

TZ = "Asia/Shanghai"
TERMS = Terms(TZ, IngestConfig(), lambda: datetime.now(UTC))
RULES = Settings().rules
BATCH = MIN_BATCH_FOR_CHILD


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


def write_feed(path: Path, records: list[Record]) -> FeedSource:
    path.write_text("\n".join(r.raw for r in records) + "\n", encoding="utf-8")
    return FeedSource(str(path), records[0].format)


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> list[Child]:
    """The reading processes started, as they start."""
    started: list[Child] = []
    original = CheckedFeed._start

    def spy(self: CheckedFeed) -> Child | None:
        child = original(self)
        if child is not None:
            started.append(child)
        return child

    monkeypatch.setattr(CheckedFeed, "_start", spy)
    return started


def read_here(
    source: FeedSource, batch: int = BATCH, ahead: WorkAhead | None = None
) -> list[list[Checked]]:
    return list(checked_batches(source.records(), TERMS, batch, ahead))


def read_as_the_child_does(
    source: FeedSource, ahead: WorkAhead | None, batch: int = BATCH
) -> list[list[Checked]]:
    return list(checked_batches(source.records(), TERMS, batch, ahead, FIRST_BATCH))


def ingestor_on(tmp_path: Path, settings: Settings | None = None) -> Ingestor:
    settings = settings or Settings()
    db = _db(tmp_path, settings)
    return Ingestor(db, settings, source="t", clock=lambda: datetime.now(UTC))


def test_big_batches_are_read_and_validated_in_a_child_with_the_same_outcomes(
    tmp_path: Path, launches: list[Child]
) -> None:
    batch = 3 * FIRST_BATCH  # the child's batches grow to it
    total = 5 * batch + 7
    records = jsonl_records(total)
    source = write_feed(tmp_path / "feed.jsonl", records[1:])  # the unreadable one is made below
    with (tmp_path / "feed.jsonl").open("ab") as out:
        out.write(b"\xff\xfe not UTF-8\n")
    rules, ahead = RuleSet(RULES), ingestor_on(tmp_path).work_ahead()
    with CheckedFeed(source, TERMS, batch, ahead) as feed:
        batches = list(feed)
    assert len(launches) == 1 and launches[0].returncode == 0  # it ended with the feed
    growing = [FIRST_BATCH]
    while growing[-1] < batch:
        growing.append(min(int(growing[-1] * GROWTH), batch))
    assert len(growing) > 3 and growing[-1] == batch
    assert [len(b) for b in batches] == [*growing, total - sum(growing)]
    assert batches == read_as_the_child_does(source, ahead, batch)
    outcomes = [outcome for _, _, outcome, _, _, _, _ in batches[0]]
    assert outcomes[0] == "nps: must be <= 10, got 11"
    assert outcomes[1] == "customer: required"
    assert outcomes[2].startswith("invalid JSON")
    event = outcomes[3]
    assert isinstance(event, ValidEvent)
    assert event.occurred_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Shanghai time
    assert event.customer_name == "王芳[2J"  # control characters cleaned in the child too
    assert event.drivers == ("price", "物流")
    _, raw, event, _, fired, row, _ = next(  # the child's first gold detractor
        item for item in batches[0] if isinstance(item[2], ValidEvent) and item[2].nps <= 6
    )
    assert fired is not None
    gold_detractor = rules.alert_of(fired)
    assert gold_detractor is not None and gold_detractor.priority == "P1"
    assert row is not None and row[2:5] == ["2026-03-02 00:00:00.000000", None, event.customer_id]
    assert (row[0], row[12], row[-1]) == (event.event_id, '["price","物流"]', raw)
    line, raw, outcome, origin, fired, row, clocks = batches[-1][-1]
    assert (line, outcome, origin, fired, row, clocks) == (
        total,
        "not valid UTF-8",
        ("jsonl", None),
        None,
        None,
        None,
    )
    assert raw.endswith("\ufffd\ufffd not UTF-8")  # as the reader shows it


def test_the_child_plans_the_clocks_of_the_case_an_alert_would_open(
    tmp_path: Path, launches: list[Child]
) -> None:
    target = {"first_response": "PT30M", "resolution": "PT5H"}
    fast = {
        queue_id: queue.model_dump() | {"calendar": "24x7", "policy": "fast"}
        for queue_id, queue in Settings().queues.items()
    }
    settings = Settings.model_validate(
        {
            "policies": {"fast": {"P1": target, "P2": target, "P3": target, "at_risk": 0.5}},
            "queues": fast,
        }
    )
    ingestor = ingestor_on(tmp_path, settings)
    queues = ingestor.queues
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(2 * BATCH)[1:])
    with CheckedFeed(source, TERMS, BATCH, ingestor.work_ahead()) as feed:
        batches = list(feed)
    assert len(launches) == 1
    rules, planner, planned = RuleSet(RULES), SlaPlanner(settings), 0
    for _, _, event, _, fired, _, clocks in (item for batch in batches for item in batch):
        alert = rules.alert_of(fired) if fired else None
        if alert is None:
            assert clocks is None
            continue
        assert isinstance(event, ValidEvent)
        at, queue = event.occurred_at, queues[alert.decisive.queue]
        assert clocks is not None
        planned_clocks, texts = clocks
        due = unplanned(planned_clocks)
        assert due == planner.opening_clocks(queue, alert.priority, at)
        assert due[0] == at + timedelta(minutes=30)  # the queues' policy
        # and as the case's row will hold them
        assert texts == tuple(f"{d:%Y-%m-%d %H:%M:%S.%f}" if d else None for d in due)
        planned += 1
    assert planned > BATCH / 10


def test_csv_read_in_the_child_keeps_its_header_for_the_quarantine(
    tmp_path: Path, launches: list[Child]
) -> None:
    records = csv_records(2 * BATCH)
    path = tmp_path / "feed.csv"
    path.write_text(
        "\n".join([records[0].csv_header or "", *(r.raw for r in records)]) + "\n",
        encoding="utf-8",
    )
    source = FeedSource(str(path), "csv")
    with CheckedFeed(source, TERMS, BATCH) as feed:
        batches = list(feed)
    assert len(launches) == 1
    assert batches == read_as_the_child_does(source, None)
    line, raw, outcome, origin, *_ = batches[0][11]  # NPS 11
    assert (line, raw) == (13, 'c11,survey,2026-03-02T08:00:00+08:00,C11,11,a;b,"x, y"')
    assert outcome == "nps: must be <= 10, got 11"
    assert origin == ("csv", records[0].csv_header)


def test_small_batches_never_start_a_child(tmp_path: Path, launches: list[Child]) -> None:
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(3 * BATCH)[1:])
    with CheckedFeed(source, TERMS, BATCH - 1) as feed:
        assert list(feed) == read_here(source, BATCH - 1)
    assert launches == []


def test_when_the_child_dies_the_rest_of_the_file_is_read_here(
    tmp_path: Path, launches: list[Child], capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(4 * BATCH + 3)[1:])
    with CheckedFeed(source, TERMS, BATCH) as feed:
        batches = iter(feed)
        received = [next(batches)]
        launches[0].kill()
        launches[0].wait()
        received += list(batches)
    lines = [line for batch in received for line, *_ in batch]
    assert lines == list(range(1, 4 * BATCH + 3))  # each line once, none lost
    assert [item for batch in received for item in batch] == [
        item for batch in read_here(source) for item in batch
    ]
    assert len(launches) == 1  # not started again
    warning = capsys.readouterr().err
    assert warning.count("cxdesk: warning:") == 1
    assert "the reading process stopped (exit code -9)" in warning
    assert "reading in this process" in warning


def test_a_child_that_fails_says_why_and_the_file_is_read_here(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(2 * BATCH)[1:])

    def failing(_event: ValidEvent, _raw: str) -> Ahead:
        raise RuntimeError("the rules broke")

    with CheckedFeed(source, TERMS, BATCH, failing) as feed:
        assert [item for batch in feed for item in batch] == [
            item for batch in read_here(source) for item in batch
        ]
    err = capfd.readouterr().err
    assert "RuntimeError: the rules broke" in err  # the child's traceback
    assert "the reading process stopped (exit code 1); reading in this process" in err


def test_a_child_that_cannot_start_leaves_reading_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(2 * BATCH)[1:])

    def fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", fork)
    with CheckedFeed(source, TERMS, BATCH) as feed:
        assert [item for batch in feed for item in batch] == [
            item for batch in read_here(source) for item in batch
        ]
    assert "cannot start the reading process: [Errno 11]" in capsys.readouterr().err


def test_a_failed_child_on_standard_input_ends_the_run_naming_the_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Standard input cannot be read again: what the child took is not there to re-read."""

    def failing(self: CheckedFeed) -> Child:
        return Child.fork(lambda _out: os._exit(3))

    monkeypatch.setattr(CheckedFeed, "_start", failing)
    with (
        CheckedFeed(FeedSource(None), TERMS, BATCH) as feed,
        pytest.raises(CxdeskError, match="after line 0 of standard input"),
    ):
        list(feed)


def test_an_unreadable_file_is_named_before_any_child_starts(
    tmp_path: Path, launches: list[Child]
) -> None:
    with (
        pytest.raises(CxdeskError, match=r"cannot read .*missing.jsonl: No such file"),
        CheckedFeed(FeedSource(str(tmp_path / "missing.jsonl")), TERMS, BATCH) as feed,
    ):
        list(feed)
    assert launches == []


def _db(tmp_path: Path, settings: Settings | None = None) -> Database:
    db = Database.open(str(tmp_path / "cxdesk.db"), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, settings or Settings())
        bootstrap_admin(session, current_login(), datetime.now(UTC))  # who runs the CLI here
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
    with db.bulk_writes():
        with db.write() as session:
            connection = session.connection()
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -BULK_CACHE_KIB
            connection.exec_driver_sql("CREATE TABLE filler (x TEXT)")
            connection.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                "WHERE i < 4000) INSERT INTO filler SELECT hex(randomblob(500)) FROM n"
            )
        # The thread copies the log into the file, not the commit (autocheckpoint off); waited
        # for here: the end of the run cuts short a checkpoint under way, and a busy machine
        # may not have run it yet.
        deadline = time.monotonic() + 30
        while path.stat().st_size <= before + 4000 * 1000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.stat().st_size > before + 4000 * 1000
    with db.engine.connect() as connection:  # back in the pool: checkpointing at commit again
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
        assert connection.exec_driver_sql("PRAGMA cache_size").scalar() == -CACHE_KIB
    db.dispose()


@pytest.mark.parametrize("live", [False, True], ids=["file", "quiet standard input"])
def test_a_killed_ingest_leaves_no_reading_process(tmp_path: Path, live: bool) -> None:
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to find the child")
    db = _db(tmp_path)
    db.dispose()
    lines = [r.raw for r in jsonl_records(4 * BATCH) if r.error is None]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines * (1 if live else 20)) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "cxdesk", "--db", str(tmp_path / "cxdesk.db"), "ingest"]
    parent = subprocess.Popen(
        [*command, "-" if live else str(feed)],
        stdin=subprocess.PIPE if live else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if live:  # a feed that stays open and goes quiet: the child waits on it
        assert parent.stdin is not None
        parent.stdin.write(feed.read_bytes())
        parent.stdin.flush()
    children: list[int] = []
    deadline = time.monotonic() + 30
    while not children and parent.poll() is None and time.monotonic() < deadline:
        children = _children_of(parent.pid)
        time.sleep(0.01)
    assert children, "ingest of several full batches started no reading process"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in children):
        time.sleep(0.05)
    # A file's reader finds the pipe to ingest broken; a quiet feed's notices its new parent.
    assert [pid for pid in children if _running(pid)] == []
    if parent.stdin is not None:
        parent.stdin.close()


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


def test_an_event_without_the_tier_is_judged_by_the_stored_customer(tmp_path: Path) -> None:
    """The reading process judges alerts by what an event carries; where the event leaves out
    a field the rules read, the writer judges with the stored customer."""
    db = _db(tmp_path)

    def line(n: int, customer: dict[str, str], nps: int) -> str:
        occurred = "2026-03-02T08:00:00+08:00"
        return json.dumps(
            {"event_id": f"t{n}", "kind": "survey", "occurred_at": occurred, "customer": customer}
            | {"nps": nps}
        )

    lines = [line(n, {"id": f"K{n % 2}", "tier": "gold"}, 9) for n in range(BATCH)]
    lines += [line(BATCH, {"id": "K0"}, 2), line(BATCH + 1, {"id": "K1", "tier": "silver"}, 2)]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    now = datetime.now(UTC)
    ingestor = Ingestor(db, Settings(), source="t", clock=lambda: now, batch_size=BATCH)
    summary = ingestor.run_feed(FeedSource(str(feed)))
    assert (summary.read, summary.tickets_created) == (BATCH + 2, 2)
    with db.engine.connect() as connection:
        priorities = dict(
            connection.exec_driver_sql("SELECT customer_id, priority FROM tickets").all()
        )
    assert priorities == {"K0": "P1", "K1": "P2"}  # stored gold; silver as the event says
    db.dispose()


class _Tracked(list):  # type: ignore[type-arg]
    """A batch as received from the child, which a weak reference can follow."""


def test_a_run_holds_one_batch_at_a_time(
    tmp_path: Path, launches: list[Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the next batch is read, the one just written is already let go: a run's peak
    memory holds one batch, not two."""
    received: list[weakref.ref[_Tracked]] = []
    held_when_reading: list[int] = []
    real = feed_module.from_wire

    def from_wire(wire: list[tuple[Any, ...]]) -> list[Checked]:
        held_when_reading.append(sum(ref() is not None for ref in received))
        batch = _Tracked(real(wire))
        received.append(weakref.ref(batch))
        return batch

    monkeypatch.setattr(feed_module, "from_wire", from_wire)
    source = write_feed(tmp_path / "feed.jsonl", jsonl_records(3 * BATCH + 5))
    settings = Settings()
    ingestor = Ingestor(
        _db(tmp_path, settings),
        settings,
        source="t",
        clock=lambda: datetime.now(UTC),
        batch_size=BATCH,
    )
    summary = ingestor.run_feed(source)
    assert len(launches) == 1 and summary.read == 3 * BATCH + 5
    assert held_when_reading == [0, 0, 0, 0]
