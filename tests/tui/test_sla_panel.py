"""The SLA panel: `t` on a ticket opens it over the screen, with both clocks explained in the
desk's language, and `t` or escape closes it."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.format import local_time
from cxdesk.screens.sla_panel import SlaPanel
from cxdesk.screens.ticket import TicketScreen
from tests.conftest import DEMO_NOW
from tests.tui.test_tui_actions import ME, open_first, text_of
from tests.tui.waiting import settle


@pytest.mark.parametrize(
    ("lang", "titles"),
    [
        ("en", ("First response clock", "Resolution clock", "counted")),
        ("zh", ("首次响应时钟", "解决时钟", "计时")),
    ],
)
async def test_t_opens_the_sla_panel_on_the_ticket_screen(
    demo_copy: str, lang: str, titles: tuple[str, ...]
) -> None:
    app = CxdeskApp(Database.open(demo_copy), Settings(), ME, lambda: DEMO_NOW, lang=lang)
    async with app.run_test(size=(140, 45)) as pilot:
        screen = await open_first(app, pilot, "2")  # unassigned: both clocks run
        assert screen.detail is not None
        row = screen.detail.row
        await pilot.press("t")
        await settle(app, pilot)
        panel = app.screen
        assert isinstance(panel, SlaPanel) and panel.ticket_id == row.number
        shown = text_of(panel.query_one("#sla-body", Static))
        for title in titles:
            assert title in shown
        tz = app.desk.settings.timezone
        assert local_time(row.first_response_due, tz) in shown
        assert local_time(row.resolution_due, tz) in shown
        await pilot.press("t")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
