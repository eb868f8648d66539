"""What every command shares: the global options, the database and settings opened from them
on first use, the instants a command takes, and the exit codes.

Imported by `cxdesk --help` too, so the database layer and the config model (SQLAlchemy,
pydantic) are imported inside the methods that need them, not here.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from cxdesk.errors import CxdeskError

if TYPE_CHECKING:
    from cxdesk.config import Settings
    from cxdesk.db import Database
    from cxdesk.workflow.access.identity import ProcessUser
    from cxdesk.workflow.access.permissions import Actor
    from cxdesk.workflow.clocks.sla import ClockReader

EXIT_OK, EXIT_PARTIAL, EXIT_FATAL = 0, 1, 2
logger = logging.getLogger(__name__)


@dataclass
class Context:
    """Global options, and the database and settings opened from them on first use."""

    db_arg: str | None
    config_arg: str | None
    as_user: str | None
    now_arg: str | None
    lang: str | None = None  # the TUI's language; None: from the locale
    user: ProcessUser | None = None  # who runs this process; None: read on first use
    _db: Database | None = field(default=None, repr=False)
    _settings: Settings | None = field(default=None, repr=False)
    _viewer: Actor | None = field(default=None, repr=False)
    _clocks: ClockReader | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """`--db` (or `CXDESK_DB`), else the config's `[database] url`, else ./cxdesk.db."""
        from cxdesk.db import resolve_url

        if not self.db_arg and self.settings.database.url:  # db_arg holds CXDESK_DB too
            return resolve_url(self.settings.database.url)
        return resolve_url(self.db_arg)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from cxdesk import logs
            from cxdesk.config import load_settings
            from cxdesk.db import resolve_url, sqlite_path

            self._settings = load_settings(self.config_arg, sqlite_path(resolve_url(self.db_arg)))
            logs.follow_config(self._settings.log)
        return self._settings

    def process_user(self) -> ProcessUser:
        from cxdesk.workflow.access.identity import process_user

        if self.user is None:
            self.user = process_user()
        return self.user

    def own_file(self, path: str, what: str) -> None:
        """Under sudo the process may read and write what the service account may, so paths
        named by the person are refused: input comes on standard input, opened by their shell
        with their own rights."""
        if path != "-" and self.process_user().enforced:
            raise CxdeskError(
                f"{what}: cxdesk runs as the service account here, so it opens no file you "
                "name; give the input on standard input (`- < FILE`)"
            )

    def refuse_when_enforced(self, what: str) -> None:
        """Commands that write files the service account owns are for that account alone."""
        if self.process_user().enforced:
            raise CxdeskError(
                f"{what} writes files as the service account; its owner runs it without sudo"
            )

    def database(self, *, must_exist: bool = True) -> Database:
        if self._db is None:
            from cxdesk.db import Database

            self._db = Database.open(
                self.url,
                must_exist=must_exist,
                group=self.group(),
                key_file=self.settings.audit.key_file,
            )
        return self._db

    def close(self) -> None:
        """Close the database's pooled connections: left to the interpreter's exit, each
        is reported as an unclosed database (Python 3.13)."""
        if self._db is not None:
            self._db.dispose()

    def group(self) -> str | None:
        """The Unix group an SQLite database is shared through: `CXDESK_GROUP`, or the
        config's `[database] group`."""
        from cxdesk.db import sqlite_path

        if sqlite_path(self.url) is None:
            return None
        return os.environ.get("CXDESK_GROUP") or self.settings.database.group

    def clocks(self) -> ClockReader:
        """Reads tickets' running clocks in working time (queues loaded once)."""
        if self._clocks is None:
            from cxdesk.workflow.access.org import all_queues
            from cxdesk.workflow.clocks.sla import ClockReader, SlaPlanner

            with self.database().session() as session:
                queues = all_queues(session)
            self._clocks = ClockReader(SlaPlanner(self.settings), queues)
        return self._clocks

    def now(self) -> datetime:
        if self.now_arg is None:
            return datetime.now(UTC)
        return parse_instant(self.now_arg, self.settings.timezone, "--now")

    def local(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        from cxdesk.workflow.basics.instants import local_text

        return local_text(moment, self.settings.timezone)

    def actor(self) -> str:
        """The acting agent's login (the Unix login, or `--as` where allowed)."""
        return self.viewer().login

    def viewer(self) -> Actor:
        """The acting agent with role, teams and permissions; what they may see and do. Every
        command that reads or writes data asks for it, so a login that is not an active agent
        gets no further. `--now` backdates what is recorded: admins and demo databases only."""
        if self._viewer is None:
            from cxdesk.workflow.access.org import get_meta
            from cxdesk.workflow.access.permissions import SYSTEM_LOGIN, load_actor, resolve_actor

            user = self.process_user()
            with self.database().session() as session:
                viewer = load_actor(
                    session, resolve_actor(session, self.as_user, user), self.settings
                )
                if self.now_arg is not None and get_meta(session, "demo") != "true":
                    person = viewer
                    if self.as_user:  # the person behind --as, who chose the time
                        person = load_actor(
                            session, resolve_actor(session, None, user), self.settings
                        )
                    person.require_admin("use --now")
            self._viewer = viewer
            self.database().record_person(SYSTEM_LOGIN if user.is_service else user.login)
        return self._viewer


# The instants a command takes (--now, --since, --until): wide for rehearsals and reports,
# yet far enough from the ends of time that calendars, due times and windows around them
# stay representable.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant(text: str, timezone: str, what: str) -> datetime:
    from dateutil import parser

    try:
        moment = parser.isoparse(text)
    except ValueError as exc:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time ({exc})", param_hint=what
        ) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))
    try:
        within = EARLIEST_INSTANT <= moment.astimezone(UTC) < LATEST_INSTANT
    except OverflowError:
        within = False
    if not within:
        raise click.BadParameter(
            f"{text!r} is out of range (years {EARLIEST_INSTANT.year} to "
            f"{LATEST_INSTANT.year - 1})",
            param_hint=what,
        )
    return moment


def pass_context(command: Callable[..., Any]) -> Callable[..., Any]:
    """Hand a command this run's Context, and log which command runs: by its name only, as
    its arguments may hold a customer's words."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        logger.info("%s", ctx.command_path)
        return ctx.invoke(command, ctx.find_object(Context), *args, **kwargs)

    return run
