"""Bulk work: one command over many tickets, each with its own checks; a refusal is told beside
its ticket and neither stops nor undoes the others. From the service and the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlmodel import select

from cxdesk.db import Database
from cxdesk.errors import StaleVersion, WorkflowError
from cxdesk.models import AuditEntry, Ticket
from cxdesk.workflow.loop.desk_commands import Assign, Escalate
from cxdesk.workflow.loop.service import TicketService
from tests.conftest import Run
from tests.integration.test_commands import SETTINGS, desk, detractor, write_events

__all__ = ["desk"]  # the fixture, used by name


def three_cases(desk: tuple[str, ...], tmp_path: Path, run: Run) -> None:
    feed = write_events(tmp_path / "a.jsonl", *(detractor(f"d{n}", f"C{n}") for n in range(3)))
    assert run(*desk, "ingest", str(feed))[0] == 0


def test_assign_several_tickets_from_the_command_line(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    three_cases(desk, tmp_path, run)
    sue = (*desk, "--as", "sue")
    code, out, err = run(*sue, "ticket", "assign", "1", "CX-000002", "3", "1", "sue")
    assert code == 0, err
    assert out.splitlines() == [f"CX-00000{n} assigned" for n in (1, 2, 3)]  # each once
    listed = json.loads(run(*sue, "ticket", "list", "--view", "mine", "--format", "json")[1])
    assert sorted(t["id"] for t in listed) == ["CX-000001", "CX-000002", "CX-000003"]


def test_a_refusal_is_told_beside_its_ticket_and_the_others_go_on(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    three_cases(desk, tmp_path, run)
    ann = (*desk, "--as", "ann")
    assert run(*desk, "--as", "sue", "ticket", "escalate", "2", "--reason", "vip")[0] == 0
    assert run(*desk, "--as", "sue", "ticket", "escalate", "2", "--reason", "vip")[0] == 0
    code, out, err = run(*ann, "ticket", "escalate", "1", "2", "3", "999", "--reason", "slow")
    assert code == 2
    assert out.splitlines() == [
        "CX-000001 escalated",
        "CX-000002 refused: CX-000002 is already at the top of the ladder",
        "CX-000003 escalated",
        "CX-000999 refused: no ticket CX-000999",
    ]
    assert err.strip().endswith("2 of 4 tickets refused")
    shown = json.loads(run(*ann, "ticket", "show", "3", "--format", "json")[1])
    assert shown["escalation_level"] == 1


def test_ids_from_standard_input(
    desk: tuple[str, ...], tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_cases(desk, tmp_path, run)
    monkeypatch.setattr("sys.stdin", io.StringIO("CX-000001 2\n\n3\n"))
    code, out, _ = run(
        *desk,
        "--as",
        "sue",
        "ticket",
        "note",
        "--from-list",
        "--message",
        "seen",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [
        {"id": f"CX-00000{n}", "done": True, "error": None} for n in (1, 2, 3)
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "said"),
    [
        (("note", "--message", "x"), "", "give one or more TICKETs"),
        (("note", "--from-list", "--message", "x"), "1\nCX-12x\n", "'CX-12x'"),
        (("note", "--from-list", "--message", "-"), "1\n", "both read standard input"),
        (("assign", "1", "2", "--version", "3", "ann"), "", "--version is for one ticket"),
    ],
)
def test_bad_ticket_lists_are_refused_before_anything_is_done(
    desk: tuple[str, ...],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    stdin: str,
    said: str,
) -> None:
    three_cases(desk, tmp_path, run)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    before = json.loads(run(*desk, "ticket", "show", "1", "--format", "json")[1])["version"]
    code, out, err = run(*desk, "--as", "sue", "ticket", *args)
    assert code == 2 and said in err and out == ""
    assert len(err.strip().splitlines()) == 1
    if "line" in err:
        assert "standard input, line 2" in err
    after = json.loads(run(*desk, "ticket", "show", "1", "--format", "json")[1])["version"]
    assert after == before


def test_handle_each_runs_each_command_on_its_own(
    desk: tuple[str, ...], tmp_path: Path, run: Run
) -> None:
    three_cases(desk, tmp_path, run)
    db = Database.open(desk[1])
    with db.session() as session:
        versions = {t.id: t.version for t in session.exec(select(Ticket))}
        audited = len(session.exec(select(AuditEntry.id)).all())
    sue = TicketService(db, SETTINGS, "sue")
    outcomes = sue.handle_each(
        [
            Assign(1, "sue", version=versions[1]),
            Assign(2, "sue", version=versions[2] - 1),  # shown before it last changed
            Escalate(3, "angry"),
        ]
    )
    assert [o.ticket_id for o in outcomes] == [1, 2, 3]
    assert outcomes[0].refused is None and outcomes[2].refused is None
    assert isinstance(outcomes[1].refused, StaleVersion)
    assert isinstance(outcomes[1].refused, WorkflowError)
    with db.session() as session:
        assert session.get_one(Ticket, 1).assignee == "sue"
        assert session.get_one(Ticket, 2).assignee != "sue"
        assert len(session.exec(select(AuditEntry.id)).all()) == audited + 2
    db.dispose()
