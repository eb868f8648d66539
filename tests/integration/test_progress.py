"""Progress on long work: a bar on standard error when a person watches it, nothing when it
is piped, and the same output either way; the work tells any `Progress` how far it is."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from pytest import MonkeyPatch

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.workflow.demo.large import build_large
from cxdesk.workflow.demo.small import DemoBuilder
from cxdesk.workflow.intake.backtest import backtest
from cxdesk.workflow.intake.backtest_reads import Window
from cxdesk.workflow.ops.copy import copy_database
from cxdesk.workflow.ops.schema import upgrade_database
from tests.conftest import DEMO_ADMIN, DEMO_NOW, copy_audit_key
from tests.terminal import run_cli

BAR = "━"  # what the bar is drawn with
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")


class Told:
    """A `Progress` that remembers what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, task: str, done: int, total: int | None) -> None:
        self.calls.append((task, done, total))


def _counts_up_to_its_total(told: Told, task: str) -> None:
    assert told.calls and {c[0] for c in told.calls} == {task}
    done = [c[1] for c in told.calls]
    assert done == sorted(done) and done[-1] == told.calls[-1][2]


def _plain(text: str) -> str:
    return ANSI.sub("", text).replace("\r\n", "\n")


def _feed(path: Path, lines: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for n in range(lines):
            record = {
                "event_id": f"p{n}",
                "kind": "survey",
                "customer": {"id": f"C{n % 50}"},
                "occurred_at": "2026-03-02T08:00:00+08:00",
                "nps": 9,
            }
            out.write(json.dumps(record) + "\n")
    return path


def test_ingest_of_a_long_file_shows_a_bar_on_a_terminal_only(tmp_path: Path) -> None:
    feed = _feed(tmp_path / "feed.jsonl", 6_000)
    outputs = []
    for name, tty in (("watched", True), ("piped", False)):
        db = ("--db", str(tmp_path / f"{name}.db"), "--now", DEMO_NOW.isoformat())
        assert run_cli([*db, "init"])[0] == 0
        code, out, err = run_cli([*db, "ingest", str(feed)], tty_err=tty)
        assert code == 0, err
        if tty:
            assert BAR in err and "ingest" in err and "6000/6000" in _plain(err)
        else:
            assert err == ""
        outputs.append(out)
    assert outputs[0] == outputs[1] and "6000" in outputs[0]


def test_ingest_of_a_short_file_shows_no_bar(tmp_path: Path) -> None:
    feed = _feed(tmp_path / "feed.jsonl", 50)
    db = ("--db", str(tmp_path / "short.db"), "--now", DEMO_NOW.isoformat())
    assert run_cli([*db, "init"])[0] == 0
    code, _, err = run_cli([*db, "ingest", str(feed)], tty_err=True)
    assert code == 0 and BAR not in err


def test_backup_shows_a_bar_on_a_terminal_only(demo_sqlite: Path, tmp_path: Path) -> None:
    db = ("--db", str(demo_sqlite), "--as", DEMO_ADMIN)
    code, watched, err = run_cli([*db, "backup", str(tmp_path / "b.db")], tty_err=True)
    assert code == 0 and BAR in err and "backup" in err
    code, piped, err = run_cli([*db, "backup", str(tmp_path / "c.db")])
    assert code == 0 and err == ""
    assert watched.replace("b.db", "c.db") == piped


def test_the_demo_tells_its_progress(tmp_path: Path) -> None:
    db = Database.open(str(tmp_path / "demo.db"), must_exist=False)
    upgrade_database(db)
    told = Told()
    DemoBuilder(db, Settings(), seed=3, now=DEMO_NOW, progress=told).build(events=60, customers=20)
    db.dispose()
    _counts_up_to_its_total(told, "demo")
    assert told.calls[-1][1:] == (60, 60) and len(told.calls) > 2


def test_the_large_demo_tells_its_progress(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr("cxdesk.workflow.demo.large.CHUNK", 1_000)  # a few chunks, not one
    db = Database.open(str(tmp_path / "large.db"), must_exist=False)
    upgrade_database(db)
    told = Told()
    build_large(db, Settings(), seed=1, now=DEMO_NOW, tickets=3000, customers=300, progress=told)
    db.dispose()
    _counts_up_to_its_total(told, "demo")
    assert told.calls == [("demo", n, 3000) for n in (1000, 2000, 3000)]


def test_a_copy_tells_the_rows_copied_of_all(demo_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "source.db"
    shutil.copy(demo_file, source)
    copy_audit_key(str(demo_file), str(source))
    told = Told()
    tables: dict[str, int] = {}
    source_db = Database.open(str(source))
    target = Database.open(str(tmp_path / "copy.db"), must_exist=False)
    copied = copy_database(source_db, target, tables.__setitem__, told)
    source_db.dispose()
    target.dispose()
    _counts_up_to_its_total(told, "copy")
    assert told.calls[-1][1] == sum(copied.values()) and tables == copied


def test_a_backtest_tells_the_events_replayed(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    settings = Settings()
    told = Told()
    result = backtest(db, settings, settings.rules, Window(), told)
    db.dispose()
    _counts_up_to_its_total(told, "backtest")
    assert told.calls[-1][1] == result.as_dict()["replayed"]
