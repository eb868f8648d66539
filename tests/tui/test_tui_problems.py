"""Problems on the desk: a supervisor opens one for a driver from the dashboard (a key, the
driver picked, saved to confirm), and applies a resolved problem to its cases from its ticket
screen; an agent is offered neither."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Ticket, TicketLink
from cxdesk.screens.dashboard import DashboardScreen
from cxdesk.screens.forms import FormScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.workflow.access.permissions import load_actor
from cxdesk.workflow.insight.problem_checks import read_open_drivers
from cxdesk.workflow.loop.desk_commands import Claim, OpenProblem, Resolve
from cxdesk.workflow.loop.service import TicketService
from tests.conftest import DEMO_NOW
from tests.tui.test_tui_actions import ME, demo_app
from tests.tui.waiting import settle


def drivers(path: str) -> list[tuple[str, int]]:
    db = Database.open(path)
    with db.session() as session:
        viewer = load_actor(session, ME, Settings())
    found = read_open_drivers(db, viewer)
    db.dispose()
    return found


async def test_a_supervisor_opens_a_problem_for_a_driver_from_the_dashboard(
    demo_sqlite: Path,
) -> None:
    (driver, count), *_ = drivers(str(demo_sqlite))
    app = demo_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)  # the driver is picked, then saved
        await pilot.press(*driver)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        told = [n.message for n in app._notifications]
    db = Database.open(str(demo_sqlite))
    with db.session() as session:
        problem = session.exec(
            select(Ticket).where(Ticket.rule == f"problem:driver:{driver}")
        ).one()
        linked = session.exec(select(TicketLink).where(TicketLink.problem_id == problem.id)).all()
    db.dispose()
    assert len(linked) == count  # the demo's open cases of that driver are all the care team's
    assert any(f"opened for driver {driver}: {count} cases linked" in text for text in told)


async def test_an_agent_is_not_offered_to_open_a_problem(demo_sqlite: Path) -> None:
    app = demo_app(str(demo_sqlite), login="zhang.wei")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        assert app.screen.check_action("open_problem", ()) is None
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_apply_to_cases_from_a_resolved_problems_screen(demo_sqlite: Path) -> None:
    (driver, count), *_ = drivers(str(demo_sqlite))
    db = Database.open(str(demo_sqlite))
    me = TicketService(db, Settings(), ME)
    problem = me.handle(OpenProblem("driver", driver, at=DEMO_NOW))
    assert problem.id is not None
    me.handle(Claim(problem.id, at=DEMO_NOW))
    me.handle(
        Resolve(
            problem.id,
            code="fix",
            root_cause="cause",
            action="fixed",
            at=DEMO_NOW + timedelta(minutes=5),
        )
    )
    db.dispose()
    app = demo_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.push_screen(TicketScreen(app.desk, problem.id))
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, TicketScreen)
        assert screen.check_action("act", ("apply",)) is True
        await pilot.press("y")
        await settle(app, pilot)
        told = "\n".join(str(n.message) for n in app._notifications)
    lines = [line for line in told.splitlines() if line.startswith(f"CX-{problem.id:06d}: CX-")]
    assert len(lines) == count  # one line a linked case, with what was done to it
    assert all(line.split()[2] in ("resolved", "skipped", "refused") for line in lines)


async def test_a_case_does_not_offer_apply_to_cases(demo_sqlite: Path) -> None:
    app = demo_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.push_screen(TicketScreen(app.desk, 1))
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        assert app.screen.check_action("act", ("apply",)) is False
