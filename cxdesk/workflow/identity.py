"""Who is acting: the Unix login, or `--as` where that is allowed."""

from __future__ import annotations

from sqlmodel import Session

from cxdesk.errors import WorkflowError
from cxdesk.models import Role
from cxdesk.workflow.org import current_login, get_agent, get_meta


def resolve_actor(session: Session, as_user: str | None) -> str:
    """The acting agent's login; `--as` is honoured for admins and on demo databases."""
    login = current_login()
    if as_user and as_user != login:
        is_demo = get_meta(session, "demo") == "true"
        if not is_demo and get_agent(session, login).role != Role.ADMIN:
            raise WorkflowError("--as is only honoured for admins or on a demo database")
        login = as_user
    return get_agent(session, login).login
