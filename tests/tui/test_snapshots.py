"""Screenshots of the main screens compared with accepted ones (pytest-textual-snapshot).

Queue, ticket, dashboard, help, the assign form, the SLA panel and a customer, at 80×24 and
120×40, in English and 简体中文. Deterministic: a small database built here the same way every
time (not the random demo), a fixed clock, a fixed acting agent (not the Unix login), no notices
waiting to pop up, cursors that do not blink. `pytest tests/test_snapshots.py --snapshot-update`
accepts a change after looking at it (the SVGs are in tests/__snapshots__/).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import TicketKind
from cxdesk.screens.ticket import TicketScreen
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    Assign,
    Claim,
    Link,
    Note,
    Pend,
    Resolve,
    Respond,
)
from cxdesk.workflow.loop.service import SYSTEM_ACTOR, TicketService
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.reads.notices import mark_notices_read
from tests.tui.snapshot_text import mismatch
from tests.tui.waiting import settle

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday 18:00 in Shanghai
ME = "li.na"
AGENTS = (  # login, name, role, teams
    ("li.na", "李娜 Li Na", "supervisor", ["care", "vip"]),
    ("zhang.wei", "张伟 Zhang Wei", "agent", ["care"]),
    ("wang.fang", "王芳 Wang Fang", "agent", ["care"]),
    ("emily.wu", "Emily Wu", "agent", ["care"]),
    ("chen.jing", "陈静 Chen Jing", "agent", ["vip"]),
)
ALERTS = (  # hours before NOW, kind, customer id, name, tier, nps, csat, comment
    (75, "complaint", "C1001", "刘洋", "silver", None, None, "快递晚了三天，没有任何通知。"),
    (50, "survey", "C1002", "Alice Wong", "silver", 3, None, "Refund still not received."),
    (30, "survey", "C1003", "赵磊", "silver", None, 1, "客服电话等了四十分钟。"),
    (20, "survey", "C1004", "孙芳", "gold", 2, None, "VIP 会员权益一直没有到账"),
    (6, "complaint", "C1005", "Brian Lee", "silver", None, None, "Charged twice this month"),
    (3, "complaint", "C1006", "徐静", "silver", None, None, "App 登录故障，无法使用"),
    (1.6, "survey", "C1007", "Grace Tan", "gold", 1, None, "Card blocked abroad, no help"),
)

HISTORY = (  # days before NOW, kind, channel, nps, csat, comment (markup in it stays text)
    (62, "survey", "app", 9, 5, "Fast and friendly."),
    (48, "survey", "phone", 8, 4, None),
    (35, "review", "web", 7, 3, "Good, but the [b]wait[/b] is long."),
    (24, "survey", "app", 8, None, None),
    (17, "survey", "phone", 7, 3, "等待时间变长了。"),
)


def build(path: Path) -> None:
    settings = Settings()
    db = Database.open(str(path), must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, settings)
        session.execute(sa.text("UPDATE queues SET assignment = 'manual'"))
        for login, name, role, teams in AGENTS:
            add_agent(
                session,
                login=login,
                display_name=name,
                role=role,
                teams=teams,
                skills=[],
                at=NOW - timedelta(days=30),
            )
    # Fourteen days of quiet feedback, so the dashboard's trend lines have a shape.
    for day in range(14):
        at = NOW - timedelta(days=13 - day, hours=3)
        Ingestor(db, settings, source="snap", clock=lambda at=at: at).ingest_event(
            FeedbackEventIn(
                event_id=f"quiet-{day}",
                kind="survey",
                occurred_at=at,
                customer=CustomerIn(id=f"Q{day:03d}", name=f"客户{day}"),
                nps=7 + day % 4,
                csat=3 + day % 3,
            ),
            "{}",
        )
    # A customer's answers over two months, before the dashboard's fortnight: their history.
    for n, (days, kind, channel, nps, csat, comment) in enumerate(HISTORY):
        at = NOW - timedelta(days=days)
        Ingestor(db, settings, source="snap", clock=lambda at=at: at).ingest_event(
            FeedbackEventIn(
                event_id=f"history-{n}",
                kind=kind,
                occurred_at=at,
                customer=CustomerIn(id="C1003", name="赵磊", tier="silver", phone="13800138000"),
                channel=channel,
                touchpoint="service",
                nps=nps,
                csat=csat,
                comment=comment,
            ),
            "{}",
        )
    tickets = []
    for n, (hours, kind, cid, name, tier, nps, csat, comment) in enumerate(ALERTS):
        at = NOW - timedelta(hours=hours)
        result = Ingestor(db, settings, source="snap", clock=lambda at=at: at).ingest_event(
            FeedbackEventIn(
                event_id=f"alert-{n}",
                kind=kind,
                occurred_at=at,
                customer=CustomerIn(id=cid, name=name, tier=tier, phone="13800138000"),
                channel="app",
                touchpoint="delivery" if n == 0 else "service",
                nps=nps,
                csat=csat,
                comment=comment,
            ),
            "{}",
        )
        assert result.ticket_id is not None, comment
        tickets.append(result.ticket_id)
    late, _refund, waited, vip, charged, _outage, _blocked = tickets

    def as_(login: str) -> TicketService:
        return TicketService(db, settings, login)

    def at(hours: float) -> datetime:
        return NOW - timedelta(hours=hours)

    as_("zhang.wei").handle(Claim(late, at=at(74)))
    as_("zhang.wei").handle(Respond(late, "您好，非常抱歉，我们正在联系快递公司核实。", at=at(73)))
    as_("zhang.wei").handle(
        Note(late, "Courier confirms the parcel sat in the depot for 2 days.", at=at(50))
    )
    as_("wang.fang").handle(Claim(waited, at=at(29)))
    as_("wang.fang").handle(
        Respond(waited, "Sorry for the wait — a callback is booked.", at=at(28))
    )
    as_("wang.fang").handle(Analyze(waited, root_cause="staffing", driver="wait_time", at=at(27)))
    as_("wang.fang").handle(
        Resolve(
            waited, code="explanation", root_cause="staffing", action="Callback made", at=at(26)
        )
    )
    as_("li.na").handle(Assign(vip, "chen.jing", at=at(19)))
    as_("chen.jing").handle(Respond(vip, "您好，权益已补发，请查收。", at=at(18)))
    as_("chen.jing").handle(Pend(vip, "waiting for the member system", at=at(17)))
    as_("li.na").handle(Assign(charged, "zhang.wei", at=at(5)))
    with db.write() as session:
        problem = TicketService(db, settings, SYSTEM_ACTOR).handle(
            OpenTicket(
                kind=TicketKind.PROBLEM,
                queue_id="aftersales",
                priority="P2",
                title="快递延误 Delivery delays",
                at=at(40),
            ),
            session,
        )
        session.flush()
        problem_id = problem.id
    assert problem_id is not None
    as_("li.na").handle(Link(late, problem_id, at=at(39)))
    with db.write() as session:  # away: shown so in the assign picker
        session.execute(sa.text("UPDATE agents SET away = true WHERE login = 'emily.wu'"))
    for login, *_ in AGENTS:  # nothing to pop up as a toast while the screenshot is taken
        mark_notices_read(db, login, NOW)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()


@pytest.fixture(scope="module")
def snapshot_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshots") / "desk.db"
    build(path)
    return path


def desk(path: Path, lang: str) -> CxdeskApp:
    return CxdeskApp(Database.open(str(path)), Settings(), ME, lambda: NOW, lang=lang)


async def settled(pilot: Pilot) -> None:
    app = pilot.app
    await settle(app, pilot)
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, Input | TextArea):
            widget.cursor_blink = False


def on_queue(*keys: str) -> Callable[[Pilot], object]:
    async def run(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press(*keys)
        await settled(pilot)

    return run


def on_ticket(number: int, *keys: str) -> Callable[[Pilot], object]:
    async def run(pilot: Pilot) -> None:
        await settled(pilot)
        app = pilot.app
        app.push_screen(TicketScreen(app.desk, number))  # type: ignore[attr-defined]
        await settled(pilot)
        await pilot.press(*keys)
        await settled(pilot)

    return run


SCREENS = {
    "queue": on_queue(),
    "ticket": on_ticket(1),  # the delivery complaint: customer, reply, note, problem link
    "dashboard": on_queue("d"),
    "help": on_queue("question_mark"),
    "assign_form": on_ticket(2, "a"),  # unassigned: the fuzzy agent picker with load and away
    "sla_panel": on_ticket(1, "t"),  # both clocks: answered, then resolved
    "customer": on_ticket(3, "u"),  # the long wait: two months of answers, a case in verify
    "inbox": on_queue("i"),  # every notification read: grouped by ticket, none marked
    "bulk": on_queue("asterisk", "b"),  # the page marked, the commands to apply to it
    "reports": on_queue("R", "4"),  # the drivers' Pareto as a table and its bars
}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(
    snap_compare, request: pytest.FixtureRequest, snapshot_db: Path, screen: str, size, lang: str
) -> None:
    same = snap_compare(desk(snapshot_db, lang), terminal_size=size, run_before=SCREENS[screen])
    assert same, mismatch(request)
