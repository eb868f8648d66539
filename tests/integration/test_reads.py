"""The read functions the screens call: each answers what the session-level reads answer, in a
short session of its own, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.models import Agent, Notification, Stage, Ticket
from cxdesk.workflow.access.org import all_queues
from cxdesk.workflow.access.permissions import load_actor, visible_queues
from cxdesk.workflow.insight.dashboard import (
    build_dashboard,
    open_loads,
    read_assignable_agents,
    read_dashboard,
)
from cxdesk.workflow.loop.assignment import LOAD_WEIGHT
from cxdesk.workflow.loop.templates import find_templates, render_template
from cxdesk.workflow.reads.detail import read_ticket_detail, ticket_detail
from cxdesk.workflow.reads.notices import (
    mark_notices_read,
    read_inbox,
    read_inbox_state,
    read_new_notices,
)
from cxdesk.workflow.reads.search import Search
from cxdesk.workflow.reads.templates import read_template_text, read_templates
from cxdesk.workflow.reads.tickets import (
    TicketFilter,
    View,
    count_tickets,
    list_tickets,
    read_ticket_count,
    read_ticket_page,
)
from cxdesk.workflow.reads.viewer import read_viewer
from tests.conftest import DEMO_NOW
from tests.integration.query_plans import plans_of, statements_run

AGENT = "zhang.wei"  # of the care team only
SUPERVISOR = "li.na"  # of vip only


def test_the_viewer_is_read_with_their_scope_and_every_queue(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    viewer = read_viewer(db, AGENT, Settings())
    with db.session() as session:
        actor = load_actor(session, AGENT, Settings())
        assert viewer.actor == actor
        assert viewer.queues == visible_queues(session, actor)
        assert viewer.every_queue.keys() == all_queues(session).keys()
    assert viewer.queues is not None and set(viewer.queues) < set(viewer.every_queue)
    with pytest.raises(NotFound):
        read_viewer(db, "nobody.here", Settings())


def test_notices_wait_in_the_inbox_until_marked_read(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    state = read_inbox_state(db, SUPERVISOR)
    assert state.unread > 0, "the demo leaves the supervisor notifications to read"
    waiting = read_new_notices(db, SUPERVISOR, 0)
    assert len(waiting) == state.unread and max(n.id for n in waiting) <= state.newest_id
    assert read_new_notices(db, SUPERVISOR, state.newest_id) == []  # nothing newer
    inbox = read_inbox(db, SUPERVISOR)
    # grouped by ticket: once a ticket's notifications end, it does not come back
    tickets = [n.ticket_id for n in inbox]
    groups = [t for i, t in enumerate(tickets) if i == 0 or tickets[i - 1] != t]
    assert len(groups) == len(set(groups))
    assert {n.id for n in waiting} <= {n.id for n in inbox}
    one = waiting[0]
    at = DEMO_NOW + timedelta(minutes=1)
    assert mark_notices_read(db, SUPERVISOR, at, [one.id]) == 1
    assert read_inbox_state(db, SUPERVISOR).unread == state.unread - 1
    assert mark_notices_read(db, SUPERVISOR, at) == state.unread - 1
    assert read_inbox_state(db, SUPERVISOR) == type(state)(0, state.newest_id)
    with db.session() as session:
        marked = session.exec(
            select(Notification.read_at).where(col(Notification.id).in_([n.id for n in waiting]))
        ).all()
    assert marked == [at] * len(waiting)


def test_marking_read_never_touches_another_agents_notices(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    theirs = read_new_notices(db, SUPERVISOR, 0)
    assert theirs
    assert mark_notices_read(db, AGENT, DEMO_NOW, [n.id for n in theirs]) == 0
    assert read_new_notices(db, SUPERVISOR, 0) == theirs


def test_an_idle_look_at_the_inbox_takes_no_write_lock(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The TUI asks every two seconds; the look must not queue behind writers."""
    db = Database.open(demo_copy)

    def no_write() -> None:
        raise AssertionError("took the write lock to look")

    monkeypatch.setattr(db, "write", no_write)
    state = read_inbox_state(db, AGENT)
    read_new_notices(db, AGENT, state.newest_id)
    read_inbox(db, AGENT)


def test_a_page_and_its_count_are_those_of_the_listing(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    viewer = read_viewer(db, AGENT, Settings())
    flt = TicketFilter(View.ALL, me=AGENT, now=DEMO_NOW, queues=viewer.queues)
    wordy = TicketFilter(View.ALL, now=DEMO_NOW, search=Search.parse("priority:P2 a"))
    with db.session() as session:
        for f in (flt, wordy):
            assert read_ticket_page(db, f, limit=7, offset=3) == list_tickets(
                session, f, limit=7, offset=3
            )
            assert read_ticket_count(db, f, cap=20) == count_tickets(session, f, cap=20)


def test_a_count_no_longer_wanted_is_not_made(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    assert read_ticket_count(db, TicketFilter(), cap=10, still_wanted=lambda: False) is None


def test_a_ticket_reads_as_its_detail_and_not_out_of_scope(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    agent = read_viewer(db, AGENT, Settings())
    with db.session() as session:
        mine = session.exec(select(Ticket.id).where(Ticket.queue_id == "billing")).first()
        theirs = session.exec(select(Ticket.id).where(Ticket.queue_id == "vip")).first()
        assert mine is not None and theirs is not None
        assert read_ticket_detail(db, mine, agent.actor) == ticket_detail(
            session, mine, agent.actor
        )
    with pytest.raises(NotFound):
        read_ticket_detail(db, theirs, agent.actor)


def test_the_dashboard_reads_as_built(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    supervisor = read_viewer(db, SUPERVISOR, Settings()).actor
    with db.session() as session:
        built = build_dashboard(session, supervisor, DEMO_NOW, "Asia/Shanghai")
    assert read_dashboard(db, supervisor, DEMO_NOW, "Asia/Shanghai") == built


@pytest.mark.parametrize("login", ["zhou.min", SUPERVISOR])
def test_the_dashboard_counts_every_open_ticket_from_an_index_alone(
    demo_copy: str, login: str
) -> None:
    """Queue health, the agents' loads and the open problems are what the tickets not closed
    say (a stage written by hand that no command writes among them), for an admin and for a
    supervisor of one team; on SQLite they are read from the index of the open work, never
    by reading every ticket. Problems closed since an open one was raised do not hide it
    (the panel took the newest fifty problems, then dropped the closed ones)."""
    db = Database.open(demo_copy)
    viewer = read_viewer(db, login, Settings()).actor
    with db.session() as session:
        raised = session.exec(select(Ticket).where(Ticket.kind == "problem")).first()
        assert raised is not None
        for stage, ticket in zip(
            ("NEW", "closed ", ""),
            session.exec(select(Ticket).where(Ticket.stage == Stage.NEW, Ticket.kind == "case")),
            strict=False,
        ):
            ticket.stage = stage
        session.add_all(
            Ticket(
                kind="problem",
                stage=Stage.CLOSED,
                queue_id=raised.queue_id,
                title=f"closed since {n}",
                opened_at=DEMO_NOW,
                updated_at=DEMO_NOW,
            )
            for n in range(60)
        )
    with db.session() as session:
        scope = visible_queues(session, viewer)
        open_tickets = [
            t
            for t in session.exec(select(Ticket)).all()
            if t.stage != Stage.CLOSED and (scope is None or t.queue_id in scope)
        ]
        with statements_run() as ran:
            dashboard = build_dashboard(session, viewer, DEMO_NOW, "Asia/Shanghai")
    health = {q.queue: (q.open, q.breached, q.at_risk, q.stopped, q.ok) for q in dashboard.queues}
    expected: dict[str, list[int]] = {}
    for t in open_tickets:
        counts = expected.setdefault(t.queue_id, [0, 0, 0, 0, 0])
        due, risk = t.sla_due, t.sla_risk_at
        state = (
            3
            if due is None
            else 1
            if due < DEMO_NOW
            else 2
            if risk is not None and risk <= DEMO_NOW
            else 4
        )
        counts[0] += 1
        counts[state] += 1
    assert health == {queue: tuple(counts) for queue, counts in expected.items()}
    loads = {a.login: (a.open, a.load) for a in dashboard.agents if a.open}
    expected_loads: dict[str, tuple[int, int]] = {}
    for t in open_tickets:
        if t.assignee is not None:
            n, weight = expected_loads.get(t.assignee, (0, 0))
            expected_loads[t.assignee] = (n + 1, weight + LOAD_WEIGHT.get(t.priority, 1))
    assert loads == expected_loads and loads
    problems = sorted((t.id for t in open_tickets if t.kind == "problem"), reverse=True)
    assert [row.number for row in dashboard.metric_alerts] == problems[:10]
    if login == "zhou.min":
        assert problems  # the demo's problems are open, under the closed ones above
    if db.is_sqlite:
        scanned = [
            (statement, step)
            for statement, steps in plans_of(db.engine, ran)
            for step in steps
            if step.startswith("SCAN tickets") and "ix_tickets_open_work" not in step
        ]
        assert scanned == []  # only the index of the open work is read through
        counts = [
            " ".join(steps)
            for statement, steps in plans_of(db.engine, ran)
            if "GROUP BY" in statement and "FROM tickets" in statement
        ]
        assert len(counts) == 2, counts  # queue health and the agents' loads
        assert all("USING INDEX ix_tickets_open_work" in plan for plan in counts), counts
    db.dispose()


def test_templates_read_and_render_as_in_a_session(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    with db.session() as session:
        templates = find_templates(session)
        ticket = session.exec(select(Ticket.id)).first()
        assert templates and ticket is not None
        rendered = render_template(session, templates[0].name, ticket, AGENT)
    assert read_templates(db) == templates
    assert read_template_text(db, templates[0].name, ticket, AGENT) == rendered


def test_the_assign_picker_offers_the_team_lightest_first_away_last(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    with db.write() as session:
        session.get_one(Agent, "chen.jing").away = True
    scope = ("aftersales",)
    choices = read_assignable_agents(db, "care", besides="liu.yang", queues=scope)
    logins = [c.login for c in choices]
    with db.session() as session:
        loads = open_loads(session, logins, scope)
    assert "liu.yang" not in logins and "zhao.li" not in logins  # the assignee; another team
    assert {"zhang.wei", "chen.jing", "xu.qing"} <= set(logins)
    assert logins[-1] == "chen.jing" and choices[-1].away
    here = [c for c in choices if not c.away]
    assert [c.load for c in here] == sorted(c.load for c in here)
    assert all((c.open, c.load) == loads.get(c.login, (0, 0)) for c in choices)


def test_one_odd_stored_notification_does_not_empty_the_inbox(demo_sqlite: Path) -> None:
    """Written outside cxdesk: its stored template is not JSON. It shows by its body."""
    db = Database.open(str(demo_sqlite))
    before = read_inbox(db, SUPERVISOR)
    odd = before[0].id
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE notifications SET said = 'not json' WHERE id = ?", (odd,)
        )
    after = read_inbox(db, SUPERVISOR)
    assert [n.id for n in after] == [n.id for n in before]
    shown = next(n for n in after if n.id == odd)
    assert shown.said is None and shown.body == before[0].body
    assert read_new_notices(db, SUPERVISOR, 0)
