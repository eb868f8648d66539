"""Hostile feeds, generated, through a real ingest on each backend: every record read is
accepted, a duplicate or quarantined, nothing raises, and the listings and the queue
screen still open on what was stored."""

from __future__ import annotations

import csv
import getpass
import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import TicketTable
from tests.conftest import Run, engine_for
from tests.integration.test_fuzz import SPICY_TEXT

NOW = "2026-03-02T10:00:00+08:00"
NOW_AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ZONES = st.sampled_from(
    [
        None,
        UTC,
        timezone(timedelta(hours=14)),
        timezone(-timedelta(hours=12)),
        ZoneInfo("Asia/Shanghai"),
    ]
)
INSTANTS = st.one_of(
    st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), timezones=ZONES).map(
        datetime.isoformat
    ),
    st.datetimes(datetime(2025, 1, 1), datetime(2026, 3, 2), timezones=ZONES).map(
        datetime.isoformat
    ),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1970-01-01Z"]),
)
CONTROL = st.text(st.characters(max_codepoint=0x9F, exclude_categories=("Cs",)), max_size=20)
TEXT = st.one_of(CONTROL, SPICY_TEXT)
ODD = st.one_of(
    st.integers(-(10**30), 10**30),
    st.integers(-2, 12),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
EVENT = st.fixed_dictionaries(
    {
        "event_id": st.one_of(TEXT, st.uuids().map(str)),
        "kind": st.sampled_from(["survey", "complaint", "review", "followup"]),
        "occurred_at": INSTANTS,
        "customer": st.fixed_dictionaries(
            {"id": st.one_of(TEXT, st.sampled_from(["C1", "C2", " C1 "]))},
            optional={"name": TEXT, "tier": st.sampled_from(["gold", "x\x00"]), "phone": ODD},
        ),
    },
    optional={
        "nps": ODD,
        "csat": ODD,
        "ces": ODD,
        "comment": TEXT,
        "drivers": st.one_of(st.lists(TEXT, max_size=4), ODD),
        "ticket_id": st.one_of(st.sampled_from(["CX-000001", "CX-" + "9" * 12, "١"]), ODD),
    },
)
# Whole lines that are not an event object: JSON of the wrong shape, numbers past any range,
# nesting past any depth, hostile text.
ODD_LINES = st.one_of(
    st.sampled_from(
        [
            '{"nps": 1e999}',
            "[" * 5000 + "]" * 5000,
            '["an", "array"]',
            '"a string"',
            "\ufeff{}",
            '{"event_id": "n", "kind": "survey", "occurred_at": "2026-03-01T00:00:00", '
            '"customer": {"id": "C"}, "nps": ' + "9" * 5000 + "}",
        ]
    ),
    SPICY_TEXT,
)


def as_csv(records: list[dict[str, Any]]) -> str:
    header = ["event_id", "kind", "occurred_at", "customer_id", "nps", "comment", "drivers"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for r in records:
        customer = r["customer"]
        drivers = r.get("drivers")
        drivers = ";".join(map(str, drivers)) if isinstance(drivers, list) else drivers
        cells = [r["event_id"], r["kind"], r["occurred_at"], customer["id"], r.get("nps")]
        writer.writerow(
            [*("" if c is None else str(c) for c in cells), r.get("comment", ""), drivers or ""]
        )
    return out.getvalue()


def ingest_balanced(run: Run, db: str, source: Path) -> dict[str, int]:
    code, out, err = run("--db", db, "--now", NOW, "ingest", str(source), "--format", "json")
    assert code in (0, 1) and "Traceback" not in err, err
    summary = json.loads(out)
    assert summary["read"] == summary["accepted"] + summary["duplicates"] + summary["quarantined"]
    return summary


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(EVENT, min_size=1, max_size=6),
    odd_lines=st.lists(ODD_LINES, max_size=2),
    fmt=st.sampled_from(["jsonl", "csv"]),
)
def test_any_feed_is_stored_or_quarantined_and_the_list_still_opens(
    initialised: str,
    tmp_path: Path,
    run: Run,
    records: list[dict[str, Any]],
    odd_lines: list[str],
    fmt: str,
) -> None:
    source = tmp_path / f"feed.{fmt}"
    if fmt == "csv":
        source.write_text(as_csv(records), encoding="utf-8")
    else:
        lines = [json.dumps(r, ensure_ascii=False) for r in records] + odd_lines
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_balanced(run, initialised, source)
    code, out, err = run("--db", initialised, "--now", NOW, "ticket", "list", "--format", "json")
    assert code == 0 and isinstance(json.loads(out), list), err
    code, out, err = run("--db", initialised, "ingest", "quarantine", "list", "--format", "json")
    assert code == 0 and isinstance(json.loads(out), list), err


HOSTILE_ALERTS = [
    {
        "event_id": f"h{n}",
        "kind": "complaint",
        "occurred_at": "2026-03-01T09:00:00",
        "customer": {"id": f"H{n}", "name": name, "tier": "gold"},
        "nps": 0,
        "comment": comment,
        "drivers": ["\x1b[2J", "[b]x[/b]"],
    }
    for n, (name, comment) in enumerate(
        [
            ("\x00\u202e王芳", "a\x00b\x07 outage [@click=app.quit]"),
            ("[red]x[/red]", "\x1b]8;;http://x\x07link\x1b]8;;\x07 " * 50),
            ("  x ", "\n\n\n"),
        ]
    )
]


async def test_the_queue_opens_on_hostile_and_absurd_data(
    initialised: str, tmp_path: Path, run: Run
) -> None:
    lines = [json.dumps(r) for r in HOSTILE_ALERTS] + ['{"nps": 1e999}', "\x00"]
    feed = tmp_path / "hostile.jsonl"
    feed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert ingest_balanced(run, initialised, feed)["tickets_created"] == 3
    engine = engine_for(initialised)
    with engine.begin() as connection:  # dates as older data or a rehearsal may leave them
        for number, at in ((1, "0001-01-01 00:00:00"), (2, "9999-12-31 23:59:59")):
            connection.execute(
                sa.text(
                    "UPDATE tickets SET opened_at = :at, sla_due = :at, sla_risk_at = :at, "
                    "first_response_due = :at WHERE id = :id"
                ),
                {"at": at, "id": number},
            )
    engine.dispose()
    db = Database.open(initialised)
    app = CxdeskApp(db, Settings(), getpass.getuser(), lambda: NOW_AT)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert isinstance(app.screen, QueueScreen)
            table = app.screen.query_one("#tickets", TicketTable)
            ids = sorted(str(table.get_row_at(i)[0]) for i in range(table.row_count))
            assert ids == ["CX-000001", "CX-000002", "CX-000003"]
            for row in range(3):  # and each ticket's screen
                await pilot.press(*["down"] * row, "enter")
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert isinstance(app.screen, TicketScreen)
                await pilot.press("escape")
                await app.workers.wait_for_complete()
                await pilot.pause()
                assert isinstance(app.screen, QueueScreen)
    finally:
        db.dispose()
