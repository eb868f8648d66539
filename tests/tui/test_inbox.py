"""The notification inbox: one summary instead of a flood of toasts, a badge with the unread
count, `i` to read them, enter to open a ticket, `m` to mark all read."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

from sqlmodel import select
from textual.widgets import DataTable

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Ticket
from cxdesk.screens.inbox import InboxScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import StatusLine
from cxdesk.workflow.loop.desk_commands import Escalate
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads.notices import read_inbox_state
from cxdesk.workflow.reads.tickets import TicketFilter, View, read_ticket_page
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle, until

SUPERVISOR = "li.na"  # of vip, with notifications waiting in the demo
ME = getpass.getuser()  # who built the demo supervises care, which works aftersales


def open_tickets(db: Database) -> set[int]:
    with db.session() as session:
        return set(session.exec(select(Ticket.id).where(Ticket.stage != "closed")).all())


def toasts(app: CxdeskApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_the_backlog_is_one_summary_and_the_inbox_reads_it(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    waiting = read_inbox_state(db, SUPERVISOR).unread
    assert waiting > 3, "the demo leaves the supervisor a backlog"
    app = CxdeskApp(db, Settings(), SUPERVISOR, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert toasts(app) == [f"{waiting} unread notifications — i opens the inbox"]
        status = app.screen.query_one("#status", StatusLine).text
        assert status.endswith(f"{waiting} unread — i")
        await pilot.press("i")
        await settle(app, pilot)
        assert isinstance(app.screen, InboxScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count >= waiting
        first = next(iter(app.screen.notices.values()))
        same_ticket = [n for n in app.screen.notices.values() if n.ticket_id == first.ticket_id]
        unread_there = sum(n.read_at is None for n in same_ticket)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        assert app.screen.ticket_id == first.ticket_id
        assert read_inbox_state(db, SUPERVISOR).unread == waiting - unread_there
        assert app.unread == waiting - unread_there
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("m")
        await settle(app, pilot)
        assert read_inbox_state(db, SUPERVISOR).unread == 0
        assert app.unread == 0
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        assert "unread" not in app.screen.query_one("#status", StatusLine).text


async def test_a_burst_while_open_toasts_once_and_a_few_toast_each(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    rows = read_ticket_page(db, TicketFilter(View.ALL, now=DEMO_NOW), limit=1000)
    # escalated to level 1, each tells the supervisor of its team
    to_level_one = [r.number for r in rows if r.queue == "aftersales" and r.escalation_level == 0]
    to_level_one = [n for n in to_level_one if n in open_tickets(db)]
    assert len(to_level_one) >= 7
    manager = TicketService(db, Settings(), "zhou.min")

    async def escalate(ids: list[int]) -> list[str]:
        before = len(toasts(app))
        for ticket_id in ids:
            manager.handle(Escalate(ticket_id, "look", at=DEMO_NOW + timedelta(minutes=1)))
        await until(pilot, lambda: len(toasts(app)) > before, "a toast", seconds=6)
        await settle(app, pilot)
        return toasts(app)[before:]

    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        burst = await escalate(to_level_one[:5])
        assert burst == ["5 new notifications — i opens the inbox"]
        few = await escalate(to_level_one[5:7])
        assert len(few) == 2 and all("escalated to level 1" in text for text in few)
        assert app.unread == read_inbox_state(db, ME).unread
