"""Managing agents: adding them, changing their role and teams, marking them away; each
change made by someone allowed to, and audited with who made it."""

from __future__ import annotations

import re
from datetime import datetime

from sqlmodel import Session, col, delete, select

from cxdesk.errors import NotFound, PermissionDenied, WorkflowError
from cxdesk.models import Agent, AgentTeam, Role, Team
from cxdesk.workflow.access.identity import SYSTEM_LOGIN
from cxdesk.workflow.access.org import get_agent
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.audit.chain import append_audit
from cxdesk.workflow.basics.text import clean_text

# What a Unix login may be, portably: so that no login can pass for another on screen.
_LOGIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


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
