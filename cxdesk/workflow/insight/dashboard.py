"""The supervisor's dashboard: SLA health per queue, breaches, agent load, metric alerts, trends;
and the agents' loads that order the assign picker's choices."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func
from sqlmodel import Session, col, select

from cxdesk.db import Database
from cxdesk.models import Agent, AgentTeam, FeedbackEvent, Queue, Ticket, TicketKind
from cxdesk.models.tickets import NOT_CLOSED
from cxdesk.workflow.access.org import list_agents
from cxdesk.workflow.access.permissions import Actor, visible_queues
from cxdesk.workflow.basics.statements import Unindexed, select_columns
from cxdesk.workflow.insight.metrics import day_starts, rate
from cxdesk.workflow.loop.assignment import LOAD_WEIGHT
from cxdesk.workflow.reads.queries import (
    TicketFilter,
    TicketRow,
    View,
    list_open_problems,
    list_tickets,
)


@dataclass(frozen=True)
class QueueHealth:
    queue: str
    name: str
    open: int
    ok: int
    at_risk: int
    breached: int
    stopped: int  # pending or verifying: no clock runs


@dataclass(frozen=True)
class AgentLoad:
    login: str
    name: str
    away: bool
    open: int
    load: int  # weighted by priority, as least-loaded assignment counts it


@dataclass(frozen=True)
class DayTrend:
    day: str
    nps: float | None
    csat: float | None
    closed_loop: float | None


@dataclass(frozen=True)
class Dashboard:
    queues: list[QueueHealth]
    breaches: list[TicketRow]
    agents: list[AgentLoad]
    metric_alerts: list[TicketRow]
    trend: list[DayTrend]


def build_dashboard(
    session: Session, viewer: Actor, now: datetime, timezone: str, days: int = 14
) -> Dashboard:
    scope = visible_queues(session, viewer)
    return Dashboard(
        queues=_queue_health(session, scope, now),
        breaches=list_tickets(
            session, TicketFilter(View.BREACHED, now=now, queues=scope), limit=10
        ),
        agents=_agent_load(session, viewer, scope),
        metric_alerts=list_open_problems(session, scope, limit=10),
        trend=_trend(session, scope, now, timezone, days),
    )


def read_dashboard(db: Database, viewer: Actor, now: datetime, timezone: str) -> Dashboard:
    """`build_dashboard` in a session of its own."""
    with db.session() as session:
        return build_dashboard(session, viewer, now, timezone)


def _queue_health(
    session: Session, scope: tuple[str, ...] | None, now: datetime
) -> list[QueueHealth]:
    due, risk = col(Ticket.sla_due), col(Ticket.sla_risk_at)

    def count(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    statement = (
        select_columns(
            Ticket.queue_id,
            func.count(),
            count(due < now),
            count(and_(risk <= now, due >= now)),
            count(due.is_(None)),
        )
        .where(NOT_CLOSED)
        .group_by(Ticket.queue_id)
    )
    if scope is not None:  # checked in the index of the open work, not sought in another
        statement = statement.where(Unindexed(col(Ticket.queue_id)).in_(scope))
    names = {q.id: q.name for q in session.exec(select(Queue))}
    rows = []
    for queue_id, total, breached, at_risk, stopped in session.exec(statement):
        ok = total - breached - at_risk - stopped
        rows.append(
            QueueHealth(
                queue_id, names.get(queue_id, queue_id), total, ok, at_risk, breached, stopped
            )
        )
    return sorted(rows, key=lambda r: r.queue)


def _agent_load(session: Session, viewer: Actor, scope: tuple[str, ...] | None) -> list[AgentLoad]:
    agents = select(Agent).where(col(Agent.active).is_(True)).order_by(col(Agent.login))
    if not viewer.sees_all_teams:
        agents = agents.where(
            col(Agent.login).in_(
                select(AgentTeam.agent_login).where(col(AgentTeam.team_id).in_(viewer.teams))
            )
        )
    loads = open_loads(session, queues=scope)
    return [
        AgentLoad(a.login, a.display_name, a.away, *loads.get(a.login, (0, 0)))
        for a in session.exec(agents)
    ]


def open_loads(
    session: Session,
    logins: Collection[str] | None = None,
    queues: Collection[str] | None = None,
) -> dict[str, tuple[int, int]]:
    """Per assignee: open tickets and their load weighted by priority (as least-loaded
    assignment counts it); agents without open tickets are absent. With `logins`, only
    theirs are counted (a picker of one team's agents need not read every open ticket);
    with `queues`, only the tickets of those (what the viewer may see)."""
    loads: dict[str, tuple[int, int]] = {}
    if logins is not None and not logins:
        return loads
    # Every agent's: read from the index of the open work alone (SQLite took the assignees'
    # index to have them in order, reading every ticket an agent ever had: 240 ms on a
    # million); a few agents' are sought by assignee.
    assignee = col(Ticket.assignee) if logins is not None else Unindexed(col(Ticket.assignee))
    query = select(assignee, Ticket.priority, func.count()).where(NOT_CLOSED, assignee.is_not(None))
    if queues is not None:
        query = query.where(Unindexed(col(Ticket.queue_id)).in_(sorted(set(queues))))
    if logins is not None:
        query = query.where(assignee.in_(sorted(set(logins))))
    for login, priority, n in session.exec(query.group_by(assignee, Ticket.priority)):
        assert login is not None  # the query leaves the unassigned out
        count, weight = loads.get(login, (0, 0))
        loads[login] = (count + n, weight + n * LOAD_WEIGHT.get(priority, 1))
    return loads


def read_assignable_agents(
    db: Database,
    team: str | None,
    *,
    besides: str | None = None,
    queues: Collection[str] | None = None,
) -> list[AgentLoad]:
    """The active agents of `team` but `besides` (the assignee already), lightest load first
    and away ones last: the assign picker's choices. Loads count the tickets of `queues`
    (what the viewer may see; None: all)."""
    with db.session() as session:
        agents = [
            a for a in list_agents(session) if team in a.teams and a.active and a.login != besides
        ]
        loads = open_loads(session, [a.login for a in agents], queues)
    choices = [
        AgentLoad(a.login, a.display_name, a.away, *loads.get(a.login, (0, 0))) for a in agents
    ]
    return sorted(choices, key=lambda a: (a.away, a.load, a.login))


def _trend(
    session: Session, scope: tuple[str, ...] | None, now: datetime, timezone: str, days: int
) -> list[DayTrend]:
    """NPS and CSAT of each day's feedback, and the closed-loop rate of its alert tickets."""
    starts = day_starts(now, timezone, days - 1)
    trend = []
    for start in starts:
        end = start + timedelta(days=1)
        nps, csat = col(FeedbackEvent.nps), col(FeedbackEvent.csat)
        n_nps, promoters, detractors, n_csat, satisfied = session.exec(
            select_columns(
                func.sum(case((nps.is_not(None), 1), else_=0)),
                func.sum(case((nps >= 9, 1), else_=0)),
                func.sum(case((nps <= 6, 1), else_=0)),
                func.sum(case((csat.is_not(None), 1), else_=0)),
                func.sum(case((csat >= 4, 1), else_=0)),
            ).where(
                col(FeedbackEvent.occurred_at) >= start,
                col(FeedbackEvent.occurred_at) < end,
                FeedbackEvent.kind != "followup",
            )
        ).one()
        tickets = select(
            func.count(),
            func.sum(
                case(
                    (
                        and_(
                            col(Ticket.verify_outcome) == "verified",
                            col(Ticket.resolved_at) <= Ticket.resolution_due,
                        ),
                        1,
                    ),
                    else_=0,
                )
            ),
        ).where(
            col(Ticket.opened_at) >= start,
            col(Ticket.opened_at) < end,
            col(Ticket.rule).is_not(None),
            Ticket.kind == TicketKind.CASE,
        )
        if scope is not None:
            tickets = tickets.where(col(Ticket.queue_id).in_(scope))
        opened, looped = session.exec(tickets).one()
        trend.append(
            DayTrend(
                start.strftime("%m-%d"),
                rate((promoters or 0) - (detractors or 0), n_nps or 0),
                rate(satisfied or 0, n_csat or 0),
                rate(looped or 0, opened or 0),
            )
        )
    return trend
