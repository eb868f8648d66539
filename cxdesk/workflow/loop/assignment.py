"""Who gets a new ticket: each queue's mode — manual, round-robin, least-loaded, or skills.

Away and inactive agents are skipped. Load is the open tickets an agent holds, weighted by
priority (P1 3, P2 2, P3 1); it is read once per unit of work and kept up to date as tickets
are handed out, so a batch of a thousand new tickets spreads as it would one by one.
"""

from __future__ import annotations

import re

from sqlalchemy import func
from sqlmodel import Session, col, select

from cxdesk.models import Agent, AgentTeam, AssignmentMode, Queue, Role, Stage, Ticket

LOAD_WEIGHT = {"P1": 3, "P2": 2, "P3": 1}
_CJK = re.compile("[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile("[A-Za-z]")


def language_of(text: str | None) -> str | None:
    """`zh` for text with Chinese characters, `en` for Latin letters, else None."""
    if not text:
        return None
    if _CJK.search(text):
        return "zh"
    return "en" if _LATIN.search(text) else None


class Assigner:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._agents: dict[str, list[tuple[str, frozenset[str]]]] = {}  # team → (login, skills)
        self._load: dict[str, int] = {}
        self._last: dict[str, str | None] = {}  # queue → last agent given a ticket

    def pick(
        self,
        queue: Queue,
        *,
        priority: str,
        language: str | None = None,
        channel: str | None = None,
    ) -> str | None:
        """The agent for a new ticket in `queue`, or None (manual queue, nobody available)."""
        if queue.assignment == AssignmentMode.MANUAL:
            return None
        agents = self._team(queue.team_id)
        if not agents:
            return None
        logins = [login for login, _ in agents]
        if queue.assignment == AssignmentMode.ROUND_ROBIN:
            last = self._last_assigned(queue.id)
            chosen = logins[(logins.index(last) + 1) % len(logins)] if last in logins else logins[0]
        else:
            pool = logins
            if queue.assignment == AssignmentMode.SKILLS:
                wanted = {s for s in (language, channel) if s}
                skilled = [login for login, skills in agents if wanted & skills]
                pool = skilled or logins
            chosen = min(pool, key=lambda login: (self._load_of(login), login))
        self._load[chosen] = self._load_of(chosen) + LOAD_WEIGHT.get(priority, 1)
        self._last[queue.id] = chosen
        return chosen

    def _team(self, team_id: str) -> list[tuple[str, frozenset[str]]]:
        """Active, present agents of the team (supervisors only if it has no agents)."""
        if team_id not in self._agents:
            rows = self.session.exec(
                select(Agent.login, Agent.role, Agent.skills)
                .join(AgentTeam, col(AgentTeam.agent_login) == Agent.login)
                .where(
                    AgentTeam.team_id == team_id,
                    col(Agent.active).is_(True),
                    col(Agent.away).is_(False),
                )
                .order_by(col(Agent.login))
            ).all()
            agents = [
                (login, frozenset(skills or []))
                for login, role, skills in rows
                if role == Role.AGENT
            ]
            self._agents[team_id] = agents or [
                (login, frozenset(skills or [])) for login, _, skills in rows
            ]
        return self._agents[team_id]

    def _load_of(self, login: str) -> int:
        if login not in self._load:
            rows = self.session.exec(
                select(Ticket.priority, func.count())
                .where(Ticket.assignee == login, Ticket.stage != Stage.CLOSED)
                .group_by(Ticket.priority)
            ).all()
            self._load[login] = sum(LOAD_WEIGHT.get(p, 1) * n for p, n in rows)
        return self._load[login]

    def _last_assigned(self, queue_id: str) -> str | None:
        if queue_id not in self._last:
            self._last[queue_id] = self.session.exec(
                select(Ticket.assignee)
                .where(Ticket.queue_id == queue_id, col(Ticket.assignee).is_not(None))
                .order_by(col(Ticket.opened_at).desc(), col(Ticket.id).desc())
                .limit(1)
            ).first()
        return self._last[queue_id]
