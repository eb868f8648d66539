"""Teams, queues and agents: the configured organisation mirrored into the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.errors import NotFound
from cxdesk.models import Agent, AgentTeam, Meta, Queue, Team


def sync_org(session: Session, settings: Settings) -> None:
    """Create or update the teams and queues the config defines (never deletes: tickets
    keep pointing at queues that left the config)."""
    for team_id, team in settings.teams.items():
        row = session.get(Team, team_id) or Team(id=team_id, name=team.name)
        row.name = team.name
        if team.supervisor is not None:
            row.supervisor = team.supervisor
        session.add(row)
    session.flush()
    for queue_id, queue in settings.queues.items():
        queue_row = session.get(Queue, queue_id) or Queue(
            id=queue_id, name=queue.name, team_id=queue.team
        )
        queue_row.name, queue_row.team_id = queue.name, queue.team
        queue_row.calendar, queue_row.policy = queue.calendar, queue.policy
        queue_row.assignment = queue.assignment
        session.add(queue_row)


@dataclass(frozen=True)
class AgentInfo:
    login: str
    display_name: str
    role: str
    teams: list[str]
    skills: list[str]
    away: bool
    active: bool


def list_agents(session: Session) -> list[AgentInfo]:
    teams: dict[str, list[str]] = {}
    for link in session.exec(select(AgentTeam).order_by(col(AgentTeam.team_id))):
        teams.setdefault(link.agent_login, []).append(link.team_id)
    return [
        AgentInfo(
            a.login, a.display_name, a.role, teams.get(a.login, []), a.skills, a.away, a.active
        )
        for a in session.exec(select(Agent).order_by(col(Agent.login)))
    ]


def get_agent(session: Session, login: str) -> Agent:
    agent = session.get(Agent, login)
    if agent is None or not agent.active:
        raise NotFound(
            f"{login!r} is not an active cxdesk agent; an admin can add them with "
            f"`cxdesk user add {login}`"
        )
    return agent


def all_queues(session: Session) -> dict[str, Queue]:
    """Every queue by id (a handful: read once per process or screen)."""
    return {queue.id: queue for queue in session.exec(select(Queue))}


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key) or Meta(key=key, value=value)
    row.value = value
    session.add(row)


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row else None
