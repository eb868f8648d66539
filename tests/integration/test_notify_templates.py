"""Templates, notifications (rows, hook, toasts) and the away flag."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import Team
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import Escalate
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.loop.templates import (
    check_placeholders,
    find_templates,
    render_template,
    save_template,
    seed_templates,
)
from cxdesk.workflow.reads.notices import read_inbox_state, read_new_notices
from tests.conftest import Run

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ADMIN = Actor("ada", "admin", frozenset(), pii=True)


@pytest.fixture
def desk(db: Database) -> Database:
    with db.write() as session:
        add_agent(
            session,
            login="ann",
            display_name="安 Ann",
            role="agent",
            teams=["care"],
            skills=[],
            at=T0,
        )
        add_agent(
            session,
            login="sue",
            display_name="Sue",
            role="supervisor",
            teams=["care"],
            skills=[],
            at=T0,
        )
        session.get_one(Team, "care").supervisor = "sue"
        seed_templates(session, T0)
    return db


def open_case(db: Database, settings: Settings | None = None) -> int:
    event = FeedbackEventIn(
        event_id="e1",
        kind="survey",
        occurred_at=T0,
        nps=1,
        customer=CustomerIn(id="c1", name="王芳"),
    )
    ticket_id = (
        Ingestor(db, settings or Settings(), source="t", clock=lambda: T0)
        .ingest_event(event, "{}")
        .ticket_id
    )
    assert ticket_id is not None
    return ticket_id


def test_templates_fill_placeholders_and_are_searchable(desk: Database) -> None:
    ticket_id = open_case(desk)
    with desk.write() as session:
        save_template(
            session,
            ADMIN,
            name="thanks",
            title="谢谢",
            body="{customer.name}，感谢反馈 {ticket.id} — {agent.name}",
            at=T0,
        )
    with desk.session() as session:
        text = render_template(session, "thanks", ticket_id, "ann")
        assert text == f"王芳，感谢反馈 CX-{ticket_id:06d} — 安 Ann"
        assert [t.name for t in find_templates(session, "感谢")] == ["thanks"]
        assert [t.name for t in find_templates(session, "REFUND")] == ["refund"]
    with pytest.raises(WorkflowError, match=r"unknown placeholder \{customer\.phone\}"):
        check_placeholders("call {customer.phone}")


def test_escalation_notifies_the_supervisor_and_runs_the_hook(
    desk: Database, tmp_path: Path
) -> None:
    log = tmp_path / "hook.jsonl"
    hook = [
        sys.executable,
        "-c",
        f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')",
    ]
    settings = Settings(notify_command=hook)
    ticket_id = open_case(desk, settings)
    # U+2028 survives cleaning; the hook gets it escaped, Chinese as is.
    reason = "customer is furious\u2028生气"
    TicketService(desk, settings, "ann").handle(Escalate(ticket_id, reason, at=T0))
    notices = read_new_notices(desk, "sue", 0)
    assert [(n.kind, n.ticket) for n in notices] == [("escalation", f"CX-{ticket_id:06d}")]
    received = log.read_text(encoding="utf-8")
    assert "\u2028" not in received and "\\u2028生气" in received
    sent = [json.loads(line) for line in received.splitlines()]
    assert sent[0]["login"] == "sue" and reason in sent[0]["body"]


def test_a_failing_hook_does_not_undo_the_command(
    desk: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(notify_command=[sys.executable, "-c", "raise SystemExit(3)"])
    ticket_id = open_case(desk, settings)
    TicketService(desk, settings, "ann").handle(Escalate(ticket_id, "angry", at=T0))
    assert "notify_command failed" in capsys.readouterr().err
    assert len(read_new_notices(desk, "sue", 0)) == 1


@pytest.mark.parametrize(
    ("lang", "said"), [("en", "escalated to level 1 ({me}): "), ("zh", "升级到 1 级（{me}）：")]
)
async def test_notifications_for_me_appear_as_toasts(
    new_db: str, run: Run, lang: str, said: str
) -> None:
    run("--db", new_db, "init")
    me = getpass.getuser()
    db = Database.open(new_db)
    with db.write() as session:
        session.get_one(Team, "care").supervisor = me
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    ticket_id = open_case(db)
    app = CxdeskApp(db, Settings(), me, lambda: T0 + timedelta(minutes=5), lang=lang)
    toasts: list[tuple[str, bool]] = []
    show = app.notify
    app.notify = lambda message, **kw: (
        toasts.append((message, kw["markup"])),  # type: ignore[method-assign]
        show(message, **kw),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        TicketService(db, Settings(), "ann").handle(
            Escalate(ticket_id, "[b]loud[/b] customer", at=T0)
        )
        for _ in range(50):
            await pilot.pause(0.1)
            if toasts:
                break
    ref = f"CX-{ticket_id:06d}"
    expected = f"{ref} {said.format(me=me)}[b]loud[/b] customer"
    assert toasts == [(expected, False)]  # once, in the desk's language, and as plain text
    assert read_inbox_state(db, me).unread == 1  # shown, not read: it waits in the inbox


def test_away_agents_get_no_new_tickets(desk: Database) -> None:
    with desk.write() as session:
        session.execute(sa.text("UPDATE queues SET assignment = 'round_robin'"))
        add_agent(
            session, login="bob", display_name="Bob", role="agent", teams=["care"], skills=[], at=T0
        )
    from cxdesk.workflow.access.staff import set_away

    with desk.write() as session:
        set_away(
            session, Actor("sue", "supervisor", frozenset({"care"}), pii=True), "ann", True, T0
        )
        with pytest.raises(WorkflowError, match="may not mark bob away"):
            set_away(
                session, Actor("ann", "agent", frozenset({"care"}), pii=False), "bob", True, T0
            )
    ticket_id = open_case(desk)
    with desk.session() as session:
        assignee = session.execute(
            sa.text("SELECT assignee FROM tickets WHERE id = :i"), {"i": ticket_id}
        ).scalar()
    assert assignee == "bob"
