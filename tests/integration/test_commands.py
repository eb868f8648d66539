"""Ticket commands: the loop from the CLI alone, the permission matrix, locking, the audit."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound, PermissionDenied, StaleVersion, WorkflowError
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import (
    Assign,
    Claim,
    Deescalate,
    Escalate,
    Merge,
    Note,
    Reopen,
)
from cxdesk.workflow.loop.service import TicketService
from tests.conftest import Run, engine_for

ME = getpass.getuser()
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
NOW = "2026-03-02T10:00:00+08:00"
SETTINGS = Settings()


def write_events(path: Path, *events: dict) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), "utf-8")
    return path


def detractor(event_id: str, customer: str = "C1", **extra: object) -> dict:
    return {
        "event_id": event_id,
        "kind": "survey",
        "occurred_at": NOW,
        "nps": 2,
        "customer": {
            "id": customer,
            "name": "王芳",
            "phone": "13812340000",
            "email": "wang.fang@example.com",
        },
        "channel": "wechat",
        **extra,
    }


@pytest.fixture
def desk(new_db: str, tmp_path: Path, run: Run) -> tuple[str, ...]:
    """A database set up from the command line alone, on each backend."""
    config = tmp_path / "cxdesk.toml"
    db = ("--db", new_db, "--config", str(config), "--now", NOW)
    config.write_text(
        '[queues.aftersales]\nname = "After-sales"\nteam = "care"\n'
        'calendar = "cn-business"\nassignment = "least_loaded"\n',
        encoding="utf-8",
    )
    run(*db, "init")
    run(*db, "user", "add", "ann", "--team", "care")
    run(*db, "user", "add", "sue", "--role", "supervisor", "--team", "care")
    return db


def test_the_loop_from_the_command_line_alone(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    code, out, _ = run(
        *desk,
        "ingest",
        str(write_events(tmp_path / "a.jsonl", detractor("d1"))),
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["tickets_created"] == 1
    ann = (*desk, "--as", "ann")
    mine = json.loads(run(*ann, "ticket", "list", "--view", "mine", "--format", "json")[1])
    assert [t["id"] for t in mine] == ["CX-000001"]  # the after-sales queue assigned it to ann
    code, _, err = run(*ann, "ticket", "claim", "CX-000001")
    assert code == 2 and "already yours" in err
    assert run(*ann, "ticket", "respond", "1", "--message", "您好，正在处理")[0] == 0
    assert (
        run(
            *ann,
            "ticket",
            "analyze",
            "1",
            "--root-cause",
            "carrier lost it",
            "--driver",
            "late_delivery",
        )[0]
        == 0
    )
    code, out, _ = run(
        *ann,
        "ticket",
        "resolve",
        "1",
        "--code",
        "refund",
        "--root-cause",
        "carrier lost it",
        "--action",
        "refunded and re-sent",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["stage"] == "verify"
    code, _, err = run(*ann, "followups", "export")
    assert code == 2 and "ann (agent) may not export follow-ups" in err
    code, out, _ = run(*desk, "--as", "sue", "followups", "export", "--format", "jsonl")
    exported = [json.loads(line) for line in out.splitlines()]
    assert [(e["ticket_id"], e["channel"], e["phone"]) for e in exported] == [
        ("CX-000001", "wechat", "13812340000")
    ]
    assert run(*desk, "--as", "sue", "followups", "export", "--format", "jsonl")[1] == ""
    answer = detractor("f1", kind="followup", nps=9, ticket_id="CX-000001")
    run(*desk, "ingest", str(write_events(tmp_path / "b.jsonl", answer)))
    code, out, _ = run(*desk, "ticket", "show", "1", "--format", "json")
    shown = json.loads(out)
    assert (shown["stage"], shown["verify_outcome"]) == ("closed", "verified")
    assert run(*desk, "audit", "verify")[1].startswith("OK: ")


def test_a_bad_answer_from_the_command_line_reopens(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    run(*desk, "ingest", str(write_events(tmp_path / "a.jsonl", detractor("d1"))))
    ann = (*desk, "--as", "ann")
    assert run(*ann, "ticket", "respond", "1", "--message", "sorry")[0] == 0
    resolved = run(
        *ann, "ticket", "resolve", "1", "--code", "fix", "--root-cause", "x", "--action", "y"
    )
    assert resolved[0] == 0
    answer = detractor("f1", kind="followup", nps=3, ticket_id="CX-000001")
    run(*desk, "ingest", str(write_events(tmp_path / "b.jsonl", answer)))
    shown = json.loads(run(*desk, "ticket", "show", "1", "--format", "json")[1])
    assert (shown["stage"], shown["priority"], shown["escalation_level"]) == ("analyze", "P1", 1)


@pytest.fixture
def org(db: Database) -> Database:
    with db.write() as session:
        for login, role, teams in (
            ("ann", "agent", ["care"]),
            ("sue", "supervisor", ["care"]),
            ("vic", "supervisor", ["vip"]),
            ("ada", "admin", []),
        ):
            add_agent(
                session, login=login, display_name=login, role=role, teams=teams, skills=[], at=T0
            )
    return db


def open_case(db: Database, customer: str, tier: str | None = None) -> int:
    event = FeedbackEventIn(
        event_id=f"e-{customer}",
        kind="survey",
        occurred_at=T0,
        nps=1,
        customer=CustomerIn(id=customer, tier=tier),
    )
    result = Ingestor(db, SETTINGS, source="t", clock=lambda: T0).ingest_event(event, "{}")
    assert result.ticket_id is not None
    return result.ticket_id


# role × command × own/other team: True where it must be allowed
MATRIX = [
    ("ann", "claim", "own", True),
    ("ann", "claim", "other", False),
    ("ann", "escalate", "own", True),
    ("ann", "assign", "own", False),
    ("ann", "reopen", "own", False),
    ("ann", "deescalate", "own", False),
    ("sue", "assign", "own", True),
    ("sue", "assign", "other", False),
    ("sue", "note", "other", False),
    ("vic", "note", "other", True),
    ("ada", "assign", "other", True),
    ("ada", "claim", "own", True),
]


@pytest.mark.parametrize(("login", "command", "team", "allowed"), MATRIX)
def test_permission_matrix(
    org: Database, login: str, command: str, team: str, allowed: bool
) -> None:
    own = open_case(org, "c-care")  # standard tier: the care team's aftersales queue
    other = open_case(org, "c-vip", tier="gold")  # gold: the vip team's queue
    ticket_id = own if team == "own" else other
    service = TicketService(org, SETTINGS, login)
    act = {
        "claim": lambda: service.handle(Claim(ticket_id, at=T0)),
        "escalate": lambda: service.handle(Escalate(ticket_id, "angry", at=T0)),
        "assign": lambda: service.handle(
            Assign(ticket_id, "sue" if team == "own" else "vic", at=T0)
        ),
        "reopen": lambda: service.handle(Reopen(ticket_id, "again", at=T0)),
        "deescalate": lambda: service.handle(Deescalate(ticket_id, "calm", at=T0)),
        "note": lambda: service.handle(Note(ticket_id, "n", at=T0)),
    }[command]
    if allowed:
        act()
    elif team == "other":  # outside their teams the ticket does not exist for them
        with pytest.raises(NotFound, match=f"^no ticket CX-{ticket_id:06d}$"):
            act()
    else:
        with pytest.raises(PermissionDenied):
            act()


def test_concurrent_claims_have_exactly_one_winner(org: Database) -> None:
    ticket_id = open_case(org, "c1")
    with org.write() as session:
        for n in range(6):
            add_agent(
                session,
                login=f"a{n}",
                display_name="x",
                role="agent",
                teams=["care"],
                skills=[],
                at=T0,
            )
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def claim(login: str) -> None:
        start.wait()
        try:
            TicketService(org, SETTINGS, login).handle(Claim(ticket_id, version=1, at=T0))
            outcomes.append("won")
        except (WorkflowError, StaleVersion) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=claim, args=(f"a{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("won") == 1 and len(outcomes) == 6
    with org.session() as session:
        claims = session.execute(
            sa.text("SELECT count(*) FROM timeline_entries WHERE kind = 'assignment'")
        ).scalar()
    assert claims == 1


def test_merge_folds_a_duplicate_case(org: Database) -> None:
    first = open_case(org, "c1")
    sue = TicketService(org, SETTINGS, "sue")
    with org.write() as session:  # a second open case for the same customer, made by hand
        session.execute(
            sa.text("UPDATE tickets SET stage = 'closed' WHERE id = :id"), {"id": first}
        )
    second = (
        Ingestor(org, SETTINGS, source="t", clock=lambda: T0)
        .ingest_event(
            FeedbackEventIn(
                event_id="e2",
                kind="complaint",
                occurred_at=T0 + timedelta(hours=1),
                customer=CustomerIn(id="c1"),
            ),
            "{}",
        )
        .ticket_id
    )
    with org.write() as session:
        session.execute(
            sa.text("UPDATE tickets SET stage = 'collect' WHERE id = :id"), {"id": first}
        )
    merged = sue.handle(Merge(second, first, at=T0 + timedelta(hours=2)))
    assert merged.id == first
    with org.session() as session:
        events = (
            session.execute(
                sa.text(
                    "SELECT event_id FROM feedback_events WHERE ticket_id = :id ORDER BY event_id"
                ),
                {"id": first},
            )
            .scalars()
            .all()
        )
        source = session.execute(
            sa.text("SELECT stage, verify_outcome FROM tickets WHERE id = :id"), {"id": second}
        ).one()
    assert events == ["e-c1", "e2"] and tuple(source) == ("closed", "merged")
    other = open_case(org, "c2")
    with pytest.raises(WorkflowError, match="different customers"):
        sue.handle(Merge(other, first, at=T0))


def test_audit_verify_finds_an_edited_row(desk: tuple[str, ...], tmp_path: Path, run: Run) -> None:
    run(
        *desk,
        "ingest",
        str(write_events(tmp_path / "a.jsonl", detractor("d1"), detractor("d2", customer="C2"))),
    )
    run(*desk, "--as", "ann", "ticket", "note", "1", "--message", "called")
    run(*desk, "--as", "ann", "ticket", "note", "2", "--message", "called too")
    code, out, _ = run(*desk, "audit", "verify")
    # the key's marker, three agents added, an open (naming its assignee) per ticket, two notes
    assert code == 0 and out.startswith("OK: 8 audit rows")
    engine = engine_for(desk[1])
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE audit_log SET actor = 'mallory' WHERE id = 3"))
    engine.dispose()
    code, out, _ = run(*desk, "audit", "verify")
    assert code == 1 and out.startswith("audit row 3 does not match")


def test_stale_version_and_illegal_steps_from_the_cli(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    run(*desk, "ingest", str(write_events(tmp_path / "a.jsonl", detractor("d1"))))
    ann = (*desk, "--as", "ann")
    assert run(*ann, "ticket", "note", "1", "--message", "first", "--version", "1")[0] == 0
    code, _, err = run(*ann, "ticket", "note", "1", "--message", "x", "--version", "1")
    assert code == 2 and "CX-000001 was changed by ann at" in err and "— reload" in err
    code, _, err = run(*ann, "ticket", "resume", "1")
    assert code == 2 and "resume is allowed in: pending" in err


def test_agent_text_is_capped_and_bytes_that_are_not_utf8_are_dropped(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    """A 30 MB note would leave the ticket unopenable in the TUI; bytes that are not UTF-8
    (read from a pipe) could not be written to the audit chain."""
    run(*desk, "ingest", str(write_events(tmp_path / "a.jsonl", detractor("d1"))))
    ann = (*desk, "--as", "ann")
    code, _, err = run(*ann, "ticket", "note", "1", "--message", "x" * 20_001)
    assert code == 2 and "note is 20001 characters long; at most 20000" in err
    assert run(*ann, "ticket", "respond", "1", "--message", "on it")[0] == 0
    code, _, err = run(
        *ann,
        "ticket",
        "analyze",
        "1",
        "--root-cause",
        "r",
        "--driver",
        "d",
        "--touchpoint",
        "y" * 20_001,
    )
    assert code == 2 and "touchpoint is 20001 characters long" in err
    piped = subprocess.run(
        [sys.executable, "-m", "cxdesk", *ann, "ticket", "note", "1", "--message", "-"],
        input=b"called \xff\xfeback",
        capture_output=True,
    )
    assert piped.returncode == 0, piped.stderr
    code, out, _ = run(*desk, "ticket", "show", "1", "--format", "json")
    assert [t["body"] for t in json.loads(out)["timeline"] if t["kind"] == "note"] == [
        "called back"
    ]
    assert run(*desk, "audit", "verify")[0] == 0
