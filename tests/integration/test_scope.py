"""A ticket outside your teams does not exist for you, by any door; contact data stays masked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import TicketKind
from cxdesk.workflow.access.pii import mask_email, mask_phone
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from tests.conftest import DEMO_NOW, Run, engine_for
from tests.integration.test_commands import detractor, write_events
from tests.integration.test_identity import ME


@pytest.fixture
def teams(initialised: str, tmp_path: Path, run: Run) -> tuple[str, ...]:
    """Two teams from the command line: CX-000001 is care's case, CX-000002 vip's (gold)."""
    db = ("--db", initialised)
    run(*db, "user", "add", "ann", "--team", "care")
    run(*db, "user", "add", "sue", "--role", "supervisor", "--team", "care")
    run(*db, "user", "add", "vic", "--role", "supervisor", "--team", "vip")
    gold = detractor("g1", customer="C2", nps=1, customer_extra=None)
    gold["customer"] = {**gold["customer"], "tier": "gold"}
    gold.pop("customer_extra")
    feed = write_events(tmp_path / "a.jsonl", detractor("d1"), gold)
    assert run(*db, "ingest", str(feed))[0] == 0
    return db


def problem(db: str, queue: str = "aftersales") -> int:
    """A problem ticket opened by the system (as a metric alert does)."""
    service = TicketService(Database.open(db), Settings(), SYSTEM_ACTOR)
    with service.db.write() as session:
        ticket = service.handle(
            OpenTicket(
                kind=TicketKind.PROBLEM,
                queue_id=queue,
                priority="P2",
                title="late deliveries",
                at=DEMO_NOW,
            ),
            session,
        )
        number = ticket.id
    service.db.dispose()
    assert number is not None
    return number


def answer(run: Run, *args: str) -> tuple[int, str, str]:
    """The command's answer with ticket numbers blanked, to compare two answers."""
    code, out, err = run(*args)
    return code, out, re.sub(r"CX-\d{6}", "CX-?", err)


@pytest.mark.parametrize(
    "command",
    [
        ("ticket", "claim"),
        ("ticket", "claim", "--version", "99"),
        ("ticket", "note", "--message", "hi"),
        ("ticket", "assign", "vic"),
        ("ticket", "show"),
        ("ticket", "show", "--format", "json"),
        ("ticket", "respond", "--template", "apology"),
    ],
)
def test_another_teams_ticket_answers_as_a_missing_one(
    teams: tuple[str, ...], run: Run, command: tuple[str, ...]
) -> None:
    for who in ("ann", "sue"):
        verb, *options = command[1:]
        other = answer(run, *teams, "--as", who, "ticket", verb, "CX-000002", *options)
        missing = answer(run, *teams, "--as", who, "ticket", verb, "CX-999999", *options)
        assert other == missing
        assert other[0] == 2 and other[2] == "cxdesk: error: no ticket CX-?\n"


def test_a_problem_of_another_team_cannot_be_linked_nor_seen_in_links(
    teams: tuple[str, ...], run: Run
) -> None:
    care_problem = problem(teams[1])
    vic = (*teams, "--as", "vic")
    linked = answer(run, *vic, "ticket", "link", "2", f"CX-{care_problem:06d}")
    missing = answer(run, *vic, "ticket", "link", "2", "CX-999999")
    assert linked == missing and linked[0] == 2
    # a link made before (or by an admin) is not shown to those who cannot see its other end
    assert run(*teams, "ticket", "link", "2", str(care_problem))[0] == 0
    shown = json.loads(run(*teams, "--as", "sue", "ticket", "show", "1", "--format", "json")[1])
    assert shown["links"] == []
    shown = json.loads(run(*vic, "ticket", "show", "2", "--format", "json")[1])
    assert shown["links"] == []
    admin = json.loads(run(*teams, "ticket", "show", str(care_problem), "--format", "json")[1])
    assert admin["links"] == ["CX-000002"]


def test_a_closed_problem_takes_no_new_case(teams: tuple[str, ...], run: Run) -> None:
    number = problem(teams[1])
    sue = (*teams, "--as", "sue")
    engine = engine_for(teams[1])
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tickets SET stage = 'closed' WHERE id = :n"), {"n": number}
        )
    engine.dispose()
    code, _, err = run(*sue, "ticket", "link", "1", str(number))
    assert code == 2 and "is closed" in err


def test_report_nps_covers_only_what_the_viewer_may_see(teams: tuple[str, ...], run: Run) -> None:
    def overall(*args: str) -> dict:
        rows = json.loads(run(*teams, *args, "report", "nps", "--format", "json")[1])
        return next(r for r in rows if r["by"] == "all")

    assert overall()["nps_answers"] == 2  # the admin: everyone's voice
    assert overall("--as", "ann")["nps_answers"] == 1  # care: the feedback on care's tickets
    assert overall("--as", "vic")["nps_answers"] == 1
    code, out, _ = run(*teams, "report", "nps", "--queue", "vip", "--format", "json")
    assert code == 0 and json.loads(out)[0]["nps_answers"] == 1
    code, out, _ = run(*teams, "--as", "ann", "report", "nps", "--team", "vip", "--format", "json")
    assert code == 0 and json.loads(out)[0]["nps_answers"] == 0


def test_an_agent_sees_masked_contacts_everywhere(teams: tuple[str, ...], run: Run) -> None:
    shown = json.loads(run(*teams, "--as", "ann", "ticket", "show", "1", "--format", "json")[1])
    assert shown["customer"]["phone"] == "*******0000"
    assert shown["customer"]["email"] == "w***@example.com"


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812340000", "*******0000"),
        ("91234567", "****4567"),
        ("1234", "**34"),
        ("+86 138-1234-0000", "+** ***-****-0000"),
        ("ext12", "****2"),
    ],
)
def test_phone_masking_examples(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


@given(st.text(alphabet="0123456789 +-()x", max_size=30))
def test_a_masked_phone_shows_at_most_four_digits_and_never_half(phone: str) -> None:
    masked = mask_phone(phone) or ""
    visible = sum(ch.isdigit() for ch in masked)
    digits = sum(ch.isdigit() for ch in phone)
    assert len(masked) == len(phone)
    assert visible <= 4 and visible <= digits // 2


def test_cases_of_two_teams_do_not_merge(teams: tuple[str, ...], run: Run) -> None:
    """A merge writes each case's number on the other's timeline: across teams, a leak."""
    with engine_for(teams[1]).begin() as connection:  # C1 has a case in each team
        connection.execute(sa.text("UPDATE tickets SET customer_id = 'C1' WHERE id = 2"))
    code, _, err = run(*teams, "ticket", "merge", "2", "1")
    assert code == 2 and "different teams" in err


def test_a_supervisor_sees_the_load_of_their_teams_only(teams: tuple[str, ...], run: Run) -> None:
    from cxdesk.workflow.access.permissions import load_actor
    from cxdesk.workflow.insight.dashboard import build_dashboard

    assert run(*teams, "ticket", "claim", "1")[0] == 0  # the admin, in both teams, takes care's
    db = Database.open(teams[1])
    with db.session() as session:
        loads = {
            who: {
                a.login: a.open
                for a in build_dashboard(
                    session, load_actor(session, who, Settings()), DEMO_NOW, "Asia/Shanghai"
                ).agents
            }
            for who in ("vic", ME)
        }
    db.dispose()
    assert loads[ME][ME] == loads["vic"][ME] + 1  # vic does not count the care case


def test_the_customer_card_counts_only_feedback_the_viewer_may_see(
    teams: tuple[str, ...], run: Run, tmp_path: Path
) -> None:
    more = detractor("d3", customer="C2", nps=9)  # C2's promoter answer: on no ticket
    run(*teams, "ingest", str(write_events(tmp_path / "c.jsonl", more)))
    with engine_for(teams[1]).begin() as connection:  # C2 also had a care case once
        connection.execute(sa.text("UPDATE tickets SET customer_id = 'C2' WHERE id = 1"))
    shown = json.loads(run(*teams, "--as", "ann", "ticket", "show", "1", "--format", "json")[1])
    assert (shown["customer"]["feedback_count"], shown["customer"]["ticket_count"]) == (1, 1)
    admin = json.loads(run(*teams, "ticket", "show", "1", "--format", "json")[1])
    assert (admin["customer"]["feedback_count"], admin["customer"]["ticket_count"]) == (2, 2)


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("chen.wei@example.com", "c***@example.com"),
        ("x@y@z.com", "x***@z.com"),
        ('"a@b"@c.com', '"***@c.com'),
        ("nobody", "n***"),
    ],
)
def test_email_masking_keeps_only_the_domain(email: str, masked: str) -> None:
    assert mask_email(email) == masked
