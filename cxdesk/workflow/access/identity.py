"""Who is acting: the person behind the process, never a variable they can set.

The login comes from the process's real uid. In the enforced deployment people run cxdesk
through `sudo -u cxdesk`: the process then runs as the service account that owns the data,
and the person is the one sudo names in `SUDO_UID`. That variable is believed only when the
real uid is the service account's, since anyone can set it in their own shell; the service
account itself, run without sudo (cron, a service unit), acts as the system.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlmodel import Session

from cxdesk.errors import PermissionDenied, WorkflowError
from cxdesk.models import Role
from cxdesk.workflow.access.org import SYSTEM_LOGIN, get_agent, get_meta

# The Unix account that owns the data in the enforced deployment. A fixed name, not a setting:
# whoever could name the service account could name themselves and be believed about SUDO_UID.
SERVICE_ACCOUNT = SYSTEM_LOGIN


@dataclass(frozen=True)
class ProcessUser:
    """The person running this process, and whether they came in through the service account."""

    login: str
    enforced: bool  # running as the service account on a person's behalf (under sudo)

    @property
    def is_service(self) -> bool:
        """The service account itself, not on anyone's behalf: it acts as the system."""
        return self.login == SERVICE_ACCOUNT and not self.enforced


def _login_of(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        raise WorkflowError(f"uid {uid} has no login name on this machine") from None


def process_user(
    uid: int | None = None,
    environ: Mapping[str, str] | None = None,
    login_of: Callable[[int], str] = _login_of,
) -> ProcessUser:
    """The person behind this process: by real uid, or by `SUDO_UID` under the service account."""
    environ = os.environ if environ is None else environ
    login = login_of(os.getuid() if uid is None else uid)
    sudo_uid = environ.get("SUDO_UID")
    if login != SERVICE_ACCOUNT or not sudo_uid:
        return ProcessUser(login, enforced=False)
    try:
        person = login_of(int(sudo_uid))
    except ValueError:
        raise WorkflowError(f"SUDO_UID {sudo_uid!r} is not a uid") from None
    if person == SERVICE_ACCOUNT:
        return ProcessUser(person, enforced=False)
    return ProcessUser(person, enforced=True)


def current_login() -> str:
    """The login of whoever runs cxdesk (the system's name for the service account)."""
    return process_user().login


def resolve_actor(session: Session, as_user: str | None, user: ProcessUser | None = None) -> str:
    """The acting agent's login; `--as` is honoured for admins, the service account, and on
    demo databases. Nobody but the service account acts as the system."""
    user = user or process_user()
    if as_user == SYSTEM_LOGIN:
        raise PermissionDenied(f"{SYSTEM_LOGIN} is the system's own name; no one acts as it")
    if user.is_service:
        return get_agent(session, as_user).login if as_user else SYSTEM_LOGIN
    login = user.login
    if as_user and as_user != login:
        is_demo = get_meta(session, "demo") == "true"
        if not is_demo and get_agent(session, login).role != Role.ADMIN:
            raise PermissionDenied("--as is only honoured for admins or on a demo database")
        login = as_user
    return get_agent(session, login).login
