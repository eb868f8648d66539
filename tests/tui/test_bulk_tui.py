"""Bulk work in the queue: space marks, * marks the page, b applies one command to every marked
ticket and shows what was done and what was refused."""

from __future__ import annotations

import getpass
from pathlib import Path

from sqlmodel import col, select
from textual.containers import Vertical
from textual.widgets import OptionList, Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Ticket
from cxdesk.screens.bulk import BulkPicker, BulkResult
from cxdesk.screens.forms import FormScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket_table import StatusLine, TicketTable
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.loop.desk_commands import Note
from cxdesk.workflow.loop.service import TicketService
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle

ME = getpass.getuser()  # who built the demo supervises care


def assignees(db: Database, refs: list[str]) -> list[str | None]:
    with db.session() as session:
        ids = [parse_ref(ref) for ref in refs]
        rows = session.exec(select(Ticket).where(col(Ticket.id).in_(ids))).all()
        by_id = {t.id: t.assignee for t in rows}
    return [by_id[i] for i in ids]


async def test_mark_three_and_assign_them_at_once(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"stage:new queue:aftersales", "enter")  # care works it
        await settle(app, pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        table = queue.query_one(TicketTable)
        assert len(table.keys) >= 3
        await pilot.press("space", "space")  # each marks its row and moves down
        assert table.marked == frozenset(table.keys[:2]) and table.cursor_row == 2
        await pilot.press("space", "up", "space")  # the third, and the second unmarked
        assert table.marked == {table.keys[0], table.keys[2]} and table.cursor_row == 2
        await pilot.press("up", "space")
        marked = table.keys[:3]
        assert table.marked == frozenset(marked)
        assert "3 marked — b acts on them" in queue.query_one("#status", StatusLine).text
        await pilot.press("b")
        await settle(app, pilot)
        assert isinstance(app.screen, BulkPicker)
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(0).id == "assign"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"zhang.wei", "ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, BulkResult)
        result = app.screen.query_one(Vertical).border_title
        assert str(result) == "Assign: 3 done, 0 refused"
        await pilot.press("escape")
        await settle(app, pilot)
        assert assignees(db, marked) == ["zhang.wei"] * 3
        assert table.marked == frozenset()


async def test_a_ticket_changed_since_it_was_marked_is_refused_and_stays_marked(
    demo_sqlite: Path,
) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")
        await settle(app, pilot)
        table = app.screen.query_one(TicketTable)
        await pilot.press("asterisk")  # the whole page
        page = list(table.keys)
        assert table.marked == frozenset(page) and len(page) > 2
        changed = page[1]  # someone else notes on it meanwhile: its version moves on
        TicketService(db, Settings(), "zhou.min").handle(
            Note(parse_ref(changed), "meanwhile", at=DEMO_NOW)
        )
        await pilot.press("b", "down", "down")  # assign, escalate, note
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"looked at", "ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, BulkResult)
        text = str(app.screen.query_one(Static).render())
        assert changed in text and "changed" in text
        assert str(app.screen.query_one(Vertical).border_title).endswith("1 refused")
        await pilot.press("escape")
        await settle(app, pilot)
        assert table.marked == frozenset({changed})
        await pilot.press("asterisk")  # not all marked: marks the page
        await pilot.press("asterisk")  # all marked: unmarks it
        assert table.marked == frozenset()


async def test_b_with_nothing_marked_says_how_to_mark(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        said = [str(n.message) for n in app._notifications]
        assert "mark tickets with space first (* marks the page)" in said
