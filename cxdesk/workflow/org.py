"""Teams, queues and agents: the configured organisation mirrored into the database."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, delete, select

from cxdesk.config import Settings
from cxdesk.errors import NotFound, PermissionDenied, WorkflowError
from cxdesk.models import Agent, AgentTeam, Meta, Queue, Role, Team
from cxdesk.workflow.audit import append_audit
from cxdesk.workflow.text import clean_text

if TYPE_CHECKING:
    from cxdesk.workflow.permissions import Actor

# The name automation (ingest, the sweep) acts under, and the enforced deployment's service
# account: never an agent's login.
SYSTEM_LOGIN = "cxdesk"
# What a Unix login may be, portably: so that no login can pass for another on screen.
_LOGIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


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
        row = session.get(Queue, queue_id) or Queue(
            id=queue_id, name=queue.name, team_id=queue.team
        )
        row.name, row.team_id = queue.name, queue.team
        row.calendar, row.policy, row.assignment = queue.calendar, queue.policy, queue.assignment
        session.add(row)


@dataclass(frozen=True)
class AgentInfo:
    login: str
    display_name: str
    role: str
    teams: list[str]
    skills: list[str]
    away: bool
    active: bool


def bootstrap_admin(session: Session, login: str, at: datetime) -> str | None:
    """On a database with no agents, the person creating it becomes its admin (the system,
    which is nobody, never does)."""
    if login == SYSTEM_LOGIN or session.exec(select(Agent.login).limit(1)).first() is not None:
        return None
    session.add(Agent(login=login, display_name=login, role=Role.ADMIN, created_at=at))
    session.flush()
    teams = list(session.exec(select(Team.id)))
    for team_id in teams:
        session.add(AgentTeam(agent_login=login, team_id=team_id))
    _audit_agent(session, login, at, login=login, role=Role.ADMIN, teams=sorted(teams), first=True)
    return login


def _audit_agent(session: Session, by: str, at: datetime, **detail: object) -> None:
    """Who gave whom which role and teams: changes to the agents table are audited too."""
    append_audit(session, at=at, actor=by, action="user", ticket_id=None, detail=detail)


def _skeleton(login: str) -> str:
    """A login as it reads at a glance: letters and digits, in one case."""
    return "".join(ch for ch in login.casefold() if ch.isalnum())


def add_agent(
    session: Session,
    *,
    by: Actor | None = None,
    login: str,
    display_name: str,
    role: str,
    teams: list[str],
    skills: list[str],
    at: datetime,
) -> Agent:
    """Add an agent, or update one with the same login; only admins manage agents."""
    if by is not None and not by.sees_all_teams:
        raise PermissionDenied(f"{by.login} ({by.role}) may not manage agents; only admins may")
    login = login.strip()
    if not _LOGIN.fullmatch(login):
        raise WorkflowError(
            f"login {login!r} must be the agent's Unix login: up to 32 ASCII letters, digits "
            "and . _ -, not starting with - or ."
        )
    if _skeleton(login) == SYSTEM_LOGIN:  # nor a look-alike: CXDESK, cx-desk, cxdesk.
        raise WorkflowError(f"login {login!r} is reserved for the system")
    try:
        Role(role)
    except ValueError:
        raise WorkflowError(
            f"role {role!r} is not one of {', '.join(r.value for r in Role)}"
        ) from None
    for team_id in teams:
        if session.get(Team, team_id) is None:
            known = ", ".join(session.exec(select(Team.id)).all())
            raise NotFound(f"no team {team_id!r} (teams: {known})")
    agent = session.get(Agent, login)
    before = None if agent is None else {"role": agent.role, "active": agent.active}
    agent = agent or Agent(login=login, display_name=login, created_at=at)
    agent.display_name = clean_text(display_name) or login
    agent.role = role
    agent.skills = sorted(set(skills))
    agent.active = True
    session.add(agent)
    session.exec(delete(AgentTeam).where(col(AgentTeam.agent_login) == login))
    for team_id in sorted(set(teams)):
        session.add(AgentTeam(agent_login=login, team_id=team_id))
    _audit_agent(
        session,
        by.login if by is not None else SYSTEM_LOGIN,
        at,
        login=login,
        role=role,
        teams=sorted(set(teams)),
        skills=agent.skills,
        before=before,
    )
    return agent


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


def set_away(session: Session, by: Actor, login: str, away: bool, at: datetime) -> None:
    """Mark an agent away (skipped by assignment) or back; their supervisors or an admin may."""
    agent = get_agent(session, login)
    teams = set(session.exec(select(AgentTeam.team_id).where(AgentTeam.agent_login == login)))
    allowed = (
        by.sees_all_teams
        or login == by.login
        or (by.role == Role.SUPERVISOR and bool(teams & by.teams))
    )
    if not allowed:
        raise PermissionDenied(
            f"{by.login} ({by.role}) may not mark {login} away; their team "
            "supervisors and admins may"
        )
    agent.away = away
    session.add(agent)
    _audit_agent(session, by.login, at, login=login, away=away)
