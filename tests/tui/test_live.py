"""Live refresh on both backends: the change feed wakes on commits from other connections and
processes, the watcher falls back and recovers, and an open TUI shows a CLI change by itself."""

from __future__ import annotations

import getpass
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import select

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import Ticket
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import TicketScreen
from cxdesk.screens.ticket_table import TicketTable
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.desk_commands import Note
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.ops.changes import ChangeWatcher, FeedUnavailable, PostgresFeed, open_feed
from tests.conftest import Run

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ME = getpass.getuser()
SETTINGS = Settings()


def complaint(db: Database, n: int) -> int:
    event = FeedbackEventIn(
        event_id=f"e{n}", kind="complaint", occurred_at=T0, customer=CustomerIn(id=f"c{n}")
    )
    accepted = Ingestor(db, SETTINGS, source="t", clock=lambda: T0).ingest_event(event, "{}")
    assert accepted.ticket_id is not None
    return accepted.ticket_id


@pytest.fixture
def desk(db: Database) -> Database:
    """The database with me as a supervisor of care, and two complaints waiting."""
    with db.write() as session:
        add_agent(
            session,
            login=ME,
            display_name="Me",
            role="supervisor",
            teams=["care"],
            skills=[],
            at=T0,
        )
    complaint(db, 1)
    complaint(db, 2)
    return db


def test_the_feed_wakes_on_commits_only(desk: Database, run: Run) -> None:
    feed = open_feed(desk)
    try:
        assert feed.wait(0.3) is False  # nothing happened
        TicketService(desk, SETTINGS, ME).handle(Note(1, "from this process, another connection"))
        assert feed.wait(5) is True
        assert feed.wait(0.3) is False  # told once, not again
        assert run("--db", desk.url, "ticket", "claim", "2")[0] == 0  # the CLI
        assert feed.wait(5) is True
        complaint(desk, 3)  # ingest
        assert feed.wait(5) is True
        with desk.session() as session:  # reading is not a change
            assert session.exec(select(Ticket)).all()
        assert feed.wait(0.3) is False
    finally:
        feed.close()


def test_no_feed_for_an_in_memory_database() -> None:
    db = Database("sqlite://")
    with pytest.raises(FeedUnavailable):
        open_feed(db)
    db.dispose()


@pytest.fixture
def pg_feed_db(pg_url: str) -> Iterator[Database]:
    db = Database.open(pg_url, must_exist=False)
    yield db
    db.dispose()


def down_within(feed: PostgresFeed, seconds: float) -> Exception:
    """Wait on `feed` until it raises, which must happen within `seconds`; what it raised."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        try:
            feed.wait(0.1)
        except Exception as exc:
            return exc
    raise AssertionError(f"the feed still counts as live after {seconds} s")


def test_a_feed_whose_connection_was_killed_is_down_within_the_ping_interval(
    pg_feed_db: Database,
) -> None:
    feed = PostgresFeed(pg_feed_db, ping_every=0.5)
    try:
        assert feed.wait(0.2) is False
        with pg_feed_db.engine.connect() as other:
            other.execute(
                sa.text("SELECT pg_terminate_backend(:pid)"),
                {"pid": feed._connection.info.backend_pid},
            )
        down_within(feed, 10.0)
    finally:
        feed.close()


def test_a_session_that_no_longer_listens_is_down_within_the_ping_interval(
    pg_feed_db: Database,
) -> None:
    """What a pooler in transaction mode does: the server session behind it forgot LISTEN."""
    feed = PostgresFeed(pg_feed_db, ping_every=0.5)
    try:
        assert feed.wait(0.6) is False  # a ping that finds the session listening passes
        feed._connection.execute("UNLISTEN *")
        assert "no longer listens" in str(down_within(feed, 10.0))
    finally:
        feed.close()


def test_the_listening_connection_sends_keepalives(pg_feed_db: Database) -> None:
    feed = PostgresFeed(pg_feed_db)
    try:
        parameters = feed._connection.info.get_parameters()
        assert {k: parameters.get(k) for k in ("keepalives", "keepalives_idle")} == {
            "keepalives": "1",
            "keepalives_idle": "30",
        }
    finally:
        feed.close()


def test_a_failed_listen_closes_its_connection(
    pg_feed_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    opened: list[psycopg.Connection] = []
    connect = psycopg.connect

    def recording_connect(*args, **kwargs):
        opened.append(connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(psycopg, "connect", recording_connect)
    monkeypatch.setattr("cxdesk.workflow.ops.changes.CHANNEL", "not a channel")
    with pytest.raises(psycopg.errors.SyntaxError):
        PostgresFeed(pg_feed_db)
    assert len(opened) == 1 and opened[0].closed


class FlakyFeed:
    def __init__(self, script: list[str]) -> None:
        self.script = script

    def wait(self, timeout: float) -> bool:
        step = self.script.pop(0) if self.script else "idle"
        if step == "change":
            return True
        if step == "break":
            raise OSError("server closed the connection")
        time.sleep(min(timeout, 0.05))
        return False

    def close(self) -> None:
        pass


def test_the_watcher_polls_while_the_feed_is_down_and_comes_back() -> None:
    events: list[str] = []
    feeds = iter([None, FlakyFeed(["change", "break"]), FlakyFeed([])])
    done = threading.Event()

    def opener(_db: Database) -> FlakyFeed:
        feed = next(feeds)
        if feed is None:
            raise OSError("connection refused")
        return feed

    def on_state(live: bool, why: str) -> None:
        events.append("live" if live else f"down: {why}")
        if events.count("live") == 2:
            done.set()

    watcher = ChangeWatcher(
        None,  # type: ignore[arg-type]
        on_change=lambda: events.append("change"),
        on_state=on_state,
        min_gap=0.01,
        retry=0.01,
        opener=opener,
    )
    watcher.start()
    assert done.wait(5)
    time.sleep(0.1)
    watcher.stop()
    assert events[0] == "down: change feed unavailable: connection refused"
    assert events[1:5] == [
        "live",
        "change",
        "down: change feed lost: server closed the connection",
        "live",
    ]
    assert events[5] == "change"  # after coming back: whatever was missed is reloaded


def test_an_unsupported_backend_says_so_once_and_stops() -> None:
    states: list[tuple[bool, str]] = []

    def opener(_db: Database):
        raise FeedUnavailable("no change feed for x")

    watcher = ChangeWatcher(
        None,  # type: ignore[arg-type]
        on_change=lambda: None,
        on_state=lambda live, why: states.append((live, why)),
        opener=opener,
    )
    watcher.start()
    watcher.stop(join=2)
    assert states == [(False, "no change feed for x")]


def table_row(app: CxdeskApp, ticket: str) -> list[str]:
    table = app.screen.query_one("#tickets", TicketTable)
    return [str(cell) for cell in table.get_row(ticket)]


async def wait_for(pilot, condition, timeout: float = 15.0) -> None:
    """Let the app run until `condition()` holds (a deadline for liveness, not a timing)."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout} s")
        await pilot.pause(0.05)


async def test_a_cli_change_shows_in_an_open_tui_by_the_feed(
    desk: Database, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cxdesk.app.LIVE_POLL_S", 3600.0)  # no poll: only the feed can tell
    app = CxdeskApp(desk, SETTINGS, ME, lambda: T0)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.changes_live)
        assert isinstance(app.screen, QueueScreen)
        await wait_for(pilot, lambda: app.screen.current is not None)
        assert table_row(app, "CX-000001")[4] == "—"
        assert run("--db", desk.url, "ticket", "assign", "1", ME)[0] == 0
        await wait_for(pilot, lambda: table_row(app, "CX-000001")[4] == ME)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.detail)
        screen = app.screen
        note = ("ticket", "note", str(screen.ticket_id), "--message", "from the CLI")
        assert run("--db", desk.url, *note)[0] == 0
        await wait_for(pilot, lambda: any(e.body == "from the CLI" for e in screen.detail.timeline))


async def test_capital_c_claims_the_next_case_and_opens_it(desk: Database) -> None:
    app = CxdeskApp(desk, SETTINGS, ME, lambda: T0)
    async with app.run_test(size=(140, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.current is not None)
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.detail)
        assert app.screen.detail.row.assignee == ME
        first = app.screen.detail.row.number
        await pilot.press("escape")
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(app.screen, TicketScreen) and app.screen.detail)
        assert app.screen.detail.row.number != first
        await pilot.press("escape")
        await pilot.press("C")  # nothing left: told so, the queue stays
        await wait_for(
            pilot,
            lambda: any("nothing to claim" in str(n.message) for n in app._notifications),
        )
        assert isinstance(app.screen, QueueScreen)
