"""Saved views: the team's from the config on 8 and 9 and in the palette, my own saved with
`/` then `ctrl+s`, each a filter, an order and columns over every ticket I may see."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path

import pytest

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import ConfigError, WorkflowError
from cxdesk.screens.commands import screen_commands
from cxdesk.screens.forms import FormScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket_table import StatusLine, TicketTable
from cxdesk.workflow.reads.tickets import Sort
from cxdesk.workflow.reads.views import read_views, save_view
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle

ME = getpass.getuser()
VIEWS = {
    "vip-p1": {"filter": "queue:vip priority:P1", "title": "VIP P1", "sort": "age"},
    "new": {"filter": "stage:new", "columns": ["id", "priority", "sla", "title"]},
    "third": {"filter": "priority:P3"},
}


def status(app: CxdeskApp) -> str:
    return app.screen.query_one("#status", StatusLine).text


async def test_team_views_on_8_and_9_and_in_the_palette(demo_sqlite: Path) -> None:
    settings = Settings.model_validate({"views": VIEWS})
    app = CxdeskApp(Database.open(str(demo_sqlite)), settings, ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        await pilot.press("9")
        await settle(app, pilot)
        table = queue.query_one(TicketTable)
        assert [c.key for c in table.columns] == ["ID", "Pri", "SLA", "Title"]
        assert all(r.stage == "new" for r in queue.page_rows()) and queue.page_rows()
        assert " · new · " in status(app) and "filter: stage:new" in status(app)
        await pilot.press("8")
        await settle(app, pilot)
        assert len(table.columns) == 9 and queue.sort is Sort.AGE
        assert all((r.queue, r.priority) == ("vip", "P1") for r in queue.page_rows())
        assert " · VIP P1 · " in status(app)
        titles = [c.title for c in screen_commands(queue)]
        assert {"View: VIP P1", "View: new", "View: third"} <= set(titles)
        await pilot.press("1")  # a built-in view leaves the saved one, filter and all
        await settle(app, pilot)
        assert queue.search is None and queue.sort is None and queue.saved is None
        assert " · Mine · " in status(app)


async def test_slash_then_ctrl_s_saves_my_own_view(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"priority:P1", "ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"urgent", "ctrl+s")
        await settle(app, pilot)
        queue = app.screen
        assert isinstance(queue, QueueScreen)
        assert queue.saved is not None and queue.saved.name == "urgent"
        assert all(r.priority == "P1" for r in queue.page_rows())
    assert [v.name for v in read_views(db, Settings(), ME)] == ["urgent"]
    assert read_views(db, Settings(), "zhang.wei") == []  # mine only


def test_a_bad_view_is_refused_with_where(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    bad = Settings.model_validate({"views": {"odd": {"filter": "colour:red"}}})
    with pytest.raises(ConfigError, match=r"views\.odd\.filter: unknown filter 'colour'"):
        read_views(db, bad, ME)
    at = DEMO_NOW + timedelta(minutes=1)
    for name, words in (("", "stage:new"), ("x\x1b[2J", "stage:new"), ("a" * 41, "x")):
        with pytest.raises(WorkflowError, match="view's name"):
            save_view(db, ME, name, words, None, at)
    with pytest.raises(WorkflowError, match="unknown filter"):
        save_view(db, ME, "fine", "colour:red", None, at)
    save_view(db, ME, "mine", "stage:new", Sort.PRIORITY, at)
    save_view(db, ME, "mine", "stage:fix", None, at)  # saved again: replaced
    (only,) = read_views(db, Settings(), ME)
    assert only.search.terms == (("stage", "fix"),) and only.sort is None
