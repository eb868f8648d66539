"""The report screen on `R`: each report as a table with its chart, over a period."""

from __future__ import annotations

import getpass
import threading
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.charts import BarChart
from cxdesk.screens.reports import ReportScreen
from cxdesk.workflow.insight.reports import read_report, report_rows
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle, until

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


async def test_a_report_asked_for_before_another_never_replaces_it(
    demo_sqlite: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load cannot be stopped: the first (the last 30 days), held back until the second
    (90 days, asked for by `p`) is shown, answers last and is not shown."""
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    release, calls, answered = threading.Event(), [], []

    def held_first(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        calls.append(kwargs["since"])
        if len(calls) == 1:
            release.wait(10)
            return []  # what no newer answer holds: shown, it would empty the table
        return read_report(*args, **kwargs)

    def counted(screen: ReportScreen, message: Message) -> bool:
        if isinstance(message, ReportScreen.Loaded):
            answered.append(message)
        return Screen.post_message(screen, message)

    monkeypatch.setattr("cxdesk.screens.reports.read_report", held_first)
    monkeypatch.setattr(ReportScreen, "post_message", counted)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("R")
        await until(pilot, lambda: len(calls) == 1, "the first load")
        await pilot.press("p")  # 30 days → 90
        await until(pilot, lambda: len(answered) == 1, "the second load's answer")
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        shown = table.row_count
        assert shown > 0
        release.set()
        await until(pilot, lambda: len(answered) == 2, "the first load's answer")
        await settle(app, pilot)
        assert table.row_count == shown
        title = str(app.screen.query_one("#report-title", Static).render())
        assert title.startswith("SLA · last 90 days")
