"""Who may do what to which ticket: roles, team scope, and the `pii` permission."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from cxdesk.config import Settings
from cxdesk.errors import NotFound, PermissionDenied
from cxdesk.i18n import N_, say
from cxdesk.models import AgentTeam, Queue, Role
from cxdesk.workflow.access.identity import SYSTEM_LOGIN as SYSTEM_LOGIN  # who the system acts as
from cxdesk.workflow.access.identity import ProcessUser
from cxdesk.workflow.access.org import get_agent, get_meta

AGENT_COMMANDS = frozenset(
    {"claim", "respond", "note", "pend", "resume", "analyze", "resolve", "escalate"}
)
SUPERVISOR_COMMANDS = AGENT_COMMANDS | {
    "assign",
    "deescalate",
    "reopen",
    "close",
    "link",
    "unlink",
    "merge",
    "open_problem",
    "apply",
}
# An ingest account feeds events in; it works no tickets.
_ROLE_COMMANDS: dict[str, frozenset[str]] = {
    Role.AGENT: AGENT_COMMANDS,
    Role.SUPERVISOR: SUPERVISOR_COMMANDS,
}
# Done by automation (ingest, the sweep) on behalf of the system, never by a person.
SYSTEM_COMMANDS = frozenset({"open", "attach", "verify", "expire", "sla", "survey"})
# How a refusal names a command whose name alone would not say what was refused.
ACTION_WORDS = {
    "open_problem": "open a problem",
    "apply": "apply a problem's resolution to its cases",
}


@dataclass(frozen=True)
class Actor:
    login: str
    role: str
    teams: frozenset[str]
    pii: bool  # may see customers' phone and email unmasked
    ingest: bool = False  # may feed events in and read the quarantine (`ingest_roles`)

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM_LOGIN, Role.ADMIN, frozenset(), pii=True, ingest=True)

    @property
    def is_system(self) -> bool:
        return self.login == SYSTEM_LOGIN

    @property
    def sees_all_teams(self) -> bool:
        return self.is_system or self.role == Role.ADMIN

    def may(self, command: str) -> bool:
        if self.is_system:
            return True
        if command in SYSTEM_COMMANDS:
            return False
        if self.role == Role.ADMIN:
            return True
        return command in _ROLE_COMMANDS.get(self.role, frozenset())

    def in_scope(self, team_id: str) -> bool:
        return self.sees_all_teams or team_id in self.teams

    def see(self, team_id: str, ref: str) -> None:
        """A ticket outside the actor's teams does not exist for them: the same answer as for
        a ticket that does not exist, asked before anything else can tell the two apart."""
        if not self.in_scope(team_id):
            raise NotFound(say("no ticket {ref}", ref=ref))

    def authorize(self, command: str, team_id: str, ref: str) -> None:
        """Refuse, with a reason, a command the role or the queue's team does not allow."""
        if not self.may(command):
            refusal = (
                N_("{login} ({role}) may not {command}; only automation may")
                if command in SYSTEM_COMMANDS
                else N_("{login} ({role}) may not {command}; only supervisors and admins may")
            )
            action = ACTION_WORDS.get(command, command)
            raise PermissionDenied(say(refusal, login=self.login, role=self.role, command=action))
        if not self.in_scope(team_id):
            raise PermissionDenied(
                say(
                    "{ref} belongs to team {team}, outside {login}'s teams ({teams})",
                    ref=ref,
                    team=team_id,
                    login=self.login,
                    teams=", ".join(sorted(self.teams)) or "none",
                )
            )

    def require_admin(self, what: str) -> None:
        """Work on the whole database (setup, copies, the sweep) is for admins and the system."""
        if not self.sees_all_teams:
            raise PermissionDenied(
                say(
                    "{login} ({role}) may not {what}; only admins may",
                    login=self.login,
                    role=self.role,
                    what=what,
                )
            )

    def require_ingest(self, what: str) -> None:
        """Feeding events in and reading raw input (unmasked) is for the `ingest_roles`."""
        if not self.ingest:
            raise PermissionDenied(
                say(
                    "{login} ({role}) may not {what}; only the ingest roles may "
                    "(`ingest_roles` in the config)",
                    login=self.login,
                    role=self.role,
                    what=what,
                )
            )


def resolve_actor(session: Session, as_user: str | None, user: ProcessUser) -> str:
    """The acting agent's login; `--as` is honoured for admins, the service account, and on
    demo databases. Nobody but the service account acts as the system."""
    if as_user == SYSTEM_LOGIN:
        raise PermissionDenied(
            say("{login} is the system's own name; no one acts as it", login=SYSTEM_LOGIN)
        )
    if user.is_service:
        return get_agent(session, as_user).login if as_user else SYSTEM_LOGIN
    login = user.login
    if as_user and as_user != login:
        is_demo = get_meta(session, "demo") == "true"
        if not is_demo and get_agent(session, login).role != Role.ADMIN:
            raise PermissionDenied(say("--as is only honoured for admins or on a demo database"))
        login = as_user
    return get_agent(session, login).login


def load_actor(session: Session, login: str, settings: Settings) -> Actor:
    """The active agent `login` with role, teams and permissions; `cxdesk` is the system."""
    if login == SYSTEM_LOGIN:
        return Actor.system()
    agent = get_agent(session, login)
    teams = frozenset(session.exec(select(AgentTeam.team_id).where(AgentTeam.agent_login == login)))
    return Actor(
        agent.login,
        agent.role,
        teams,
        pii=agent.role in settings.pii_roles,
        ingest=agent.role in settings.ingest_roles,
    )


def visible_queues(session: Session, actor: Actor) -> tuple[str, ...] | None:
    """The queues whose tickets `actor` may see; None means all of them."""
    if actor.sees_all_teams:
        return None
    return tuple(session.exec(select(Queue.id).where(col(Queue.team_id).in_(sorted(actor.teams)))))
