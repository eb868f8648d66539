"""Ingest as a user runs it: exact counts, idempotence, quarantine, CSV, live feeds, crashes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from cxdesk.workflow.intake.feed import FIRST_BATCH, MIN_BATCH_FOR_CHILD
from tests.conftest import Run, engine_for

NOW = "2026-03-02T10:00:00+08:00"
OUTAGE = ("系统故障", "App 无法使用", "the site is down", "total outage")
CALM = ("物流很快", "nice staff", "download was quick", "")
CRASH_BATCH = MIN_BATCH_FOR_CHILD  # big enough that batches are validated ahead in a child
SUMMARY_KEYS = [
    "read",
    "accepted",
    "duplicates",
    "quarantined",
    "alerts",
    "tickets_created",
    "tickets_updated",
]


def event(event_id: str, customer: str, minute: int, **fields: object) -> dict:
    return {
        "event_id": event_id,
        "kind": "survey",
        "customer": {"id": customer},
        "occurred_at": f"2026-03-02T08:{minute % 60:02d}:00+08:00",
        **fields,
    }


def mixed_feed(seed: int) -> tuple[list[str], dict]:
    """A realistic feed with its expected outcome, worked out independently of the rules."""
    rng = random.Random(seed)
    tiers = {f"C{i}": rng.choice(["gold", "silver", None]) for i in range(25)}
    lines: list[str] = []
    alerting: dict[str, bool] = {}  # customer → hit a P1 rule
    valid = 0
    for n in range(160):
        customer = rng.choice(list(tiers))
        kind = rng.choice(["survey", "survey", "complaint", "review"])
        fields: dict = {"kind": kind, "comment": rng.choice(OUTAGE + CALM) or None}
        if kind == "survey":
            fields["nps"] = rng.randint(0, 10)
        if kind == "review":
            fields["csat"] = rng.randint(1, 5)
        record = event(f"e{n}", customer, n, **fields)
        record["customer"]["tier"] = tiers[customer]
        record["customer"]["name"] = rng.choice(["王芳", "[@click=app.quit]x[/]", "Ann Lee"])
        lines.append(json.dumps(record, ensure_ascii=False))
        valid += 1
        nps, csat, comment = fields.get("nps"), fields.get("csat"), fields["comment"] or ""
        detractor = nps is not None and nps <= 6
        p1 = (
            (detractor and tiers[customer] == "gold")
            or any(w in comment.lower() for w in ("故障", "无法使用", "outage"))
            or " down" in comment
        )
        p2 = detractor or (csat is not None and csat <= 2) or kind == "complaint"
        if p1 or p2:
            alerting[customer] = alerting.get(customer, False) or p1
    resent = rng.sample(lines, 12)
    bad = [
        "{not json",
        json.dumps(event("bad-nps", "C1", 1, nps=11)),
        json.dumps(event("bad-csat", "C1", 1, csat=0)),
        json.dumps({"event_id": "no-customer", "kind": "survey", "occurred_at": NOW}),
        json.dumps(event("bad-kind", "C1", 1, kind="tweet")),
        json.dumps(event("long", "C1", 1, comment="长" * 10_001)),
        json.dumps(event("bad-time", "C1", 1) | {"occurred_at": "yesterday"}),
        json.dumps(event("unknown-field", "C1", 1, npss=3)),
    ]
    everything = lines + resent + bad
    rng.shuffle(everything)
    # re-sent copies must come after their original for the counts below to be exact
    seen: set[str] = set()
    ordered = []
    for line in everything:
        if line in resent and line not in seen:
            seen.add(line)
            continue
        ordered.append(line)
    ordered += resent
    expected = {
        "read": len(ordered) + len(resent) - len(resent),
        "accepted": valid,
        "duplicates": len(resent),
        "quarantined": len(bad),
        "tickets_created": len(alerting),
        "p1_customers": sorted(c for c, p1 in alerting.items() if p1),
    }
    expected["read"] = len(ordered)
    return ordered, expected


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def query(db: Path | str, sql: str) -> list:
    engine = engine_for(str(db))
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def test_a_mixed_feed_gives_exact_counts_and_a_rerun_changes_nothing(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    lines, expected = mixed_feed(seed=5)
    feed = write_lines(tmp_path / "feed.jsonl", lines)
    code, out, _ = run(
        "--db", str(initialised), "--now", NOW, "ingest", str(feed), "--format", "json"
    )
    summary = json.loads(out)
    assert code == 1  # some records were quarantined
    assert list(summary) == SUMMARY_KEYS
    for key in ("read", "accepted", "duplicates", "quarantined", "tickets_created"):
        assert summary[key] == expected[key], key
    p1 = [
        row[0]
        for row in query(
            initialised,
            "SELECT customer_id FROM tickets WHERE priority = 'P1' ORDER BY customer_id",
        )
    ]
    assert p1 == expected["p1_customers"]
    before = query(
        initialised,
        "SELECT (SELECT count(*) FROM feedback_events), "
        "(SELECT count(*) FROM tickets), (SELECT count(*) FROM timeline_entries),"
        " (SELECT count(*) FROM quarantine), (SELECT count(*) FROM audit_log)",
    )
    code, out, _ = run(
        "--db", str(initialised), "--now", NOW, "ingest", str(feed), "--format", "json"
    )
    again = json.loads(out)
    assert again["accepted"] == again["tickets_created"] == again["alerts"] == 0
    assert again["duplicates"] == expected["accepted"] + expected["duplicates"]
    assert again["quarantined"] == expected["quarantined"]
    after = query(
        initialised,
        "SELECT (SELECT count(*) FROM feedback_events), "
        "(SELECT count(*) FROM tickets), (SELECT count(*) FROM timeline_entries),"
        " (SELECT count(*) FROM quarantine), (SELECT count(*) FROM audit_log)",
    )
    assert after == before


def test_every_alert_is_on_its_ticket_timeline(initialised: str, tmp_path: Path, run: Run) -> None:
    lines, _ = mixed_feed(seed=9)
    run(
        "--db",
        str(initialised),
        "--now",
        NOW,
        "ingest",
        str(write_lines(tmp_path / "f.jsonl", lines)),
    )
    missing = query(
        initialised,
        "SELECT e.event_id FROM feedback_events e WHERE e.ticket_id IS NOT "
        "NULL AND NOT EXISTS (SELECT 1 FROM timeline_entries t WHERE "
        "t.event_id = e.event_id AND t.ticket_id = e.ticket_id)",
    )
    assert missing == []
    versions = query(
        initialised,
        "SELECT t.id FROM tickets t WHERE t.version != (SELECT count(*) "
        "FROM audit_log a WHERE a.ticket_id = t.id)",
    )
    assert versions == []


def test_quarantine_reasons_name_the_field_and_the_line(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    feed = write_lines(
        tmp_path / "bad.jsonl",
        [
            json.dumps(event("ok", "C1", 1, nps=9)),
            json.dumps(event("x", "C1", 1, nps=11)),
            "{oops",
            json.dumps(event("y", "C2", 2, comment="x" * 10_001)),
        ],
    )
    run("--db", str(initialised), "ingest", str(feed))
    code, out, _ = run("--db", str(initialised), "ingest", "quarantine", "list", "--format", "json")
    reasons = [item["reason"] for item in json.loads(out)]
    assert reasons[0] == "line 2: nps: must be <= 10, got 11"
    assert reasons[1].startswith("line 3: invalid JSON: ")
    assert reasons[2] == ("line 4: comment: longer than the limit of 10000, got 10001")
    code, out, _ = run("--db", str(initialised), "ingest", "quarantine", "show", "1")
    assert code == 0 and '"nps": 11' in out


def test_retry_from_the_fixed_source_resolves(initialised: str, tmp_path: Path, run: Run) -> None:
    lines = [json.dumps(event("a", "C1", 1, nps=9)), json.dumps(event("b", "C2", 2, nps=11))]
    feed = write_lines(tmp_path / "f.jsonl", lines)
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 1
    write_lines(feed, [lines[0], json.dumps(event("b", "C2", 2, nps=1))])
    code, out, _ = run(
        "--db",
        str(initialised),
        "ingest",
        "quarantine",
        "retry",
        "--all",
        "--from-source",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["accepted"] == 1
    assert json.loads(out)["tickets_created"] == 1
    code, out, _ = run("--db", str(initialised), "ingest", "quarantine", "list", "--format", "json")
    assert json.loads(out) == []


def test_ingesting_the_fixed_file_again_resolves_its_quarantined_lines(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    lines = [json.dumps(event("a", "C1", 1, nps=9)), json.dumps(event("b", "C2", 2, nps=11))]
    feed = write_lines(tmp_path / "f.jsonl", lines)
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 1
    write_lines(feed, [lines[0], json.dumps(event("b", "C2", 2, nps=1))])
    code, out, _ = run("--db", str(initialised), "ingest", str(feed), "--format", "json")
    assert code == 0 and json.loads(out)["accepted"] == json.loads(out)["duplicates"] == 1
    code, out, _ = run("--db", str(initialised), "ingest", "quarantine", "list", "--format", "json")
    assert json.loads(out) == []


def test_retry_from_the_stored_text_once_the_cause_is_gone(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    answer = event("f1", "C1", 5, kind="followup", nps=9, ticket_id="CX-000001")
    feed = write_lines(tmp_path / "answers.jsonl", [json.dumps(answer)])
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 1  # no such ticket yet
    opener = write_lines(tmp_path / "open.jsonl", [json.dumps(event("d1", "C1", 1, nps=2))])
    assert run("--db", str(initialised), "ingest", str(opener))[0] == 0
    code, out, _ = run(
        "--db", str(initialised), "ingest", "quarantine", "retry", "1", "--format", "json"
    )
    assert code == 0 and json.loads(out)["accepted"] == 1
    linked = query(initialised, "SELECT ticket_id FROM feedback_events WHERE event_id = 'f1'")
    assert linked == [(1,)]
    body = query(initialised, "SELECT body FROM timeline_entries WHERE event_id = 'f1'")
    assert body == [("follow-up answered NPS 9 while new",)]


CSV_TEXT = (
    "event_id,kind,occurred_at,customer_id,customer_name,customer_tier,nps,csat,comment,drivers\n"
    'c1,survey,2026-03-02T09:00:00+08:00,A,"Wang, Fang",gold,2,,"line one\nline two",late;rude\n'
    "c2,review,2026-03-02T09:01:00+08:00,B,,,,1,,\n"
    "c3,survey,2026-03-02T09:02:00+08:00,B,,,10,,,\n"
    "c4,survey,2026-03-02T09:03:00+08:00,C,,,12,,,\n"
    "c5,survey,2026-03-02T09:04:00+08:00,C,,\n"
)


def test_a_customer_keeps_what_later_events_leave_out_and_takes_what_they_change(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    def line(event_id: str, minute: int, **given: str) -> str:
        record = event(event_id, "K", minute)
        record["customer"].update(given)
        return json.dumps(record)

    runs = [
        [
            line("k1", 1, name="Ann", tier="gold", phone="1"),
            line("k2", 2, tier="silver"),  # in the same batch
            line("k3", 3, email="k@example.com"),
        ],
        [line("k4", 4, name="Ann Lee"), line("k5", 5)],  # another run: read back
    ]
    expected = [
        ("Ann", "1", "k@example.com", "silver"),
        ("Ann Lee", "1", "k@example.com", "silver"),
    ]
    for n, lines in enumerate(runs):
        feed = write_lines(tmp_path / f"feed{n}.jsonl", lines)
        assert run("--db", str(initialised), "ingest", str(feed))[0] == 0
        stored = query(initialised, "SELECT name, phone, email, tier FROM customers WHERE id = 'K'")
        assert stored == [expected[n]]


def test_csv_with_quoted_commas_and_newlines(initialised: str, tmp_path: Path, run: Run) -> None:
    feed = tmp_path / "feed.csv"
    feed.write_text(CSV_TEXT, encoding="utf-8")
    code, out, _ = run("--db", str(initialised), "ingest", str(feed), "--format", "json")
    summary = json.loads(out)
    assert code == 1
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (5, 3, 2)
    assert summary["tickets_created"] == 2
    row = query(initialised, "SELECT comment, drivers FROM feedback_events WHERE event_id = 'c1'")[
        0
    ]
    drivers = row[1] if isinstance(row[1], list) else json.loads(row[1])  # PostgreSQL: json
    assert row[0] == "line one\nline two" and drivers == ["late", "rude"]
    assert query(initialised, "SELECT name, tier FROM customers WHERE id = 'A'") == [
        ("Wang, Fang", "gold")
    ]
    reasons = [r[0] for r in query(initialised, "SELECT reason FROM quarantine ORDER BY line")]
    assert reasons == [
        "line 6: nps: must be <= 10, got 12",
        "line 7: 6 cells, but the header has 10",
    ]
    code, out, _ = run(
        "--db", str(initialised), "ingest", "quarantine", "retry", "--all", "--format", "json"
    )
    assert json.loads(out)["quarantined"] == 2  # still bad: stored CSV text is read with its header


def live_feed_of_three(db: str) -> subprocess.Popen[bytes]:
    """`cxdesk ingest -` given three alerting events of one customer, its input left open,
    once they are committed. It heeds ctrl+c even when the tests were started in the
    background by a shell, whose children ignore SIGINT (and Python then leaves it ignored)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cxdesk", "--db", str(db), "ingest", "-", "--format", "json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdin is not None
    for n in range(3):
        process.stdin.write((json.dumps(event(f"live{n}", "L", n, nps=2)) + "\n").encode())
    process.stdin.flush()
    deadline = time.monotonic() + 20
    while query(db, "SELECT count(*) FROM feedback_events")[0][0] < 3:
        assert time.monotonic() < deadline, "events of an open feed were not committed"
        time.sleep(0.2)
    return process


def test_stdin_feed_commits_while_it_stays_open(initialised: str) -> None:
    process = live_feed_of_three(initialised)
    assert process.poll() is None  # still running, still reading
    out, _ = process.communicate(b"", timeout=20)
    assert process.returncode == 0
    assert json.loads(out)["tickets_created"] == 1


def test_ctrl_c_on_a_live_feed_says_what_was_stored(initialised: str) -> None:
    process = live_feed_of_three(initialised)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 130  # before the feed ends: stopped, not finished
    out, err = process.communicate()
    figures = json.loads(out)
    assert (figures["read"], figures["accepted"], figures["tickets_created"]) == (3, 3, 1)
    assert "interrupted: the figures are the batches stored before ctrl+c" in err.decode()


def test_a_bad_rule_stops_ingest_with_its_name(initialised: str, tmp_path: Path, run: Run) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(
        '[[rules]]\nname = "broken"\ncondition = "nps <== 3"\npriority = "P1"\nqueue = "vip"\n',
        encoding="utf-8",
    )
    code, _, err = run("--db", str(initialised), "--config", str(config), "rules", "check")
    assert code == 2 and "rule broken: syntax error at column" in err
    feed = write_lines(tmp_path / "f.jsonl", [json.dumps(event("a", "C", 1, nps=1))])
    code, _, err = run("--db", str(initialised), "--config", str(config), "ingest", str(feed))
    assert code == 2 and "rule broken" in err
    assert query(initialised, "SELECT count(*) FROM feedback_events") == [(0,)]


def test_rules_test_is_a_dry_run(initialised: str, tmp_path: Path, run: Run) -> None:
    feed = write_lines(
        tmp_path / "f.jsonl",
        [
            json.dumps(event("a", "G", 1, nps=3) | {"customer": {"id": "G", "tier": "gold"}}),
            json.dumps(event("b", "G", 2, kind="complaint")),
            json.dumps(event("c", "H", 3, nps=10)),
            json.dumps(event("d", "H", 4, nps=42)),
        ],
    )
    code, out, _ = run("--db", str(initialised), "rules", "test", str(feed), "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [r["outcome"] for r in rows] == [
        "open P1 case in vip",
        "attach to the case opened at line 1",
        "no alert",
        "quarantine: nps: must be <= 10, got 42",
    ]
    assert rows[0]["fired"] == "gold_detractor, detractor"
    assert query(initialised, "SELECT count(*) FROM feedback_events") == [(0,)]


def test_rules_test_tells_the_follow_ups_ingest_would_quarantine(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    """A follow-up answering another customer's ticket, or no ticket, is quarantined by
    ingest; the dry run says so with the same reason, and the own customer's answer is one."""
    opening = write_lines(tmp_path / "open.jsonl", [json.dumps(event("a", "G", 1, nps=3))])
    assert run("--db", str(initialised), "ingest", str(opening))[0] == 0
    answers = {"own": "G", "stranger": "H"}
    feed = write_lines(
        tmp_path / "answers.jsonl",
        [
            *(
                json.dumps(event(name, who, 5, kind="followup", nps=10, ticket_id="CX-000001"))
                for name, who in answers.items()
            ),
            json.dumps(event("nowhere", "G", 6, kind="followup", nps=10, ticket_id="CX-000099")),
            json.dumps(event("garbled", "G", 7, kind="followup", nps=10, ticket_id="CX-x")),
        ],
    )
    code, out, _ = run("--db", str(initialised), "rules", "test", str(feed), "--format", "json")
    told = [row["outcome"] for row in json.loads(out)]
    assert code == 0 and told[0] == "follow-up answer for CX-000001"
    # the same reason for another customer's ticket as for none: nothing told of the ticket
    assert told[1] == "quarantine: ticket_id: customer H has no ticket CX-000001"
    assert told[2] == "quarantine: ticket_id: customer G has no ticket CX-000099"
    code, _, _ = run("--db", str(initialised), "ingest", str(feed))
    assert code == 1
    quarantined = query(initialised, "SELECT line, reason FROM quarantine ORDER BY line")
    assert [line for line, _ in quarantined] == [2, 3, 4]
    assert [f"quarantine: {reason}" for _, reason in quarantined] == [
        f"quarantine: line {line}: {outcome.removeprefix('quarantine: ')}"
        for line, outcome in zip([2, 3, 4], told[1:], strict=True)
    ]
    assert query(initialised, "SELECT event_id FROM feedback_events WHERE kind = 'followup'") == [
        ("own",)
    ]


def test_rules_test_on_stored_events_says_which_rules_fire(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    feed = write_lines(
        tmp_path / "f.jsonl",
        [
            json.dumps(event("a", "G", 1, nps=3) | {"customer": {"id": "G", "tier": "gold"}}),
            json.dumps(event("c", "H", 3, nps=10)),
        ],
    )
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 0
    code, out, _ = run("--db", str(initialised), "rules", "test", str(feed), "--format", "json")
    rows = json.loads(out)
    assert code == 0
    assert [r["fired"] for r in rows] == ["gold_detractor, detractor", ""]
    assert all(r["outcome"].startswith("duplicate: already ingested") for r in rows)


def unkeyed(detail: str) -> dict:
    """An audit row's detail without the digests made with its database's key."""
    values = json.loads(detail)
    values.pop("timeline", None)  # rows about agents have none
    return values


def test_tickets_are_the_same_whether_planned_ahead_or_here(tmp_path: Path, run: Run) -> None:
    """Batches big enough for the reading process get their new cases' clocks planned there,
    and their events' rows bound there, whose times the writer binds its own rows with; a
    case whose priority rises is planned again by the writer."""
    rng = random.Random(5)
    lines = [
        json.dumps(
            event(
                f"s{n}",
                "",
                n,
                nps=rng.randint(0, 10),
                comment=rng.choice(OUTAGE + CALM + CALM) or None,
            )
            | {"customer": {"id": f"C{rng.randrange(1500)}", "tier": rng.choice(["gold", "no"])}}
        )
        for n in range(3 * CRASH_BATCH)
    ]
    feed = write_lines(tmp_path / "feed.jsonl", lines)
    tickets, timelines, audits = [], [], []
    # Here first: both runs are in this process, and a time the reading process got wrong
    # must not be what both are compared with.
    for name, batch in (("here", CRASH_BATCH - 1), ("ahead", CRASH_BATCH)):
        db = tmp_path / f"{name}.db"
        run("--db", str(db), "--now", NOW, "init")  # its audit row at the same time in both
        code, _, _ = run("--db", str(db), "--now", NOW, "ingest", str(feed), "--batch", str(batch))
        assert code == 0
        tickets.append(query(db, "SELECT * FROM tickets ORDER BY id"))
        timelines.append(query(db, "SELECT * FROM timeline_entries ORDER BY id"))
        # each database has a key of its own: its digests, and those of the timeline entries
        # its rows record, differ; what the rows say must not
        audit = "SELECT at, actor, action, ticket_id, detail FROM audit_log WHERE id > 1"
        audits.append([(*row[:4], unkeyed(row[4])) for row in query(db, f"{audit} ORDER BY id")])
        assert run("--db", str(db), "audit", "verify")[0] == 0
    assert timelines[0] == timelines[1]
    assert audits[0] == audits[1]
    here, ahead = tickets
    assert ahead == here
    assert len(ahead) > 1000
    assert {row.priority for row in ahead} == {"P1", "P2"}
    raised = "SELECT count(*) FROM timeline_entries WHERE body LIKE '%priority P2 → P1%'"
    assert query(tmp_path / "ahead.db", raised)[0][0] > 10  # some within their first batch
    # a ticket was last updated by its last alert, as the service's commands date theirs
    stale = (
        "SELECT count(*) FROM tickets t WHERE t.updated_at != (SELECT e.occurred_at FROM "
        "feedback_events e WHERE e.ticket_id = t.id ORDER BY e.rowid DESC LIMIT 1)"
    )
    assert query(tmp_path / "ahead.db", stale) == [(0,)]


def _counts(db: Path) -> tuple:
    return query(
        db,
        "SELECT (SELECT count(*) FROM feedback_events), (SELECT count(*) FROM "
        "tickets), (SELECT count(*) FROM timeline_entries), (SELECT count(*) FROM "
        "customers), (SELECT group_concat(priority, '') FROM (SELECT priority FROM "
        "tickets ORDER BY customer_id))",
    )[0]


def test_a_killed_ingest_leaves_no_half_work_and_a_rerun_completes_it(
    tmp_path: Path, run: Run
) -> None:
    rng = random.Random(3)
    lines = [
        json.dumps(
            event(
                f"k{n}",
                f"C{rng.randrange(3000)}",
                n,
                nps=rng.randint(0, 10),
                comment=rng.choice(OUTAGE + CALM) or None,
            )
        )
        for n in range(15_000)
    ]
    feed = write_lines(tmp_path / "big.jsonl", lines)
    clean = tmp_path / "clean.db"
    run("--db", str(clean), "init")
    run("--db", str(clean), "--now", NOW, "ingest", str(feed), "--batch", str(CRASH_BATCH))
    crashed = tmp_path / "crashed.db"
    run("--db", str(crashed), "init")
    command = [
        sys.executable,
        "-m",
        "cxdesk",
        "--db",
        str(crashed),
        "--now",
        NOW,
        "ingest",
        str(feed),
        "--batch",
        str(CRASH_BATCH),
    ]
    # Where batches end: the child's first batch is no smaller than the rest.
    assert FIRST_BATCH >= CRASH_BATCH
    batch_ends = {*range(0, len(lines), CRASH_BATCH), len(lines)}
    kills = 0
    for _ in range(10):  # kill -9 at a random moment, ten times over, resuming each time
        before = query(crashed, "SELECT count(*) FROM feedback_events")[0][0]
        if before == len(lines):
            break
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = before + rng.randrange(CRASH_BATCH // 2, 2 * CRASH_BATCH)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if query(crashed, "SELECT count(*) FROM feedback_events")[0][0] >= target:
                break
            time.sleep(0.02)
        if process.poll() is None:  # it may have finished the file first
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait()
        stored = query(crashed, "SELECT count(*) FROM feedback_events")[0][0]
        assert stored in batch_ends  # whole batches only
        orphans = query(
            crashed,
            "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 "
            "FROM feedback_events e WHERE e.ticket_id = t.id)",
        )
        assert orphans == [(0,)]  # no ticket without the event that raised it
        half = query(  # NOT IN, which SQLite answers from a set of the ids built once
            crashed,
            "SELECT count(*) FROM feedback_events e WHERE e.ticket_id IS NOT NULL "
            "AND e.event_id NOT IN (SELECT t.event_id FROM timeline_entries t "
            "WHERE t.event_id IS NOT NULL)",
        )
        assert half == [(0,)]  # no event half-processed
    assert kills >= 3
    run("--db", str(crashed), "--now", NOW, "ingest", str(feed), "--batch", str(CRASH_BATCH))
    assert _counts(crashed) == _counts(clean)


def test_a_line_refused_again_keeps_one_quarantine_entry(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    good = json.dumps(event("a", "C1", 1, nps=9))
    feed = write_lines(tmp_path / "f.jsonl", [good, json.dumps(event("b", "C2", 2, nps=11))])
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 1
    retry = ("--db", str(initialised), "ingest", "quarantine", "retry", "--all")
    assert run(*retry)[0] == 1  # the stored text, failing as before
    write_lines(feed, [good, json.dumps(event("b", "C2", 2, nps=12))])  # fixed, but wrongly
    assert run(*retry, "--from-source")[0] == 1
    assert run("--db", str(initialised), "ingest", str(feed))[0] == 1  # the file, again
    _, out, _ = run(
        "--db", str(initialised), "ingest", "quarantine", "list", "--all", "--format", "json"
    )
    (entry,) = json.loads(out)
    assert entry["line"] == 2 and not entry["resolved"] and entry["retried_at"]
    assert '"nps": 12' in entry["raw"] and "got 12" in entry["reason"]
    write_lines(feed, [good, json.dumps(event("b", "C2", 2, nps=1))])
    assert run(*retry, "--from-source")[0] == 0
    _, out, _ = run(
        "--db", str(initialised), "ingest", "quarantine", "list", "--all", "--format", "json"
    )
    assert [e["resolved"] for e in json.loads(out)] == [True]
