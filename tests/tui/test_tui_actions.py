"""Ticket actions in the TUI: keys, forms, role gating, and changes from elsewhere showing up."""

from __future__ import annotations

import getpass
import io
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from rich.console import Console
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input, Static

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.forms import FormScreen
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import StatusLine
from cxdesk.workflow.loop.desk_commands import ClaimNext, Escalate, Note
from cxdesk.workflow.loop.service import HANDLERS, TicketService
from cxdesk.workflow.reads.detail import TicketDetail, read_ticket_detail
from cxdesk.workflow.reads.tickets import TicketPage, read_counted_page
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle, until

ME = getpass.getuser()


def text_of(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def demo_app(path: str, login: str = ME) -> CxdeskApp:
    """The desk on a copy of the demo, as `login`, at the demo's own now."""
    return CxdeskApp(Database.open(path), Settings(), login, lambda: DEMO_NOW)


async def open_first(app: CxdeskApp, pilot, view: str) -> TicketScreen:
    await app.workers.wait_for_complete()
    await pilot.press(view)
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.press("enter")
    await app.workers.wait_for_complete()
    await pilot.pause()
    assert isinstance(app.screen, TicketScreen)
    return app.screen


async def test_claim_then_respond_from_the_keyboard(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "2")  # unassigned
        assert screen.detail is not None and screen.detail.row.assignee is None
        await pilot.press("c")
        await settle(app, pilot)
        assert screen.detail.row.assignee == ME
        assert screen.check_action("act", ("claim",)) is None  # now shown disabled
        await pilot.press("p")
        await settle(app, pilot)  # the templates are read by a worker
        assert isinstance(app.screen, FormScreen)
        await pilot.press(*"We are on it [b]x[/b]")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        # the reload that shows it runs after the command's worker: wait for it, not a pause
        await until(
            pilot,
            lambda: "We are on it [b]x[/b]" in text_of(screen.query_one("#timeline", Static)),
            "the response on the timeline",
        )
        assert screen.detail.first_response_at is not None


async def test_a_form_refuses_missing_fields_and_escape_cancels(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")  # mine: claimed, so escalation is allowed
        version = screen.detail.row.version
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        assert "required: Reason" in text_of(app.screen.query_one("#form-error", Static))
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen) and screen.detail.row.version == version


async def test_the_resolution_code_is_chosen_by_the_agent_not_by_the_form(
    demo_copy: str,
) -> None:
    """A code left as the form opened it would be reported as chosen: it starts blank and is
    required."""
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")  # mine: being worked
        version = screen.detail.row.version
        screen.action_act("resolve")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)
        assert app.screen.values()["code"] == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "Resolution code" in text_of(app.screen.query_one("#form-error", Static))
        await pilot.press("escape")
        await settle(app, pilot)
        assert screen.detail.row.version == version


async def test_a_response_needs_text_or_a_template_and_the_form_stays_open(
    demo_copy: str,
) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        version = screen.detail.row.version
        await pilot.press("p")
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)  # refused in the form, not after it closed
        error = text_of(app.screen.query_one("#form-error", Static))
        assert error.startswith("required: Text")
        await pilot.press("tab", "enter", "down", "enter")  # the first template
        await pilot.pause()
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        assert screen.detail.row.version == version + 1
        assert screen.detail.timeline[-1].kind == "response"
        assert ME in screen.detail.timeline[-1].body  # the template, filled in


async def test_an_agent_sees_supervisor_actions_disabled(demo_copy: str) -> None:
    app = demo_app(demo_copy, "zhang.wei")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "7")
        assert screen.check_action("act", ("assign",)) is None
        assert screen.check_action("act", ("reopen",)) is None
        assert screen.check_action("act", ("note",)) is True


async def test_a_change_from_the_cli_shows_up_without_a_key(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    db = app.desk.db
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        TicketService(db, Settings(), ME).handle(
            Note(screen.detail.row.number, "written elsewhere")
        )
        timeline = screen.query_one("#timeline", Static)
        await until(
            pilot, lambda: "written elsewhere" in text_of(timeline), "the note did not show up"
        )


class HeldReads:
    """The ticket screen's reads from now on: those numbered in `held` (1 the first) wait
    until let go, those in `failing` fail; the answers it posts are counted."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, held: set[int], failing: frozenset[int] = frozenset()
    ) -> None:
        self.held, self.failing = held, failing
        self.gates = {n: threading.Event() for n in held}
        self.calls = 0
        self.answers: dict[int, TicketDetail] = {}
        self.posted: list[TicketDetail] = []
        monkeypatch.setattr("cxdesk.screens.ticket.read_ticket_detail", self._read)
        posted = self.posted

        def post(screen: TicketScreen, message: Message) -> bool:
            if isinstance(message, TicketScreen.Loaded):
                posted.append(message.detail)
            return Screen.post_message(screen, message)

        monkeypatch.setattr(TicketScreen, "post_message", post)

    def _read(self, *args: Any, **kwargs: Any) -> TicketDetail:
        self.calls += 1
        number = self.calls
        if number in self.gates:
            self.gates[number].wait(10)
        if number in self.failing:
            raise RuntimeError("server closed the connection unexpectedly")
        detail = self.answers[number] = read_ticket_detail(*args, **kwargs)
        return detail

    async def answered(self, pilot: Pilot, number: int) -> None:
        """Let read `number` go and wait until its answer is posted and handled."""
        self.gates[number].set()
        await until(
            pilot,
            lambda: number in self.answers and self.answers[number] in self.posted,
            f"read {number}'s answer",
        )
        for _ in range(3):  # handled; not `settle`, which would wait for the reads held
            await pilot.pause()


async def test_a_ticket_read_before_a_change_never_replaces_one_read_after(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read cannot be stopped: one started before a note, held back until the read that
    the note's change started is shown, answers last and is not shown."""
    app = demo_app(demo_copy)
    db = app.desk.db
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        reads = HeldReads(monkeypatch, held={1})
        await pilot.press("r")
        await until(pilot, lambda: reads.calls == 1, "the first read")
        TicketService(db, Settings(), ME).handle(
            Note(screen.detail.row.number, "written meanwhile")
        )
        timeline = screen.query_one("#timeline", Static)
        await until(pilot, lambda: "written meanwhile" in text_of(timeline), "the note")
        await reads.answered(pilot, 1)
        assert "written meanwhile" in text_of(timeline)


@pytest.mark.parametrize("newer", ["still reading", "failed"])
async def test_a_ticket_read_is_shown_while_no_newer_one_is(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch, newer: str
) -> None:
    """Reloads asked for faster than a read answers (a busy ingest's changes) still show
    each answer; a newer read that failed leaves the older one's."""
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        failing = frozenset({2}) if newer == "failed" else frozenset()
        reads = HeldReads(monkeypatch, held={1, 2}, failing=failing)
        await pilot.press("r")
        await until(pilot, lambda: reads.calls == 1, "the first read")
        await pilot.press("r")
        if newer == "failed":
            reads.gates[2].set()
        await until(pilot, lambda: reads.calls == 2, "the second read")
        await reads.answered(pilot, 1)
        assert screen.detail is reads.answers[1]
        reads.gates[2].set()


async def test_the_queue_loads_again_on_a_change_after_a_page_failed(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed page left the queue waiting for it without end: each change after only
    asked for a reload once it came, and the status line said "loading…"."""
    app = demo_app(demo_copy)
    db = app.desk.db
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        calls = []

        def first_fails(*args: Any, **kwargs: Any) -> TicketPage:
            calls.append(kwargs)  # the page asked for: one fetched ahead is read without a count
            if len(calls) == 1:
                raise RuntimeError("server closed the connection unexpectedly")
            return read_counted_page(*args, **kwargs)

        monkeypatch.setattr("cxdesk.screens.queue.read_counted_page", first_fails)
        await pilot.press("r")
        await until(pilot, lambda: len(calls) == 1, "the failed page")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        TicketService(db, Settings(), ME).handle(Note(screen.page_rows()[0].number, "later"))
        await until(pilot, lambda: len(calls) >= 2, "a load after the change")
        await settle(app, pilot)
        assert not screen.fetching


async def test_the_timeline_opens_at_its_latest_entry_and_keeps_a_reader_s_place(
    demo_copy: str,
) -> None:
    app = demo_app(demo_copy)
    db = app.desk.db
    async with app.run_test(size=(80, 16)) as pilot:
        screen = await open_first(app, pilot, "1")
        box = screen.query_one("#timeline-box")
        assert box.max_scroll_y > 0, "the timeline should not fit this terminal"
        assert box.scroll_y == box.max_scroll_y
        await pilot.press("home")  # back to read the first entries
        await pilot.press("r")
        await settle(app, pilot)
        assert box.scroll_y == 0, "a reload with nothing new moved the reader"
        TicketService(db, Settings(), ME).handle(
            Note(screen.detail.row.number, "written elsewhere")
        )
        await until(
            pilot,
            lambda: box.scroll_y == box.max_scroll_y,
            "a new entry was not brought into view",
        )


async def test_a_short_timeline_starts_at_the_top_of_its_box(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 60)) as pilot:
        screen = await open_first(app, pilot, "2")
        await settle(app, pilot)
        box = screen.query_one("#timeline-box")
        timeline = screen.query_one("#timeline", Static)
        assert box.max_scroll_y == 0, "the timeline should fit this terminal"
        assert box.scroll_y == 0
        assert timeline.region.y == box.content_region.y


async def test_slash_filters_with_words_and_terms(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("q")  # typed into the filter box: does not quit
        box = app.screen.query_one("#search", Input)
        assert box.value == "q"
        box.value = "priority:p1 down"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.is_running  # typing q in the filter did not quit
        rows = app.screen.current.rows
        assert rows and {r.priority for r in rows} == {"P1"}
        assert all("down" in r.title for r in rows)
        await pilot.press("slash")
        box.value = "bogus:1"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.current.rows == rows  # refused with a message, the list kept
        await pilot.press("escape")
        await settle(app, pilot)
        assert len(app.screen.current.rows) > len(rows)


def test_filter_text_is_data_not_sql() -> None:
    from cxdesk.workflow.reads.queries import Search

    search = Search.parse("100%_off' OR 1=1 -- cx-12 stage:new")
    assert search.terms == (("stage", "new"),)
    assert search.words == ("100%_off'", "OR", "1=1", "--", "cx-12")


def test_chinese_substrings_match_titles_and_names(demo_copy: str) -> None:
    from cxdesk.workflow.reads.queries import Search, TicketFilter, list_tickets

    db = Database.open(demo_copy)
    with db.session() as session:
        rows = list_tickets(session, TicketFilter(search=Search.parse("快递")), limit=500)
        named = list_tickets(session, TicketFilter(search=Search.parse("王")), limit=500)
    assert rows and all("快递" in r.title for r in rows)
    assert named and all("王" in (r.customer_name or "") or "王" in r.title for r in named)


async def test_d_opens_the_dashboard(demo_copy: str) -> None:
    from cxdesk.screens.dashboard import DashboardScreen

    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        queues = text_of(app.screen.query_one("#queues", Static))
        assert "aftersales" in queues and "breached" in queues
        assert f"{ME} (you)" in text_of(app.screen.query_one("#agents", Static))
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DashboardScreen)


def test_dashboard_figures_add_up(demo_copy: str) -> None:
    from cxdesk.workflow.access.permissions import Actor
    from cxdesk.workflow.insight.dashboard import build_dashboard

    db = Database.open(demo_copy)
    with db.session() as session:
        board = build_dashboard(session, Actor.system(), DEMO_NOW, "Asia/Shanghai")
        open_tickets = session.execute(
            sa.text("SELECT count(*) FROM tickets WHERE stage != 'closed'")
        ).scalar()
    assert sum(q.open for q in board.queues) == open_tickets
    assert all(q.ok + q.at_risk + q.breached + q.stopped == q.open for q in board.queues)
    assert len(board.trend) == 14
    assert all(row.sla_due < DEMO_NOW for row in board.breaches)


async def test_s_cycles_the_order(demo_copy: str) -> None:
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("7")  # all: the newest first
        await settle(app, pilot)
        rows = app.screen.current.rows
        assert [r.number for r in rows] == sorted((r.number for r in rows), reverse=True)
        await pilot.press("s")  # all → sla
        await settle(app, pilot)
        dues = [r.sla_due for r in app.screen.current.rows if r.sla_due is not None]
        assert dues == sorted(dues)
        await pilot.press("s")  # → priority
        await settle(app, pilot)
        priorities = [r.priority for r in app.screen.current.rows]
        status = app.screen.query_one("#status", StatusLine).text
        assert priorities == sorted(priorities) and "by priority" in status


def claimed_by_me(db: Database) -> int:
    with db.session() as session:
        return session.execute(
            sa.text("SELECT count(*) FROM tickets WHERE assignee = :me"), {"me": ME}
        ).scalar()


def toasts(app: CxdeskApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_capital_c_twice_quickly_claims_one_case(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.open(str(demo_copy))
    slow = HANDLERS[ClaimNext]

    def claim_slowly(acting, command, session):
        time.sleep(0.3)  # a claim still in flight when the second C arrives
        return slow(acting, command, session)

    monkeypatch.setitem(HANDLERS, ClaimNext, claim_slowly)
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        before = claimed_by_me(db)
        await pilot.press("C", "C")
        await settle(app, pilot)
        assert claimed_by_me(db) == before + 1
        assert isinstance(app.screen, TicketScreen)
        await pilot.press("escape")
        await pilot.press("C")  # the claim is done: C claims again
        await settle(app, pilot)
        assert claimed_by_me(db) == before + 2


async def test_a_claim_next_that_fails_says_so_and_c_works_again(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.open(str(demo_copy))

    def broken(acting, command, session):
        raise RuntimeError("connection lost")

    monkeypatch.setitem(HANDLERS, ClaimNext, broken)
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("C")
        await settle(app, pilot)
        assert app.is_running
        assert any("connection lost" in text for text in toasts(app)), toasts(app)
        monkeypatch.undo()
        await pilot.press("C")
        await settle(app, pilot)
        assert isinstance(app.screen, TicketScreen)
        assert any(text.endswith(" claimed") for text in toasts(app)), toasts(app)


async def test_an_action_that_fails_unexpectedly_shows_the_error(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(acting, command, session):
        raise RuntimeError("disk full")

    monkeypatch.setitem(HANDLERS, Escalate, broken)
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        await pilot.press("e")
        await pilot.pause()
        await pilot.press(*"customer waiting")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        assert app.screen is screen
        assert any("disk full" in text for text in toasts(app)), toasts(app)


async def test_a_dashboard_that_fails_to_load_says_so(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kw):
        raise RuntimeError("statement timeout")

    monkeypatch.setattr("cxdesk.screens.dashboard.read_dashboard", broken)
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press("d")
        await settle(app, pilot)
        assert any("statement timeout" in text for text in toasts(app)), toasts(app)


async def test_the_agent_picker_reads_the_database_off_the_event_loop(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cxdesk.screens import command_forms

    threads: list[threading.Thread] = []
    asked: list[object] = []
    read = command_forms.read_assignable_agents

    def reading(db, team, **kw):
        threads.append(threading.current_thread())
        asked.append(team)
        return read(db, team, **kw)

    monkeypatch.setattr(command_forms, "read_assignable_agents", reading)
    app = demo_app(demo_copy)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(app, pilot, "2")
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, FormScreen)
        assert threads and threading.main_thread() not in threads
        assert asked and asked[0] is not None  # the ticket's team's agents only


def test_open_loads_of_some_agents_only(demo_copy: str) -> None:
    from cxdesk.workflow.insight.dashboard import open_loads

    db = Database.open(demo_copy)
    with db.session() as session:
        everyone = open_loads(session)
        some = sorted(everyone)[:2]
        assert open_loads(session, some) == {login: everyone[login] for login in some}
        assert open_loads(session, []) == {}
        assert open_loads(session, ["nobody.here"]) == {}


async def test_a_change_made_while_a_form_is_open_shows_after_it_closes(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Deaf:  # no change feed and no poll: only coming back to the screen can tell
        def __init__(self, *args, **kw) -> None:
            pass

        def start(self) -> None:
            pass

        def stop(self, join: float = 0) -> None:
            pass

    monkeypatch.setattr("cxdesk.app.ChangeWatcher", Deaf)
    monkeypatch.setattr("cxdesk.app.LIVE_POLL_S", 3600.0)
    app = demo_app(demo_copy)
    db = app.desk.db
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, FormScreen)
        TicketService(db, Settings(), ME).handle(Note(screen.detail.row.number, "noted meanwhile"))
        await pilot.press("escape")
        await settle(app, pilot)
        assert app.screen is screen
        assert "noted meanwhile" in text_of(screen.query_one("#timeline", Static))
