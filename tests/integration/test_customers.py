"""A customer's story, by the read and by `cxdesk customer show`: scoped like one ticket."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.workflow.access.permissions import load_actor
from cxdesk.workflow.reads.customers import CustomerView, read_customer
from tests.conftest import Run, engine_for
from tests.integration.query_plans import scans_of, statements_run
from tests.integration.test_commands import detractor, write_events
from tests.integration.test_identity import ME
from tests.integration.test_scope import teams  # noqa: F401 (a fixture)

EARLIER = "2026-03-01T09:00:00+08:00"
HOSTILE = "late\x1b[2J\x1b]52;c;eA==\x07 again"  # clears the screen, writes the clipboard


def view_as(url: str, login: str, customer: str) -> CustomerView:
    db = Database.open(url)
    try:
        with db.session() as session:
            viewer = load_actor(session, login, Settings())
        return read_customer(db, customer, viewer)
    finally:
        db.dispose()


def test_another_teams_ticket_and_its_feedback_are_not_listed(
    teams: tuple[str, ...],  # noqa: F811
    run: Run,
    tmp_path: Path,
) -> None:
    url = teams[1]
    with engine_for(url).begin() as connection:  # C1 has a case in care and one in vip now
        connection.execute(sa.text("UPDATE tickets SET customer_id = 'C1' WHERE id = 2"))
        connection.execute(sa.text("UPDATE feedback_events SET customer_id = 'C1'"))
    promoter = detractor("p1", nps=10, occurred_at=EARLIER)  # on no ticket: no team's
    assert run(*teams, "ingest", str(write_events(tmp_path / "p.jsonl", promoter)))[0] == 0

    ann = view_as(url, "ann", "C1")  # care
    assert [t.id for t in ann.tickets] == ["CX-000001"]
    assert [(f.event_id, f.ticket) for f in ann.feedback] == [("d1", "CX-000001"), ("p1", None)]
    assert (ann.phone, ann.email) == ("*******0000", "w***@example.com")
    vic = view_as(url, "vic", "C1")  # vip
    assert [t.id for t in vic.tickets] == ["CX-000002"]
    assert [f.event_id for f in vic.feedback] == ["g1", "p1"]
    admin = view_as(url, ME, "C1")
    assert {t.id for t in admin.tickets} == {"CX-000001", "CX-000002"}
    assert [f.event_id for f in admin.feedback][-1] == "p1"  # newest first: p1 is the oldest
    assert admin.phone == "13812340000"  # admins hold `pii`
    assert {t.outcome for t in admin.tickets} == {"new"}  # open: the stage
    assert (admin.feedback_total, admin.tickets_total) == (len(admin.feedback), 2)


def test_a_scoped_customer_read_looks_up_tickets_and_scans_none(
    teams: tuple[str, ...],  # noqa: F811
) -> None:
    """A customer's feedback in a viewer's scope: as a list of the tickets in scope, SQLite
    gathered it by scanning every ticket, on each `ticket show` and ticket screen."""
    url = teams[1]
    if url.startswith("postgresql"):
        pytest.skip("SQLite's plan")
    with statements_run() as ran:
        ann = view_as(url, "ann", "C1")
    assert [f.event_id for f in ann.feedback] == ["d1"]
    engine = engine_for(url)
    try:
        assert scans_of(engine, ran, "tickets") == []
        assert scans_of(engine, ran, "feedback_events") == []
    finally:
        engine.dispose()


def test_a_long_history_shows_its_newest_and_counts_the_rest(
    teams: tuple[str, ...],  # noqa: F811
    run: Run,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = teams[1]
    answers = [detractor(f"h{n}", nps=n % 11, occurred_at=EARLIER) for n in range(5)]
    assert run(*teams, "ingest", str(write_events(tmp_path / "h.jsonl", *answers)))[0] == 0
    whole = view_as(url, ME, "C1")
    monkeypatch.setattr("cxdesk.workflow.reads.customers.HISTORY_LIMIT", 3)
    some = view_as(url, ME, "C1")
    assert [f.event_id for f in some.feedback] == [f.event_id for f in whole.feedback][:3]
    assert some.feedback_total == len(whole.feedback) > 3
    code, out, _ = run(*teams, "customer", "show", "C1")
    assert code == 0 and f"feedback (the newest 3 of {len(whole.feedback)})" in out


def test_a_customer_with_nothing_in_scope_reads_as_an_unknown_one(
    teams: tuple[str, ...],  # noqa: F811
    run: Run,
    tmp_path: Path,
) -> None:
    url = teams[1]
    with pytest.raises(NotFound) as other:  # C2's one case and its feedback are vip's
        view_as(url, "ann", "C2")
    with pytest.raises(NotFound) as unknown:
        view_as(url, "ann", "C9")
    assert str(other.value).replace("C2", "?") == str(unknown.value).replace("C9", "?")
    promoter = detractor("p2", customer="C2", nps=9, occurred_at=EARLIER)
    assert run(*teams, "ingest", str(write_events(tmp_path / "p.jsonl", promoter)))[0] == 0
    shown = view_as(url, "ann", "C2")  # feedback on no ticket is everyone's
    assert shown.tickets == [] and [f.event_id for f in shown.feedback] == ["p2"]


def test_customer_show_prints_the_story_inert(
    teams: tuple[str, ...],  # noqa: F811
    run: Run,
    tmp_path: Path,
) -> None:
    later = detractor("h1", nps=8, occurred_at=EARLIER)
    assert run(*teams, "ingest", str(write_events(tmp_path / "h.jsonl", later)))[0] == 0
    with engine_for(teams[1]).begin() as connection:  # written past ingest, which cleans text
        connection.execute(
            sa.text("UPDATE feedback_events SET comment = :c WHERE event_id = 'h1'"), {"c": HOSTILE}
        )
        connection.execute(
            sa.text(
                "UPDATE tickets SET stage = 'closed', verify_outcome = 'verified', "
                "reopen_count = 1 WHERE id = 1"
            )
        )
    code, out, err = run(*teams, "--as", "ann", "customer", "show", "C1")
    assert code == 0, err
    assert "\x1b" not in out and "\x07" not in out
    assert "late\\x1b[2J\\x1b]52;c;eA==\\x07 again" in out
    assert "CX-000001" in out and "verified" in out and "*******0000" in out
    code, out, err = run(*teams, "--as", "ann", "customer", "show", "C1", "--format", "json")
    assert code == 0, err
    assert "\x1b" not in out
    data = json.loads(out)
    assert data["tier"] is None and data["phone"] == "*******0000"
    assert [(t["id"], t["outcome"], t["reopen_count"]) for t in data["tickets"]] == [
        ("CX-000001", "verified", 1)
    ]
    comments = {f["event_id"]: f["comment"] for f in data["feedback"]}
    assert comments["h1"] == HOSTILE  # JSON escapes it: \u001b


def test_customer_show_of_an_unknown_id_fails_like_ticket_show(
    teams: tuple[str, ...],  # noqa: F811
    run: Run,
) -> None:
    for fmt in ("table", "json"):
        code, out, err = run(*teams, "customer", "show", "nobody", "--format", fmt)
        assert (code, out, err) == (2, "", "cxdesk: error: no customer nobody\n")
    code, _, err = run(*teams, "ticket", "show", "CX-999999")
    assert code == 2
