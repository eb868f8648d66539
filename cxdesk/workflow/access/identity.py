"""Who is acting: the person behind the process, never a variable they can set.

The login comes from the process's real uid. In the enforced deployment people run cxdesk
through `sudo -u cxdesk`: the process then runs as the service account that owns the data,
and the person is the one sudo names in `SUDO_UID`. That variable is believed only when the
real uid is the service account's, since anyone can set it in their own shell; the service
account itself, run without sudo (cron, a service unit), acts as the system.

The CLI asks this before any command runs (is it under sudo?), `--help` included, so nothing
of the database is imported here: which agent acts is `permissions.resolve_actor`'s.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cxdesk.errors import WorkflowError

# The name automation (ingest, the sweep) acts under, and the enforced deployment's service
# account: never an agent's login.
SYSTEM_LOGIN = "cxdesk"
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
