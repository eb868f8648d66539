"""The report screen on `R`: each report as a table with its chart, over a period."""

from __future__ import annotations

import getpass
from pathlib import Path

from textual.widgets import DataTable, Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.charts import BarChart
from cxdesk.screens.reports import ReportScreen
from cxdesk.workflow.insight.reports import report_rows
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle

ME = getpass.getuser()


async def test_r_shows_each_report_as_the_cli_has_it(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        with db.session() as session:
            viewer = app.desk.viewer
            drivers = report_rows(session, Settings(), viewer, "drivers", DEMO_NOW)
        await pilot.press("p", "p")  # 30 days → 90 → all time
        await pilot.press("4")  # drivers
        await settle(app, pilot)
        title = str(screen.query_one("#report-title", Static).render())
        assert title.startswith("Drivers · all time · my queues")
        table = screen.query_one(DataTable)
        assert table.row_count == len(drivers) > 0
        chart = screen.query_one(BarChart)
        assert chart.bars[0] == (drivers[0]["driver"], float(drivers[0]["tickets"]))
        team = screen.scopes[1].team
        assert team is not None and screen.scopes[0].label == ""
        await pilot.press("s")  # the first of my teams alone
        await settle(app, pilot)
        with db.session() as session:
            of_team = report_rows(session, Settings(), viewer, "drivers", DEMO_NOW, team=team)
        assert table.row_count == len(of_team)
        assert f"· team {team} ·" in str(screen.query_one("#report-title", Static).render())
        await pilot.press("escape")
        await settle(app, pilot)
        assert not isinstance(app.screen, ReportScreen)
