"""Ingest tried as an attacker would: one bad record is quarantined with its reason, never
more, the run always ends with its summary, and nothing stored can break a listing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cxdesk.config import parse_settings
from cxdesk.errors import ConfigError
from tests.conftest import Run, engine_for

NOW = "2026-03-02T10:00:00+08:00"


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "kind": "survey",
        "occurred_at": "2026-03-02T08:00:00+08:00",
        "customer": {"id": f"C-{event_id}"},
        **fields,
    }


def jsonl(path: Path, *records: dict[str, Any] | str) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def query(db: str, sql: str) -> list[Any]:
    engine = engine_for(db)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def reasons(db: str) -> list[str]:
    return [row[0] for row in query(db, "SELECT reason FROM quarantine ORDER BY id")]


def ingest(run: Run, db: str, source: Path, *options: str) -> tuple[int, dict[str, int], str]:
    code, out, err = run(
        "--db", db, "--now", NOW, "ingest", str(source), "--format", "json", *options
    )
    assert "Traceback" not in err
    return code, json.loads(out), err


def balanced(summary: dict[str, int]) -> bool:
    return summary["read"] == summary["accepted"] + summary["duplicates"] + summary["quarantined"]


# -- 1, 2: instants at the ends of time, and outside the accepted window -----------------

EXTREME_TIMES = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31T12:00:00",
    "1970-01-01T00:00:00Z",
    "2100-01-01T10:00:00+08:00",
]


def test_times_at_the_ends_of_time_are_quarantined_and_the_rest_stored(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    records = [event("good-1", nps=2)]
    records += [event(f"odd-{n}", occurred_at=at, nps=1) for n, at in enumerate(EXTREME_TIMES)]
    records += [event("good-2", nps=9)]
    code, summary, _ = ingest(run, initialised, jsonl(tmp_path / "f.jsonl", *records))
    assert code == 1
    assert (summary["read"], summary["accepted"], summary["quarantined"]) == (8, 2, 6)
    assert summary["tickets_created"] == 1
    assert reasons(initialised) == [
        "line 2: occurred_at: 0001-01-01T00:00:00 is more than 1830 days in the past",
        "line 3: occurred_at: 0001-01-01T00:00:00+14:00 is more than 1830 days in the past",
        "line 4: occurred_at: 9999-12-31T23:59:59-12:00 is more than 1 hour in the future",
        "line 5: occurred_at: 9999-12-31T12:00:00 is more than 1 hour in the future",
        "line 6: occurred_at: 1970-01-01T00:00:00+00:00 is more than 1830 days in the past",
        "line 7: occurred_at: 2100-01-01T10:00:00+08:00 is more than 1 hour in the future",
    ]
    code, out, err = run("--db", initialised, "--now", NOW, "ticket", "list", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 1, err


def test_extreme_times_in_csv_on_stdin_and_in_rules_test(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    rows = ["event_id,kind,occurred_at,customer_id,nps"]
    rows += [f"c{n},survey,{at},C{n},1" for n, at in enumerate(EXTREME_TIMES)]
    rows += ["ok,survey,2026-03-02T08:00:00,C9,1"]
    csv_file = tmp_path / "f.csv"
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, summary, _ = ingest(run, initialised, csv_file)
    assert (code, summary["accepted"], summary["quarantined"]) == (1, 1, 6)

    code, out, err = run(
        "--db", initialised, "--now", NOW, "rules", "test", str(csv_file), "--format", "json"
    )
    assert code == 0 and "Traceback" not in err
    outcomes = [row["outcome"] for row in json.loads(out)]
    assert outcomes[0].startswith("quarantine: occurred_at: 0001-01-01T00:00:00 is more than")
    assert outcomes[-1].startswith("duplicate: already ingested")

    feed = "\n".join(
        json.dumps(event(f"in{n}", occurred_at=at)) for n, at in enumerate(EXTREME_TIMES)
    )
    process = subprocess.run(
        [
            sys.executable,
            "-m",
            "cxdesk",
            "--db",
            initialised,
            "--now",
            NOW,
            "ingest",
            "-",
            "--format",
            "json",
        ],
        input=feed + "\n" + json.dumps(event("in-ok")) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert process.returncode == 1, process.stderr
    assert json.loads(process.stdout)["quarantined"] == 6
    assert json.loads(process.stdout)["accepted"] == 1


def test_the_window_comes_from_the_config(initialised: str, tmp_path: Path, run: Run) -> None:
    config = tmp_path / "cx.toml"
    config.write_text('[ingest]\npast = "30d"\nfuture = "2d"\n', encoding="utf-8")
    feed = jsonl(
        tmp_path / "f.jsonl",
        event("old", occurred_at="2026-01-01T00:00:00+08:00"),
        event("soon", occurred_at="2026-03-03T10:00:00+08:00"),
        event("later", occurred_at="2026-03-05T10:00:00+08:00"),
    )
    code, out, _ = run(
        "--db",
        initialised,
        "--config",
        str(config),
        "--now",
        NOW,
        "ingest",
        str(feed),
        "--format",
        "json",
    )
    assert (code, json.loads(out)["accepted"]) == (1, 1)
    assert reasons(initialised) == [
        "line 1: occurred_at: 2026-01-01T00:00:00+08:00 is more than 30 days in the past",
        "line 3: occurred_at: 2026-03-05T10:00:00+08:00 is more than 2 days in the future",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[ingest]\npast = "0d"', "ingest.past"),
        ('[ingest]\npast = "100000d"', "ingest.past"),
        ('[ingest]\nfuture = "400d"', "ingest.future"),
        ('[ingest]\nfuture = "soon"', "ingest.future"),
        ("[ingest]\nhorizon = 3", "ingest.horizon"),
    ],
)
def test_the_window_is_validated(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_settings(text, "cx.toml")


ABSURD_DATES = [
    ("1970-01-01 00:00:00", "1970-01-01 02:00:00"),
    ("2100-01-01 00:00:00", "2100-01-01 02:00:00"),
    ("0001-01-01 00:00:00", "0001-01-01 02:00:00"),
    ("9999-12-31 00:00:00", "9999-12-31 23:59:59"),
]


@pytest.mark.parametrize(("opened", "due"), ABSURD_DATES)
def test_absurd_stored_dates_degrade_in_listings(
    initialised: str, tmp_path: Path, run: Run, opened: str, due: str
) -> None:
    """As an older cxdesk or a `--now` rehearsal may have left them: the listing shows the
    clock (as overdue, or far ahead), and never fails."""
    feed = jsonl(tmp_path / "f.jsonl", event("alert", nps=1))
    assert ingest(run, initialised, feed)[0] == 0
    engine = engine_for(initialised)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tickets SET opened_at = :opened, first_response_due = :due, "
                "sla_due = :due, sla_risk_at = :opened, updated_at = :opened"
            ),
            {"opened": opened, "due": due},
        )
    engine.dispose()
    for now in (NOW, "1900-01-01T00:00:00Z", "8999-12-31T00:00:00Z"):
        code, out, err = run(
            "--db", initialised, "--now", now, "ticket", "list", "--format", "json"
        )
        assert code == 0, err
        assert [row["id"] for row in json.loads(out)] == ["CX-000001"]
        code, out, err = run("--db", initialised, "--now", now, "ticket", "list")
        assert code == 0 and "CX-000001" in out, err


@pytest.mark.parametrize("option", ["--now", "--since", "--until"])
@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "1899-12-31T00:00:00Z"]
)
def test_instants_out_of_range_are_usage_errors(
    initialised: str, run: Run, option: str, at: str
) -> None:
    args = ["--now", at, "ticket", "list"] if option == "--now" else ["report", "sla", option, at]
    code, out, err = run("--db", initialised, *args)
    assert code == 2 and out == ""
    assert err.startswith("cxdesk: error: Invalid value for") and "out of range" in err
    assert len(err.strip().splitlines()) == 1


# -- 3: NUL, which PostgreSQL's text cannot hold ------------------------------------------


def test_nul_anywhere_is_stored_or_quarantined_and_retried_faithfully(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    raw_nul = json.dumps(event("raw-nul", comment="a\x00b")).replace("\\u0000", "\x00")
    outside = json.dumps(event("outside")).replace("{", "{\x00", 1)
    lines = [
        raw_nul,  # a raw NUL in a JSON string: invalid JSON
        outside,
        json.dumps(event("escaped", nps="\u0000")),  # echoed in the reason
        json.dumps(event("sign", comment="␀ and \u0000", drivers=["\u0000x"])),
        json.dumps(event("ok")),
    ]
    feed = tmp_path / "nul.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, summary, _ = ingest(run, initialised, feed)
    assert (code, summary["accepted"], summary["quarantined"]) == (1, 2, 3)
    assert (
        reasons(initialised)[2] == "line 3: nps: must be a whole number, not a string, got '\\x00'"
    )
    comment, drivers = query(
        initialised, "SELECT comment, drivers FROM feedback_events WHERE event_id = 'sign'"
    )[0]
    assert comment == "␀ and " and "x" in str(drivers)

    code, out, _ = run("--db", initialised, "ingest", "quarantine", "show", "1", "--format", "json")
    assert json.loads(out)[0]["raw"] == raw_nul.replace("\x00", "␀0")
    # Retried from the stored text, each is read as it came: refused for the same reason,
    # not quarantined again.
    code, out, err = run(
        "--db",
        initialised,
        "--now",
        NOW,
        "ingest",
        "quarantine",
        "retry",
        "--all",
        "--format",
        "json",
    )
    assert json.loads(out)["quarantined"] == 3, err
    assert len(reasons(initialised)) == 3


def test_nul_in_csv_cells_and_header(initialised: str, tmp_path: Path, run: Run) -> None:
    csv_file = tmp_path / "nul.csv"
    csv_file.write_text(
        "event_id,kind,occurred_at,customer_id,comment\n"
        "c1,survey,2026-03-02T08:00:00,C1,a\x00b\n"
        "c2,survey,2026-03-02T08:00:00,C2,x\x00,extra\n",
        encoding="utf-8",
    )
    code, summary, _ = ingest(run, initialised, csv_file)
    assert (code, summary["accepted"], summary["quarantined"]) == (1, 1, 1)
    assert query(initialised, "SELECT comment, raw FROM feedback_events") == [
        ("ab", "c1,survey,2026-03-02T08:00:00,C1,a␀0b")
    ]
    header = tmp_path / "header.csv"
    header.write_text(
        "event_id,kind\x00,occurred_at,customer_id\nh1,survey,x,C1\n", encoding="utf-8"
    )
    code, summary, _ = ingest(run, initialised, header)
    assert (code, summary["quarantined"]) == (1, 1)


# -- 6: values the schema let through ----------------------------------------------------


def test_booleans_blank_ids_and_endless_lists_are_refused(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    feed = jsonl(
        tmp_path / "f.jsonl",
        event("bool-nps", nps=True),
        event("bool-csat", csat=False),
        event("blank-customer", customer={"id": "   "}),
        event("nul-customer", customer={"id": "\u0000\t"}),
        event("  "),
        event("drivers", drivers=["late"] * 100_000),
        event("ok", nps=9),
    )
    code, summary, _ = ingest(run, initialised, feed)
    assert (code, summary["accepted"], summary["quarantined"], summary["alerts"]) == (1, 1, 6, 0)
    assert reasons(initialised) == [
        "line 1: nps: must be a whole number, got True",
        "line 2: csat: must be a whole number, got False",
        "line 3: customer.id: must not be blank, got '   '",
        "line 4: customer.id: must not be blank, got '\\x00\\t'",
        "line 5: event_id: must not be blank, got '  '",
        "line 6: drivers: longer than the limit of 100, got 100000",
    ]
    assert query(initialised, "SELECT count(*) FROM customers WHERE trim(id) = ''") == [(0,)]


def test_a_score_is_a_json_integer_in_jsonl_and_a_number_in_csv(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    """A string or a float where a score belongs is quarantined naming the field, however
    well it would read as one; a CSV cell, text by nature, is read as the number it says."""
    feed = jsonl(
        tmp_path / "f.jsonl",
        event("string", nps="9"),
        event("float", nps=10.0),
        event("fraction", csat=4.5),
        event("exponent", ces="1e1"),
        event("ok", nps=9),
    )
    code, summary, _ = ingest(run, initialised, feed)
    assert (code, summary["accepted"], summary["quarantined"]) == (1, 1, 4)
    assert reasons(initialised) == [
        "line 1: nps: must be a whole number, not a string, got 9",
        "line 2: nps: must be a whole number, got 10.0",
        "line 3: csat: must be a whole number, got 4.5",
        "line 4: ces: must be a whole number, not a string, got 1e1",
    ]
    cells = tmp_path / "f.csv"
    cells.write_text(
        "event_id,kind,occurred_at,customer_id,nps,csat\n"
        "c1,survey,2026-03-02T08:00:00+08:00,C1, 9 ,\n"
        "c2,survey,2026-03-02T08:00:00+08:00,C2,9.5,\n"
        "c3,survey,2026-03-02T08:00:00+08:00,C3,,nine\n"
        "c4,survey,2026-03-02T08:00:00+08:00,C4,１０,\n"
        "c5,survey,2026-03-02T08:00:00+08:00,C5,,+4\n",
        encoding="utf-8",
    )
    code, summary, _ = ingest(run, initialised, cells)
    assert (code, summary["accepted"], summary["quarantined"]) == (1, 2, 3)
    assert reasons(initialised)[4:] == [
        "line 3: nps: must be a whole number, got 9.5",
        "line 4: csat: must be a whole number, not a string, got nine",
        "line 5: nps: must be a whole number, not a string, got １０",
    ]
    stored = "SELECT event_id, nps, csat FROM feedback_events WHERE event_id LIKE 'c%' ORDER BY 1"
    assert query(initialised, stored) == [("c1", 9, None), ("c5", None, 4)]


# -- 5: one physical record is one record, whatever its size or format -------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_ten_megabyte_line_is_one_record(
    initialised: str, tmp_path: Path, run: Run, fmt: str
) -> None:
    huge = "长" * (10 * 1024 * 1024)
    if fmt == "csv":
        lines = ["event_id,kind,occurred_at,customer_id,comment"]
        lines += [f"e{n},survey,2026-03-02T08:00:00,C{n},fine" for n in range(3)]
        lines += [
            f"big,survey,2026-03-02T08:00:00,C9,{huge}",
            '"quoted",survey,2026-03-02T08:00:00,C8,"a\nb"',
        ]
    else:
        lines = [json.dumps(event(f"e{n}")) for n in range(3)]
        lines += [
            json.dumps(event("big", comment=huge), ensure_ascii=False),
            json.dumps(event("after")),
        ]
    source = tmp_path / f"big.{fmt}"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, summary, _ = ingest(run, initialised, source)
    assert (code, summary["read"], summary["accepted"], summary["quarantined"]) == (1, 5, 4, 1)
    line = 5 if fmt == "csv" else 4
    assert reasons(initialised) == [
        f"line {line}: record longer than the limit of 1048576 characters"
    ]


def test_byte_order_marks_and_header_faults(initialised: str, tmp_path: Path, run: Run) -> None:
    bom = tmp_path / "bom.jsonl"
    bom.write_text("\ufeff" + json.dumps(event("bom")) + "\n", encoding="utf-8")
    assert ingest(run, initialised, bom)[1]["accepted"] == 1
    csv_bom = tmp_path / "bom.csv"
    csv_bom.write_text(
        "\ufeffevent_id,kind,occurred_at,customer_id\nb2,survey,2026-03-02T08:00:00,C\n"
    )
    assert ingest(run, initialised, csv_bom)[1]["accepted"] == 1
    twice = tmp_path / "twice.csv"
    twice.write_text(
        "event_id,kind,occurred_at,customer_id,nps,nps\nt,survey,2026-03-02T08:00:00,C,1,9\n"
    )
    code, summary, _ = ingest(run, initialised, twice)
    assert (code, summary["quarantined"]) == (1, 1)
    assert reasons(initialised) == ["line 2: CSV header: column 'nps' named more than once"]


# -- 4: rules that compile but fail on some events ---------------------------------------

FAILING_RULES = """
[[rules]]
name = "long_comment"
condition = "comment.length > 3"
priority = "P2"
queue = "aftersales"

[[rules]]
name = "fifth_driver"
condition = 'drivers[5] == "x"'
priority = "P3"
queue = "aftersales"

[[rules]]
name = "tier_named"
condition = "customer_tier.length > 2"
priority = "P3"
queue = "aftersales"

[[rules]]
name = "detractor"
condition = "nps != null and nps <= 6"
priority = "P2"
queue = "aftersales"
"""


@pytest.mark.parametrize("count", [3, 1200])  # the larger is judged in the reading process
def test_a_failing_rule_does_not_stop_the_feed(
    initialised: str, tmp_path: Path, run: Run, count: int
) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(FAILING_RULES, encoding="utf-8")
    records = [
        event(f"r{n}", nps=n % 11, **({"comment": "a long one"} if n % 3 == 0 else {}))
        for n in range(count)
    ]
    feed = jsonl(tmp_path / "f.jsonl", *records)
    code, out, err = run(
        "--db", initialised, "--config", str(config), "--now", NOW, "rules", "test", str(feed),
        "--format", "json",
    )  # fmt: skip
    assert code == 0, err
    assert "rule fifth_driver failed (LookupError" in json.loads(out)[0]["outcome"]
    code, out, err = run(
        "--db", initialised, "--config", str(config), "--now", NOW,
        "ingest", str(feed), "--format", "json", "--batch", "1000",
    )  # fmt: skip
    summary = json.loads(out)
    assert (code, summary["accepted"], summary["quarantined"]) == (0, count, 0), err
    alerting = [n for n in range(count) if n % 11 <= 6 or n % 3 == 0]  # a customer each
    assert summary["tickets_created"] == len(alerting)
    warnings = err.strip().splitlines()
    assert warnings[0] == (
        f"cxdesk: warning: rule fifth_driver failed on {count} events, counted as not fired "
        "(first: line 1, event r0: LookupError: lookup operation failed)"
    )
    assert any(
        w.startswith(f"cxdesk: warning: rule long_comment failed on {count - (count + 2) // 3} ")
        and "line 2, event r1: AttributeResolutionError" in w
        and "(null here: comment)" in w
        for w in warnings
    )
    assert any("rule tier_named failed" in w for w in warnings)


def test_rules_check_warns_of_conditions_that_can_fail(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    config = tmp_path / "rules.toml"
    config.write_text(
        FAILING_RULES
        + '[[rules]]\nname = "bare"\ncondition = "nps <= 6"\npriority = "P3"\nqueue = "vip"\n'
        + '[[rules]]\nname = "safe"\ncondition = \'comment == null or "x" in comment\'\n'
        + 'priority = "P3"\nqueue = "vip"\n',
        encoding="utf-8",
    )
    code, out, err = run("--db", initialised, "--config", str(config), "rules", "check")
    assert (code, out) == (0, "ok: 6 rules\n")
    assert err.splitlines() == [
        "cxdesk: warning: rule long_comment: comment.length fails on an event without comment; "
        "guard it: `comment != null and …`",
        "cxdesk: warning: rule fifth_driver: drivers[5] fails on an event with fewer drivers; "
        "write `drivers&[5]`",
        "cxdesk: warning: rule tier_named: customer_tier.length fails on an event without "
        "customer_tier; guard it: `customer_tier != null and …`",
        "cxdesk: warning: rule bare: nps may be null, which `<`, `+` and the like fail on; "
        "guard it: `nps != null and …`",
    ]
    assert run("--db", initialised, "rules", "check")[2] == ""  # the default rules are guarded


def test_a_window_taken_long_ago_reads_the_clock_before_refusing() -> None:
    """A live feed keeps its window for days: what is within it now is never refused."""
    from datetime import UTC, datetime, timedelta

    from cxdesk.config import IngestConfig
    from cxdesk.workflow.intake.validation import Window

    now = [datetime(2026, 3, 2, tzinfo=UTC)]
    window = Window(IngestConfig(), lambda: now[0])
    now[0] += timedelta(days=3)
    assert window.refusal(now[0]) is None
    assert window.refusal(now[0] + timedelta(hours=2)) == "is more than 1 hour in the future"
    assert window.refusal(now[0] - timedelta(days=1831)) == "is more than 1830 days in the past"
