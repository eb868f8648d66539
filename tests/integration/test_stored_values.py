"""Stored values nobody checked (written outside cxdesk, or by a newer version): a row with an
odd value is shown as stored or passed over with a one-line message naming its ticket, and
every other ticket stays usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import DEMO_ADMIN, DEMO_NOW, Run, engine_for

AS_ADMIN = ("--now", DEMO_NOW.isoformat(), "--as", DEMO_ADMIN)
YEAR_ONE = "'0001-01-01 00:00:00+00'"


def _sql(target: str, statement: str) -> int:
    """Run `statement` as someone with access to the database could; the first column of
    its first row, if any."""
    engine = engine_for(target)
    with engine.begin() as connection:
        result = connection.execute(sa.text(statement))
        row = result.first() if result.returns_rows else None
    engine.dispose()
    return row[0] if row else 0


def _running(target: str) -> int:
    """A ticket whose first-response clock runs: listings and the sweep read its clock."""
    return _sql(
        target,
        "SELECT min(id) FROM tickets WHERE stage = 'new' AND sla_due IS NOT NULL"
        " AND first_response_breached_at IS NULL",
    )


def _odd(target: str, column: str, value: str) -> int:
    """Store `value` in `column` of a running ticket; its id."""
    if column == "queue_id" and not target.endswith(".db"):
        pytest.skip("PostgreSQL's foreign key keeps a ticket's queue")
    ticket = _running(target)
    _sql(target, f"UPDATE tickets SET {column} = '{value}' WHERE id = {ticket}")
    return ticket


def _list(run: Run, db: str, *args: str) -> list[dict]:
    code, out, err = run("--db", db, *AS_ADMIN, "ticket", "list", "--format", "json", *args)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize(
    ("column", "value"), [("priority", "P4"), ("stage", "archived"), ("queue_id", "nosuch")]
)
def test_a_ticket_with_an_unknown_value_is_listed_as_stored(
    run: Run, demo_copy: str, column: str, value: str
) -> None:
    ticket = _odd(demo_copy, column, value)
    for view in ("all", "at_risk", "breached", "unassigned", "escalated", "verifying"):
        for fmt in ("table", "csv"):
            code, _, err = run(
                "--db", demo_copy, *AS_ADMIN, "ticket", "list", "--view", view, "--format", fmt
            )
            assert code == 0, err
    rows = {row["number"]: row for row in _list(run, demo_copy, "--limit", "500")}
    key = "queue" if column == "queue_id" else column
    assert rows[ticket][key] == value
    if column != "stage":
        assert rows[ticket]["sla_state"] is None  # the clock is unknown, not made up
    for kind in ("sla", "loop", "backlog", "nps", "drivers"):
        code, _, err = run("--db", demo_copy, *AS_ADMIN, "report", kind)
        assert code == 0, (kind, err)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("priority", "P4", "has an unknown priority 'P4'"),
        ("stage", "archived", "is at an unknown stage 'archived'"),
        ("queue_id", "nosuch", "is in a queue that no longer exists: 'nosuch'"),
    ],
)
def test_a_command_on_it_says_what_is_wrong(
    run: Run, demo_copy: str, column: str, value: str, message: str
) -> None:
    ticket = _odd(demo_copy, column, value)
    ref = f"CX-{ticket:06d}"
    code, out, err = run("--db", demo_copy, *AS_ADMIN, "ticket", "claim", str(ticket))
    assert (code, err) == (2, f"cxdesk: error: {ref} {message}\n")
    code, out, err = run("--db", demo_copy, *AS_ADMIN, "ticket", "show", str(ticket))
    assert code == 0 and ref in out, err


def test_a_ticket_of_a_gone_queue_does_not_exist_for_a_team_member(
    run: Run, demo_copy: str
) -> None:
    """Its queue has no team, so only those who see every team may learn it is there."""
    ticket = _odd(demo_copy, "queue_id", "nosuch")
    agent = ("--db", demo_copy, "--as", "zhang.wei")
    code, _, err = run(*agent, "ticket", "claim", str(ticket))
    assert (code, err) == (2, f"cxdesk: error: no ticket CX-{ticket:06d}\n")


def test_the_sweep_passes_over_a_ticket_it_cannot_work_and_does_the_rest(
    run: Run, demo_copy: str
) -> None:
    odd, late, archived = (
        _sql(
            demo_copy, f"SELECT id FROM tickets WHERE stage = 'new' ORDER BY id LIMIT 1 OFFSET {n}"
        )
        for n in (2, 3, 4)
    )
    unmarked = (
        "first_response_at = NULL, first_response_breached_at = NULL, risk_notified_for = NULL,"
        " resolution_breached_at = NULL, escalation_level = 0"
    )
    _sql(
        demo_copy,
        f"UPDATE tickets SET {unmarked}, opened_at = {YEAR_ONE}, first_response_due = {YEAR_ONE},"
        f" sla_due = {YEAR_ONE}, sla_risk_at = {YEAR_ONE} WHERE id = {odd}",
    )
    _sql(
        demo_copy,
        f"UPDATE tickets SET {unmarked}, first_response_due = '2026-03-01 00:00:00+00',"
        f" sla_due = '2026-03-01 00:00:00+00', sla_risk_at = '2026-02-28 00:00:00+00'"
        f" WHERE id IN ({late}, {archived})",
    )
    _sql(demo_copy, f"UPDATE tickets SET stage = 'archived' WHERE id = {archived}")
    code, out, err = run("--db", demo_copy, *AS_ADMIN, "sweep", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["skipped"] == 2
    assert report["skipped_tickets"] == [f"CX-{i:06d}" for i in sorted((odd, archived))]
    assert report["breaches"] >= 1  # the late ticket was escalated all the same
    assert _sql(demo_copy, f"SELECT escalation_level FROM tickets WHERE id = {late}") == 1
    assert _sql(demo_copy, f"SELECT escalation_level FROM tickets WHERE id = {odd}") == 0
    assert f"CX-{archived:06d} is at an unknown stage 'archived'" in err
    assert f"CX-{odd:06d}: cannot" in err
    assert len(err.splitlines()) == 2


def test_an_unexpected_failure_is_one_line_not_a_traceback(
    run: Run, demo_sqlite: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unreadable JSON written into the SQLite file by hand still fails the command: in one
    line, with the traceback only when asked for."""
    db = str(demo_sqlite)
    _sql(db, "UPDATE timeline_entries SET data = '{bad' WHERE ticket_id = 1")
    code, _, err = run("--db", db, *AS_ADMIN, "ticket", "show", "1")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith("cxdesk: error: internal error: ") and "CXDESK_DEBUG=1" in err
    monkeypatch.setenv("CXDESK_DEBUG", "1")
    code, _, err = run("--db", db, *AS_ADMIN, "ticket", "show", "1")
    assert code == 2 and "Traceback" in err


@pytest.mark.parametrize("paused_from", ["closed", "verify", "pending"])
def test_a_pending_ticket_resumes_only_to_a_stage_that_pends(
    demo_copy: str, run: Run, paused_from: str
) -> None:
    """A stored `paused_from = 'closed'` made `resume` close the ticket, skipping resolution
    and verification."""
    ticket = _sql(demo_copy, "SELECT min(id) FROM tickets WHERE stage = 'pending'")
    _sql(demo_copy, f"UPDATE tickets SET paused_from = '{paused_from}' WHERE id = {ticket}")
    code, _, err = run("--db", demo_copy, *AS_ADMIN, "ticket", "resume", str(ticket))
    assert code == 2 and f"was paused from {paused_from}, which never pends" in err
    assert _sql(demo_copy, f"SELECT stage FROM tickets WHERE id = {ticket}") == "pending"


@pytest.mark.parametrize("value", ["'garbage'", "12345", "'2026-13-45 00:00:00'"])
def test_a_time_that_cannot_be_read_lists_as_absurd(
    demo_sqlite: Path, run: Run, value: str
) -> None:
    """Text or a number written into an SQLite time column by hand (PostgreSQL's types refuse
    them) made `ticket list` and `ticket show` fail for everyone."""
    db = str(demo_sqlite)
    ticket = _running(db)
    _sql(
        db,
        f"UPDATE tickets SET opened_at = {value}, first_response_due = {value} WHERE id = {ticket}",
    )
    code, out, err = run("--db", db, *AS_ADMIN, "ticket", "list", "--format", "json")
    assert code == 0, err
    assert f"CX-{ticket:06d}" in out
    code, out, err = run("--db", db, *AS_ADMIN, "ticket", "show", str(ticket))
    assert code == 0 and "first response due 1-01-01" in out, err
