"""The TUI driven through Textual's Pilot on a real demo database."""

from __future__ import annotations

import getpass
import io
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from rich.cells import cell_len
from rich.console import Console
from textual.widgets import Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Customer, FeedbackEvent
from cxdesk.screens.help import HelpScreen
from cxdesk.screens.queue import PAGE_SIZE, QueueScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import StatusLine, TicketTable
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import Claim
from cxdesk.workflow.loop.service import TicketService
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle, until


def make_app(path: str) -> CxdeskApp:
    return CxdeskApp(Database.open(str(path)), Settings(), getpass.getuser(), lambda: DEMO_NOW)


def table_ids(app: CxdeskApp) -> list[str]:
    table = app.screen.query_one("#tickets", TicketTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def status(app: CxdeskApp) -> str:
    return app.screen.query_one("#status", StatusLine).text.strip()


async def test_queue_lists_one_page_and_pages_on(demo_copy: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        first = table_ids(app)
        assert len(first) == PAGE_SIZE  # a page, never the whole table
        assert first == sorted(first, reverse=True)
        assert "1–100 of" in status(app)
        await pilot.press("right_square_bracket")
        await settle(app, pilot)
        second = table_ids(app)
        assert second and second[0] < first[-1]
        assert "101–" in status(app)
        await pilot.press("left_square_bracket")
        await settle(app, pilot)
        assert table_ids(app) == first


@pytest.mark.parametrize(
    ("key", "title"),
    [
        ("1", "Mine"),
        ("2", "Unassigned"),
        ("3", "At risk"),
        ("4", "Breached"),
        ("5", "Escalated"),
        ("6", "Verifying"),
        ("7", "All"),
    ],
)
async def test_number_keys_switch_views(demo_copy: str, key: str, title: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press(key)
        await settle(app, pilot)
        assert f"· {title} ·" in status(app) or status(app).endswith(title)
        rows = app.screen.current.rows
        if key == "4":
            assert rows and all(r.sla_due < DEMO_NOW for r in rows)
        if key == "6":
            assert rows and {r.stage for r in rows} == {"verify"}
        if key == "2":
            assert rows and all(r.assignee is None for r in rows)


async def test_breached_rows_are_marked_without_colour(demo_copy: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        table = app.screen.query_one("#tickets", TicketTable)
        sla = str(table.get_row_at(0)[6])
        assert sla.startswith("!BREACHED ")


@pytest.mark.parametrize("width", [80, 100, 160])
async def test_the_queue_fits_the_terminal_with_clocks_whole(demo_copy: str, width: int) -> None:
    """Narrow terminals shrink names and titles (with an ellipsis), never the SLA clock."""
    app = make_app(demo_copy)
    async with app.run_test(size=(width, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        table = app.screen.query_one("#tickets", TicketTable)
        for y in range(1, min(table.row_count, 10) + 1):
            line = table.render_line(y).text
            assert cell_len(line) == table.size.width
            assert str(table.get_row_at(y - 1)[6]) in line  # e.g. "!BREACHED 1d 22h"


async def test_another_view_starts_at_its_top_row(demo_copy: str) -> None:
    """The cursor follows its ticket through refreshes, not into another view: enter on a
    new view opens that view's first ticket even if the old one is listed there too."""
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("7", "down", "down")  # all, the third ticket
        await settle(app, pilot)
        await pilot.press("4")  # breached
        await settle(app, pilot)
        table = app.screen.query_one("#tickets", TicketTable)
        assert table.cursor_row == 0
        wanted = table_ids(app)[0]
        await pilot.press("enter")
        await settle(app, pilot)
        assert text_of(app.screen.query_one("#ticket-header", Static)).startswith(wanted)


async def test_a_view_seen_before_is_drawn_at_once_then_refreshed(demo_copy: str) -> None:
    """Coming back to a view shows its remembered page in the same keystroke, and the page
    fetched again replaces it: a ticket claimed meanwhile leaves `unassigned`."""
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("2")  # unassigned
        await settle(app, pilot)
        first = table_ids(app)[0]
        await pilot.press("7")
        await settle(app, pilot)
        TicketService(Database.open(demo_copy), Settings(), getpass.getuser()).handle(
            Claim(parse_ref(first))
        )
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        screen.action_view("unassigned")  # the keystroke's own work, before any fetch returns
        assert screen.current is not None and screen.current.remembered
        assert table_ids(app)[0] == first
        for _ in range(100):  # the fetch (and any reload the change set off) comes back
            await pilot.pause(0.05)
            if not screen.current.remembered and first not in table_ids(app):
                break
        assert not screen.current.remembered
        assert first not in table_ids(app)


async def test_enter_opens_the_ticket_and_escape_returns(demo_copy: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down")
        await settle(app, pilot)
        wanted = table_ids(app)[2]
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        header = text_of(app.screen.query_one("#ticket-header", Static))
        assert header.startswith(wanted)
        timeline = text_of(app.screen.query_one("#timeline", Static))
        assert "opened in" in timeline
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        table = app.screen.query_one("#tickets", TicketTable)
        assert table_ids(app)[table.cursor_row] == wanted  # the cursor stayed on its ticket


async def test_question_mark_lists_the_keys(demo_copy: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys["1"] == "Mine" and keys["7"] == "All" and keys["q"] == "Quit"
        assert keys["]"] == "Next page" and keys["?"] == "Keys"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, QueueScreen)


async def test_q_quits(demo_copy: str) -> None:
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0 and not app.is_running


HOSTILE_NAME = "[@click=app.quit]x[/]"
HOSTILE_COMMENT = "[link=http://x]y[/link] [/] [bold]z outage"


async def test_hostile_customer_text_is_shown_inert(demo_copy: str) -> None:
    db = Database.open(str(demo_copy))
    settings = Settings()
    event = FeedbackEventIn(
        event_id="hostile-1",
        kind="complaint",
        occurred_at=DEMO_NOW - timedelta(minutes=1),
        customer=CustomerIn(id="evil", name=HOSTILE_NAME),
        comment=HOSTILE_COMMENT + "\x1b[2J",
    )
    accepted = Ingestor(db, settings, source="test", clock=lambda: DEMO_NOW).ingest_event(
        event, "{}"
    )
    app = CxdeskApp(db, settings, getpass.getuser(), lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        row = app.screen.query_one("#tickets", TicketTable).get_row_at(0)
        assert str(row[0]) == f"CX-{accepted.ticket_id:06d}"
        assert str(row[5]) == HOSTILE_NAME
        assert str(row[8]).startswith("[link=http://x]y[/link] [/]")
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.click("#customer")  # a click on the name must not run app.quit
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, TicketScreen)
        customer = text_of(app.screen.query_one("#customer", Static))
        assert HOSTILE_NAME in customer
    with db.session() as session:
        assert session.get_one(Customer, "evil").name == HOSTILE_NAME
        assert "\x1b" not in (session.get_one(FeedbackEvent, "hostile-1").comment or "")


def test_clock_is_used_for_countdowns() -> None:
    from cxdesk.screens.format import age

    assert age(datetime(2026, 3, 1, 10, 0, tzinfo=DEMO_NOW.tzinfo), DEMO_NOW) == "1d 0h"


async def test_the_footer_stays_put_while_a_filter_is_typed_and_applied(demo_copy: str) -> None:
    """The filter box taking the focus leaves the key row as it is: rebuilding it twice per
    filter relaid the screen and left garbage whose collection stalled later keys."""
    from textual.widgets._footer import FooterKey

    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        keys = list(app.screen.query(FooterKey))
        assert "Dashboard" in {key.description for key in keys}
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("d", "o", "w", "n")
        assert list(app.screen.query(FooterKey)) == keys
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.query_one("#tickets", TicketTable).has_focus
        assert list(app.screen.query(FooterKey)) == keys


async def test_a_slow_search_says_so_and_a_newer_one_stops_it(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word that matches nothing scans every ticket. The status line says the queue is
    loading, and applying another filter stops that scan: no error, the new page shown."""
    import asyncio

    import sqlalchemy as sa

    import cxdesk.workflow.reads.tickets as tickets_module
    from tests.integration.test_queries import SLOW

    real = tickets_module.list_counted
    stopped: list[Exception] = []

    def list_counted(session, flt, **kwargs):  # "slow" stands for a scan of a million rows
        if flt.search is not None and "slow" in flt.search.words:
            try:
                session.execute(sa.text(SLOW[session.get_bind().dialect.name])).all()
            except sa.exc.OperationalError as exc:
                stopped.append(exc)
                raise
        return real(session, flt, **kwargs)

    monkeypatch.setattr(tickets_module, "list_counted", list_counted)
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        box = app.screen.query_one("#search")
        await pilot.press("slash")
        box.value = "slow"
        await pilot.press("enter")
        await until(pilot, lambda: "loading…" in status(app), "the slow filter loading")
        assert "filter: slow · loading…" in status(app)
        await pilot.press("slash")
        box.value = "down"
        await pilot.press("enter")
        await asyncio.wait_for(app.workers.wait_for_complete(), 30)  # the scan was stopped
        await pilot.pause()
        assert len(stopped) == 1
        rows = app.screen.current.rows
        assert rows and all("down" in r.title.lower() for r in rows)
        assert "filter: down" in status(app) and "loading" not in status(app)
        errors = [n.message for n in app._notifications if "could not load" in n.message]
        assert errors == []  # the stopped scan is no error


async def test_a_filter_that_fits_one_page_is_counted_from_the_page(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cxdesk.workflow.reads.tickets as tickets_module

    counted: list[object] = []
    real = tickets_module.count_tickets

    def count_tickets(session, flt, **kwargs):
        counted.append(flt.search)
        return real(session, flt, **kwargs)

    monkeypatch.setattr(tickets_module, "count_tickets", count_tickets)
    app = make_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        # the count starts once the first page has been drawn
        await until(pilot, lambda: bool(counted), "the queue counted", seconds=10)
        assert counted[0] is None  # the whole queue is more than a page: counted
        first = app.screen.current.rows[0]
        await pilot.press("slash")
        app.screen.query_one("#search").value = first.id
        await pilot.press("enter")
        await settle(app, pilot)
        assert [r.id for r in app.screen.current.rows] == [first.id]
        assert "1–1 of 1" in status(app)
        assert all(search is None for search in counted)  # the filter's page was not counted


# Stored before text was cleaned on the way in: what Textual would hand the terminal as is.
RAW_TITLE = "\x1b]2;PWNED\x07 \x1b[2J \x9b31m \u202eevil 中文"
RAW_SHOWN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def drawn(app: CxdeskApp) -> str:
    """What the screen (toasts included) writes to the terminal, less Textual's own cursor
    moves and colours."""
    console = Console(file=io.StringIO(), force_terminal=True, width=app.size.width)
    update = app.screen._compositor.render_update(full=True)  # what the driver is given
    return re.sub("\x1b\\[[0-9;]*[mH]", "", update.render_segments(console))


async def test_control_sequences_stored_raw_are_drawn_inert(demo_copy: str) -> None:
    db = Database.open(str(demo_copy))
    settings = Settings()
    event = FeedbackEventIn(
        event_id="raw-1",
        kind="complaint",
        occurred_at=DEMO_NOW - timedelta(minutes=1),
        customer=CustomerIn(id="raw"),
        comment="outage",
    )
    number = (
        Ingestor(db, settings, source="test", clock=lambda: DEMO_NOW)
        .ingest_event(event, "{}")
        .ticket_id
    )
    with db.write() as session:
        for statement in (
            "UPDATE tickets SET title = :t WHERE id = :n",
            "UPDATE timeline_entries SET body = :t WHERE ticket_id = :n",
            "UPDATE customers SET name = :t WHERE id = 'raw'",
        ):
            session.execute(sa.text(statement), {"t": RAW_TITLE, "n": number})
    app = CxdeskApp(db, settings, getpass.getuser(), lambda: DEMO_NOW)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await settle(app, pilot)
        app.notify(f"failed: {RAW_TITLE}", markup=False)
        await pilot.pause(0.5)
        queue = drawn(app)
        assert "\\x1b]2;PWNED" in queue and "failed: \\x1b]2;PWNED" in queue
        app.clear_notifications()  # gone or not by the time the ticket is drawn: not counted
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        shown = "\\x1b]2;PWNED\\x07 \\x1b[2J \\x9b31m \\u202eevil 中文"
        # the title and the timeline in full, the customer's name as far as its panel is wide
        await until(pilot, lambda: drawn(app).count(shown) >= 2, "the title and the timeline")
        ticket = drawn(app)
        assert re.search(r"name +\\x1b\]2;PWNED", ticket)
        for screen in (queue, ticket):
            assert not RAW_SHOWN.search(screen), RAW_SHOWN.search(screen)


async def test_a_form_offers_stored_values_and_choices_inert() -> None:
    """A value stored raw (a root cause to edit, an agent's name to pick) is shown, and
    saved, with its control characters as escapes; ordinary text is unchanged."""
    from textual.app import App
    from textual.widgets import Input, TextArea

    from cxdesk.screens.forms import Field, FormScreen

    fields = [
        Field("cause", "Root cause", value=f"late\n{RAW_TITLE}"),
        Field("note", "Note", kind="multiline", value=f"line 1\n{RAW_TITLE}"),
        Field("who", "Agent", kind="pick", choices=[(RAW_TITLE, "ann")]),
    ]
    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(FormScreen("Analyze", fields))
        await pilot.pause()
        cause = app.screen.query_one("#field-cause", Input).value
        note = app.screen.query_one("#field-note", TextArea).text
        assert cause == "late\n\\x1b]2;PWNED\\x07 \\x1b[2J \\x9b31m \\u202eevil 中文"
        assert note == "line 1\n\\x1b]2;PWNED\\x07 \\x1b[2J \\x9b31m \\u202eevil 中文"
        assert not RAW_SHOWN.search(drawn(app))


async def test_a_crash_ends_in_one_line_without_locals(demo_copy: str, monkeypatch) -> None:
    """Textual's crash report prints the locals of every frame: the settings and the
    database, which a person at a desk run through sudo may not see."""
    monkeypatch.delenv("CXDESK_DEBUG", raising=False)
    app = make_app(demo_copy)
    secret = "postgresql://cx:s3cret@db/cx"
    printed: list[object] = []  # what the app prints on its way out
    monkeypatch.setattr(
        app, "_print_error_renderables", lambda: printed.extend(app._exit_renderables)
    )

    def crash() -> None:
        password = secret  # a local a traceback with locals would show
        raise RuntimeError(f"boom \x1b[2J {len(password)}")

    with pytest.raises(RuntimeError):
        async with app.run_test() as pilot:
            await settle(app, pilot)
            app.call_later(crash)
            await pilot.pause()
    shown = [str(r) for r in printed]
    assert shown == [
        "cxdesk: error: internal error: RuntimeError: boom \\x1b[2J 28; run with "
        "CXDESK_DEBUG=1 for the traceback"
    ]
    assert all(secret not in text for text in shown)
