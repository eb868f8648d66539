"""Who gets a new ticket: each queue's mode — manual, round-robin, least-loaded, or skills.

Away and inactive agents are skipped. Load is the open tickets an agent holds, weighted by
priority (P1 3, P2 2, P3 1); it is read once per unit of work and kept up to date as tickets
are handed out and raised, so a batch of a thousand new tickets spreads as it would one by one
(but for what the service's commands change in a batch, written after its picks: an alert on
a case awaiting verification, a follow-up answer that closes one; the next batch sees them).
An ingest run keeps it from batch to batch while nothing else writes (`Assigned`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import Session, col, select

from cxdesk.models import Agent, AgentTeam, AssignmentMode, Queue, Role, Ticket
from cxdesk.models.tickets import OPEN_TICKET

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


@dataclass
class Assigned:
    """What an `Assigner` read, kept up as it hands tickets out: as true after its unit's
    commit as before, where nothing else changed who holds what. An ingest run keeps it
    between batches (`Memory`) so that each batch does not read every agent's load again.
    Not a round-robin queue's last assignee, read by each unit as ever: the database names
    it by opening time, which a batch of events out of order does not always pick last."""

    agents: dict[str, list[tuple[str, frozenset[str]]]] = field(default_factory=dict)  # by team
    load: dict[str, int] = field(default_factory=dict)  # by agent


class Assigner:
    def __init__(self, session: Session, known: Assigned | None = None) -> None:
        """`known`: what an earlier unit of work read and handed out, still true."""
        self.session = session
        known = known if known is not None else Assigned()
        self._agents, self._load = known.agents, known.load
        self._last: dict[str, str | None] = {}  # queue → last agent given a ticket
        # Priority changes to the loads not read yet, which a read in this unit, made before
        # it writes them, would miss.
        self._unread: dict[str, int] = {}

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

    def reweigh(self, login: str | None, before: str, after: str) -> None:
        """A ticket `login` holds went from priority `before` to `after`: the load that later
        tickets are handed out by follows, as it would had the change been written first."""
        if login is None:
            return
        change = LOAD_WEIGHT.get(after, 1) - LOAD_WEIGHT.get(before, 1)
        if login in self._load:
            self._load[login] += change
        else:
            self._unread[login] = self._unread.get(login, 0) + change

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
                .where(Ticket.assignee == login, OPEN_TICKET)
                .group_by(Ticket.priority)
            ).all()
            stored = sum(LOAD_WEIGHT.get(p, 1) * n for p, n in rows)
            self._load[login] = stored + self._unread.pop(login, 0)
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
