"""The customer screen through Pilot: `u` from a ticket and `customer:ID` from the queue's
filter open it; its chart has the customer's scores; customer text stays inert. And the
dashboard's trends are charts with data."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from rich.text import Text
from textual.color import Color
from textual.widgets import Input, Static

from cxdesk.db import Database
from cxdesk.screens.charts import LineChart
from cxdesk.screens.customer import CustomerScreen
from cxdesk.screens.dashboard import TRENDS, DashboardScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import TicketScreen
from tests.conftest import engine_for
from tests.tui.test_tui import RAW_SHOWN, drawn, make_app, table_ids, text_of
from tests.tui.waiting import settle

SCORED_CASE = sa.text(
    "SELECT t.id, t.customer_id FROM tickets t WHERE t.kind = 'case' AND ("
    " SELECT count(*) FROM feedback_events f WHERE f.customer_id = t.customer_id"
    " AND (f.nps IS NOT NULL OR f.csat IS NOT NULL)) >= 2 ORDER BY t.id LIMIT 1"
)
HOSTILE = "[@click=app.quit]x[/] \x1b]2;PWNED\x07 \u202eevil"


def scored_case(url: str) -> tuple[int, str]:
    """A case whose customer answered at least twice with a score."""
    engine = engine_for(url)
    with engine.connect() as connection:
        number, customer = connection.execute(SCORED_CASE).one()
    engine.dispose()
    return number, customer


async def test_u_on_a_ticket_opens_its_customer_with_their_scores_charted(
    demo_sqlite: Path,
) -> None:
    number, customer = scored_case(str(demo_sqlite))
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.push_screen(TicketScreen(app.desk, number))
        await settle(app, pilot)
        await pilot.press("u")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, CustomerScreen) and screen.customer_id == customer
        assert screen.view is not None
        chart = screen.query_one("#history-chart", LineChart)
        assert chart.lines
        points = sum(len(line.points) for line in chart.lines)
        scores = sum((f.nps is not None) + (f.csat is not None) for f in screen.view.feedback)
        assert points == scores >= 2
        assert f"CX-{number:06d}" in text_of(screen.query_one("#customer-tickets", Static))
        header = text_of(screen.query_one("#customer-header", Static))
        assert header.startswith(customer)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)


async def test_a_customer_filter_opens_the_customer_over_their_tickets(demo_sqlite: Path) -> None:
    number, customer = scored_case(str(demo_sqlite))
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one("#search", Input).value = f"customer:{customer}"
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, CustomerScreen) and app.screen.customer_id == customer
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        assert f"CX-{number:06d}" in table_ids(app)
        engine = engine_for(str(demo_sqlite))
        with engine.connect() as connection:
            theirs = connection.execute(
                sa.text("SELECT count(*) FROM tickets WHERE customer_id = :c"), {"c": customer}
            ).scalar()
        engine.dispose()
        assert len(table_ids(app)) == theirs


async def test_a_comment_stored_raw_is_shown_inert_on_the_customer_screen(
    demo_sqlite: Path,
) -> None:
    _, customer = scored_case(str(demo_sqlite))
    db = Database.open(str(demo_sqlite))
    with db.write() as session:  # past ingest, which would have cleaned it
        session.execute(
            sa.text("UPDATE feedback_events SET comment = :c WHERE customer_id = :id"),
            {"c": HOSTILE, "id": customer},
        )
    db.dispose()
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.push_screen(CustomerScreen(app.desk, customer))
        await settle(app, pilot)
        screen = drawn(app)
        assert "[@click=app.quit]x[/] \\x1b]2;PWNED\\x07 \\u202eevil" in screen
        assert not RAW_SHOWN.search(screen)
        await pilot.click("#customer-feedback")  # the markup's click must not quit
        await pilot.pause()
        assert app.is_running


async def test_an_unknown_customer_is_said_so_and_the_screen_stays(demo_sqlite: Path) -> None:
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        app.push_screen(CustomerScreen(app.desk, "nobody"))
        await settle(app, pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert any("no customer nobody" in n.message for n in app._notifications)


async def test_the_dashboards_trends_are_dated_charts_with_data(demo_sqlite: Path) -> None:
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        board = app.screen.board
        assert board is not None
        for key, *_ in TRENDS:
            chart = app.screen.query_one(f"#{key}-chart", LineChart)
            known = [getattr(day, key) for day in board.trend if getattr(day, key) is not None]
            assert [y for _, y in chart.lines[0].points] == known and known
            assert chart.x_label(0) == board.trend[0].day  # the x axis is dated
            assert chart.x_label(len(board.trend) - 1) == board.trend[-1].day


async def test_u_on_a_problem_ticket_says_it_has_no_customer(demo_sqlite: Path) -> None:
    engine = engine_for(str(demo_sqlite))
    with engine.connect() as connection:
        number = connection.execute(
            sa.text("SELECT min(id) FROM tickets WHERE kind = 'problem'")
        ).scalar()
    engine.dispose()
    assert number is not None
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(app, pilot)
        app.push_screen(TicketScreen(app.desk, number))
        await settle(app, pilot)
        detail = app.screen.detail  # type: ignore[attr-defined]
        assert detail is not None and detail.customer is None
        await pilot.press("u")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        assert any("no customer" in n.message for n in app._notifications)


async def test_the_charts_take_the_new_themes_colours(demo_sqlite: Path) -> None:
    """Lines are coloured from the theme's text colours: on a light theme, its own, which
    read on its background."""
    app = make_app(str(demo_sqlite))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("d")
        await settle(app, pilot)
        chart = app.screen.query_one("#nps-chart", LineChart)

        def colours() -> set[str]:
            drawn = chart.render()
            assert isinstance(drawn, Text)
            return {str(span.style) for span in drawn.spans}

        dark = colours()
        app.theme = "textual-light"
        await pilot.pause()
        light = colours()
        assert dark and light and dark != light
        assert Color.parse(app.theme_variables["text-primary"]).hex.lower() in light
