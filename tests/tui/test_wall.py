"""`cxdesk wall`: the dashboard full screen, refreshing itself, on which nothing acts."""

from __future__ import annotations

import getpass

from textual.widgets import Static

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.context import open_desk
from cxdesk.wall import WallApp, WallScreen
from tests.conftest import DEMO_NOW

ME = getpass.getuser()


async def test_the_wall_shows_the_dashboard_and_takes_no_action(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    app = WallApp(open_desk(db, Settings(), ME, lambda: DEMO_NOW, "en"))
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        wall = app.screen
        assert isinstance(wall, WallScreen)
        assert wall.board is not None  # the figures are in
        assert "breach" in str(wall.query_one("#breaches", Static).border_title).lower()
        assert set(wall.active_bindings) == {"q"}
        for key in ("escape", "d", "o", "i", "C", "ctrl+p", "enter", "question_mark"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is wall, key  # nothing opened, nothing left
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code in (0, None)
