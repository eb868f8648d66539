"""Starting the desk. Its first frame is the queue: starting the app imports the queue screen
and what its first reads need, not the screens, forms, palette providers or domain work opened
later (the ticket screen, the dashboard and its charts, reports, customers, the inbox, the
commands' declarations and the service, bulk's forms, intake, insight, webhooks, the HTTP
server). Each is imported when first opened or used. The collector, off while `cxdesk` starts
the desk, is on again once it is mounted."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cxdesk.app import CxdeskApp
from tests.conftest import DEMO_NOW
from tests.tui.test_tui import make_app

NOT_FOR_THE_FIRST_PAINT = (
    "cxdesk.screens.ticket",
    "cxdesk.screens.ticket_panels",
    "cxdesk.screens.sla_panel",
    "cxdesk.screens.dashboard",
    "cxdesk.screens.charts",
    "cxdesk.screens.reports",
    "cxdesk.screens.customer",
    "cxdesk.screens.inbox",
    "cxdesk.screens.forms",
    "cxdesk.screens.command_forms",
    "cxdesk.workflow.loop.desk_commands",
    "cxdesk.workflow.loop.service",
    "cxdesk.workflow.intake",
    "cxdesk.workflow.insight",
    "cxdesk.workflow.ops.webhooks",
    "cxdesk.web",
    "textual_plotext",
    "plotext",
    "rule_engine",
    "alembic",
    "httpx",
)

STARTED_APP = """
import asyncio, getpass, json, sys
from datetime import datetime
from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database

async def started(path, now):
    app = CxdeskApp(Database.open(path), Settings(), getpass.getuser(), lambda: now)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)  # the other views' first pages are fetched ahead after a moment
        await app.workers.wait_for_complete()
        print(len(app.screen.current.rows))
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)

asyncio.run(started(sys.argv[1], datetime.fromisoformat(sys.argv[2])))
"""


def test_starting_the_desk_imports_only_what_the_queue_shows(demo_sqlite: Path) -> None:
    args = [str(demo_sqlite), DEMO_NOW.isoformat()]
    result = subprocess.run(
        [sys.executable, "-c", STARTED_APP, *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) > 0  # the queue's first page is on screen
    modules = json.loads(result.stderr.splitlines()[-1])
    assert "cxdesk.screens.queue" in modules
    loaded = [
        m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_FOR_THE_FIRST_PAINT)
    ]
    assert loaded == []


async def test_the_collector_is_on_once_the_desk_is_mounted(demo_sqlite: Path) -> None:
    app = make_app(str(demo_sqlite))
    gc.disable()  # as `cxdesk` starts it
    try:
        async with app.run_test(size=(120, 40)):
            assert gc.isenabled()
    finally:
        gc.enable()


def test_the_collector_is_on_after_the_desk_even_if_it_never_mounted(
    demo_sqlite: Path, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CxdeskApp, "run", lambda self: None)
    code, _, err = run("--db", str(demo_sqlite))
    assert code in (0, None), err
    assert gc.isenabled()
