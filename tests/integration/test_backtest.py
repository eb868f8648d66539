"""`cxdesk rules backtest` over a small stored history, on both backends: the configured rules
give back what ingest recorded; a proposed file's added, removed and re-prioritised rules show
as new and lost alerts; the window's bounds; open cases at the start; nothing written; the
errors of bad input."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

from cxdesk.db import Database
from cxdesk.models import FeedbackEvent
from tests.conftest import Run, engine_for

NOW = "2026-03-05T10:00:00+08:00"
DAY1, DAY2, DAY3 = "2026-03-02", "2026-03-03", "2026-03-04"
TIERS = {"C1": "gold", "C2": "silver", "C3": None, "C4": None}


def event(event_id: str, customer: str, at: str, **fields: Any) -> str:
    record = {
        "event_id": event_id,
        "kind": "survey",
        "customer": {"id": customer, "tier": TIERS[customer]},
        "occurred_at": at,
        **fields,
    }
    return json.dumps(record)


FEED = [
    event("e1", "C1", f"{DAY1}T08:00:00+08:00", nps=2),  # gold_detractor (and detractor): opens
    event("e2", "C1", f"{DAY1}T09:00:00+08:00", kind="complaint"),  # complaint: joins C1's
    event("e3", "C2", f"{DAY2}T00:00:00+08:00", nps=9, ces=7),  # no alert (today)
    event("e4", "C2", f"{DAY2}T07:00:00+08:00", kind="review", csat=1),  # low_csat: opens
    event("e5", "C3", f"{DAY3}T00:00:00+08:00", kind="complaint", comment="the site is down"),
    event("e6", "C4", f"{DAY3}T08:00:00+08:00", nps=5),  # detractor: opens
    event("e7", "C1", f"{DAY3}T12:00:00+08:00", nps=3),  # gold_detractor: joins C1's
]
PROPOSED = """
[[rules]]
name = "detractor"
condition = "nps != null and nps <= 6"
priority = "P1"
queue = "aftersales"

[[rules]]
name = "low_csat"
condition = "csat != null and csat <= 2"
priority = "P2"
queue = "aftersales"

[[rules]]
name = "complaint"
condition = 'kind == "complaint"'
priority = "P2"
queue = "aftersales"

[[rules]]
name = "outage"
condition = 'comment != null and comment =~~ "down"'
priority = "P1"
queue = "aftersales"

[[rules]]
name = "high_effort"
condition = "ces != null and ces >= 6"
priority = "P3"
queue = "aftersales"
"""


@pytest.fixture
def history(initialised: str, run: Run, tmp_path: Path) -> str:
    """An initialised database on each backend holding `FEED`, ingested."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(FEED) + "\n", encoding="utf-8")
    code, out, err = run("--db", initialised, "--now", NOW, "ingest", str(feed), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["tickets_created"] == 4
    return initialised


def backtest(run: Run, db: str, *options: str) -> dict[str, Any]:
    code, out, err = run("--db", db, "rules", "backtest", "--format", "json", *options)
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def by_rule(report: dict[str, Any], table: str) -> dict[str, dict[str, Any]]:
    return {row["rule"]: row for row in report[table]}


def test_the_configured_rules_fire_as_ingest_recorded(history: str, run: Run) -> None:
    report = backtest(run, history)
    assert report["replayed"] == 7 and report["alerts_recorded"] == report["alerts_now"] == 6
    changes = by_rule(report, "changes")
    assert {name: row["recorded"] for name, row in changes.items()} == {
        "gold_detractor": 2,
        "low_csat": 1,
        "complaint": 1,
        "outage": 1,
        "detractor": 1,
    }
    assert all(
        row["now"] == row["recorded"] and row["newly"] == row["no_longer"] == 0
        for row in changes.values()
    )
    rules = by_rule(report, "rules")
    assert rules["detractor"]["fired"] == 3 and rules["detractor"]["decided"] == 1
    assert (rules["gold_detractor"]["opened"], rules["gold_detractor"]["attached"]) == (1, 1)
    assert sum(row["opened"] for row in report["queues"]) == 4  # the cases ingest opened
    # Days are the configured timezone's: e4 is 23:00 UTC on day 1, day 2 in Shanghai.
    days = {(row["rule"], row["day"]): row for row in report["days"]}
    assert days[("low_csat", DAY2)]["opened"] == 1 and ("low_csat", DAY1) not in days


def test_a_proposed_file_adds_removes_and_reprioritises(
    history: str, run: Run, tmp_path: Path
) -> None:
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(PROPOSED, encoding="utf-8")
    report = backtest(run, history, "--rules", str(proposed))
    changes = by_rule(report, "changes")
    # Removed: gold_detractor's alerts now go to detractor, now P1.
    assert changes["gold_detractor"] == {
        "rule": "gold_detractor",
        "recorded": 2,
        "now": 0,
        "newly": 0,
        "no_longer": 2,
        "newly_examples": [],
        "no_longer_examples": ["e1", "e7"],
    }
    assert (changes["detractor"]["now"], changes["detractor"]["newly"]) == (3, 2)
    assert changes["detractor"]["newly_examples"] == ["e1", "e7"]
    # Added: e3, which alerted on nothing, now alerts.
    assert changes["high_effort"]["newly_examples"] == ["e3"]
    assert changes["high_effort"]["recorded"] == 0
    rules = by_rule(report, "rules")
    assert "gold_detractor" not in rules
    assert rules["detractor"]["priority"] == "P1"
    queues = {(row["priority"], row["queue"]): row for row in report["queues"]}
    assert ("P1", "vip") not in queues
    assert queues[("P1", "aftersales")] == {
        "priority": "P1",
        "queue": "aftersales",
        "opened": 3,  # e1 (C1), e5 (outage), e6 (C4)
        "attached": 1,  # e7 joins C1's case
    }
    assert queues[("P3", "aftersales")]["opened"] == 1  # e3 opens C2's case; e4 joins it
    assert queues[("P2", "aftersales")] == {
        "priority": "P2",
        "queue": "aftersales",
        "opened": 0,
        "attached": 2,
    }


def test_since_is_inclusive_and_until_exclusive(history: str, run: Run) -> None:
    report = backtest(run, history, "--since", f"{DAY2}T00:00:00", "--until", f"{DAY3}T00:00:00")
    assert report["replayed"] == 2  # e3 at the start, e4; not e5 at the end
    assert {row["day"] for row in report["days"]} == {DAY2}
    assert report["cases_open_at_since"] == 1  # C1's
    assert report["since"] == "2026-03-02T16:00:00+00:00"  # read in the configured timezone


def test_an_alert_for_a_customer_with_a_case_open_at_the_start_attaches(
    history: str, run: Run
) -> None:
    report = backtest(run, history, "--since", f"{DAY3}T11:00:00")
    gold = by_rule(report, "rules")["gold_detractor"]
    assert (report["replayed"], gold["opened"], gold["attached"]) == (1, 0, 1)
    assert report["cases_open_at_since"] == 4
    engine = engine_for(history)  # C1's case closed the day before: e7 opens one
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tickets SET stage = 'closed', closed_at = :at WHERE customer_id = 'C1'"
            ),
            {"at": "2026-03-03 01:00:00.000000"},
        )
    engine.dispose()
    report = backtest(run, history, "--since", f"{DAY3}T11:00:00")
    gold = by_rule(report, "rules")["gold_detractor"]
    assert (report["cases_open_at_since"], gold["opened"], gold["attached"]) == (3, 1, 0)


def every_table(db: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = engine_for(db)
    try:
        with engine.connect() as connection:
            return {
                name: [tuple(row) for row in connection.execute(sa.select(table))]
                for name, table in SQLModel.metadata.tables.items()
            }
    finally:
        engine.dispose()


def test_nothing_is_written(history: str, run: Run, tmp_path: Path) -> None:
    before = every_table(history)
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(PROPOSED, encoding="utf-8")
    backtest(run, history)
    backtest(run, history, "--rules", str(proposed), "--since", DAY2)
    assert run("--db", history, "rules", "backtest")[0] == 0
    assert every_table(history) == before
    assert before["audit_log"] and before["timeline_entries"]  # the history was there


def test_the_text_report_escapes_what_a_file_names(history: str, run: Run, tmp_path: Path) -> None:
    proposed = tmp_path / "proposed.toml"
    proposed.write_text(
        '[[rules]]\nname = "evil\\u001b[2J\\u202e"\ncondition = "nps != null"\n'
        'priority = "P3"\nqueue = "aftersales"\n',
        encoding="utf-8",
    )
    code, out, _ = run("--db", history, "rules", "backtest", "--rules", str(proposed))
    assert code == 0
    assert "\x1b" not in out and "\u202e" not in out
    assert "evil\\x1b[2J\\u202e" in out


@pytest.mark.parametrize(
    ("options", "rules", "said"),
    [
        (("--since", "2026-02-30"), None, "Invalid value for --since: '2026-02-30'"),
        (("--until", "soon"), None, "Invalid value for --until: 'soon' is not an ISO 8601"),
        (
            ("--since", DAY2, "--until", DAY1),
            None,
            f"Invalid value for --until: '{DAY1}' is not after --since '{DAY2}'",
        ),
        (("--since", DAY2, "--until", DAY2), None, "is not after --since"),
        ((), "[[rules]\n", "proposed.toml: invalid TOML: Expected ']]'"),
        ((), "[metric_alerts]\n", "proposed.toml: no [[rules]] in it"),
        (
            (),
            '[[rules]]\nname = "x"\ncondition = "nps <== 3"\npriority = "P1"\nqueue = "vip"\n',
            "proposed.toml: rule x: syntax error at column",
        ),
        (
            (),
            '[[rules]]\nname = "x"\ncondition = "nps < 3"\npriority = "P9"\nqueue = "vip"\n',
            "proposed.toml: rules.0.priority: Input should be 'P1', 'P2' or 'P3'",
        ),
        (
            (),
            '[[rules]]\nname = "x"\ncondition = "nps < 3"\npriority = "P1"\nqueue = "nope"\n',
            "proposed.toml: rules[0] x: unknown queue 'nope'",
        ),
        (
            (),
            PROPOSED + '[[rules]]\nname = "outage"\ncondition = "nps < 3"\npriority = "P1"\n'
            'queue = "vip"\n',
            "proposed.toml: rules[5]: duplicate rule name 'outage'",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    history: str,
    run: Run,
    tmp_path: Path,
    options: tuple[str, ...],
    rules: str | None,
    said: str,
) -> None:
    if rules is not None:
        (tmp_path / "proposed.toml").write_text(rules, encoding="utf-8")
        options = (*options, "--rules", str(tmp_path / "proposed.toml"))
    code, out, err = run("--db", history, "rules", "backtest", *options)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cxdesk: error: ")
    assert said in err


def test_a_rules_file_that_is_no_file_is_refused_unread(
    history: str, run: Run, tmp_path: Path
) -> None:
    fifo = tmp_path / "rules.fifo"
    os.mkfifo(fifo)  # opened blocking, it would wait for a writer forever
    big = tmp_path / "big.toml"
    big.write_text("#" * (2 << 20), encoding="utf-8")
    for path, said in (
        ("/dev/zero", "not a regular file"),
        (str(fifo), "not a regular file"),
        (str(tmp_path), "not a regular file"),
        (str(big), "larger than 1,048,576 bytes"),
    ):
        code, out, err = run("--db", history, "rules", "backtest", "--rules", path)
        assert (code, out) == (2, "") and f"--rules {path}: {said}" in err


def test_only_the_ingest_roles_may_backtest(history: str, run: Run) -> None:
    assert run("--db", history, "user", "add", "ann", "--role", "agent", "--team", "care")[0] == 0
    code, _, err = run("--db", history, "--as", "ann", "rules", "backtest")
    assert code == 2 and "ann (agent) may not test rules against the stored feedback" in err


def test_the_proposed_rules_may_come_on_standard_input(
    history: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PROPOSED))
    report = backtest(run, history, "--rules", "-")
    assert by_rule(report, "changes")["high_effort"]["newly_examples"] == ["e3"]


def test_an_event_whose_time_is_out_of_range_is_left_out_and_named(history: str, run: Run) -> None:
    """A time written outside cxdesk (the year 9999) cannot be put on a local day."""
    whole = backtest(run, history)
    db = Database.open(history)
    with db.write() as session:
        event_id = session.exec(
            select(FeedbackEvent.event_id).where(col(FeedbackEvent.nps) <= 6).limit(1)
        ).one()
        session.get_one(FeedbackEvent, event_id).occurred_at = datetime(
            9999, 12, 31, 23, 0, tzinfo=UTC
        )
    db.dispose()
    report = backtest(run, history)
    assert (report["unplaced"], report["unplaced_examples"]) == (1, [event_id])
    assert report["replayed"] == whole["replayed"]
    code, out, _ = run("--db", history, "rules", "backtest")
    assert code == 0 and f"left out 1 events whose time is out of range (e.g. {event_id})" in out
