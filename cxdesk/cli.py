"""The command line: parses, calls the workflow layer, prints. Nothing else lives here."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import SQLAlchemyError

from cxdesk.config import Settings, load_settings
from cxdesk.db import Database, resolve_url, sqlite_path
from cxdesk.errors import CxdeskError, Interrupted
from cxdesk.output import FORMATS, print_json, print_json_lines, print_rows, say
from cxdesk.workflow.intake.readers import BATCH_SIZE
from cxdesk.workflow.loop.commands import DESK_COMMANDS, TicketCommand
from cxdesk.workflow.ops.schema import upgrade_database

if TYPE_CHECKING:
    from cxdesk.workflow.access.identity import ProcessUser
    from cxdesk.workflow.access.permissions import Actor
    from cxdesk.workflow.audit.chain import Head
    from cxdesk.workflow.clocks.sla import ClockReader

EXIT_OK, EXIT_PARTIAL, EXIT_FATAL = 0, 1, 2
TICKET_COLUMNS = ("id", "priority", "stage", "queue", "assignee", "customer", "sla", "title")


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
        if not self.db_arg and self.settings.database.url:  # db_arg holds CXDESK_DB too
            return resolve_url(self.settings.database.url)
        return resolve_url(self.db_arg)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_arg, sqlite_path(resolve_url(self.db_arg)))
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
            from cxdesk.workflow.access.identity import resolve_actor
            from cxdesk.workflow.access.org import get_meta
            from cxdesk.workflow.access.permissions import SYSTEM_LOGIN, load_actor

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


pass_context = click.make_pass_decorator(Context)
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_arg",
    metavar="PATH_OR_URL",
    envvar="CXDESK_DB",
    help="SQLite file or SQLAlchemy URL [env CXDESK_DB; default ./cxdesk.db].",
)
@click.option(
    "--config",
    "config_arg",
    metavar="FILE",
    help="Settings file [env CXDESK_CONFIG; default cxdesk.toml beside the database].",
)
@click.option(
    "--as", "as_user", metavar="LOGIN", help="Act as another agent (admins, or on a demo database)."
)
@click.option("--now", "now_arg", metavar="ISO", help="Pretend it is this time (rehearsals).")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    help="Language of the TUI: en or zh (简体中文) [default: from LC_ALL, LC_MESSAGES, LANG].",
)
@click.version_option(package_name="cxdesk")
@click.pass_context
def cli(
    ctx: click.Context,
    db_arg: str | None,
    config_arg: str | None,
    as_user: str | None,
    now_arg: str | None,
    lang: str | None,
) -> None:
    """cxdesk: closed-loop customer-experience tickets in the terminal.

    Run without a command to open the queue as your Unix user.
    """
    ctx.obj = Context(db_arg, config_arg, as_user, now_arg, lang)
    ctx.call_on_close(ctx.obj.close)
    if ctx.obj.process_user().enforced:
        _enter_service_home(db_arg, config_arg)
    if ctx.invoked_subcommand is None:
        run_tui(ctx.obj)


def _enter_service_home(db_arg: str | None, config_arg: str | None) -> None:
    """Under sudo as the service account, the database and the config are the service's own:
    those in its home directory. A person who could name another would have the service
    account open, overwrite or copy whatever it may."""
    import pwd

    from cxdesk.workflow.access.identity import SERVICE_ACCOUNT

    named = [n for n in ("CXDESK_DB", "CXDESK_CONFIG", "CXDESK_GROUP") if os.environ.get(n)]
    if db_arg or config_arg or named:
        what = ", ".join(named) or ("--db" if db_arg else "--config")
        raise CxdeskError(
            f"{what}: under sudo cxdesk uses the service account's database and config only"
        )
    os.umask(0o077)  # the service account's files are its own
    os.chdir(pwd.getpwnam(SERVICE_ACCOUNT).pw_dir)


def run_tui(context: Context) -> None:
    db = context.database()
    actor = context.actor()
    from cxdesk.app import CxdeskApp, wall_clock
    from cxdesk.i18n import detect_language

    clock = wall_clock
    if context.now_arg is not None:  # a rehearsal: run from the given time onwards
        offset = context.now() - wall_clock()
        clock = lambda: wall_clock() + offset  # noqa: E731
    CxdeskApp(db, context.settings, actor, clock, lang=context.lang or detect_language()).run()


# -- setup --------------------------------------------------------------------------------


@cli.command()
@pass_context
def init(context: Context) -> None:
    """Create the database (or bring it up to date) and the configured teams and queues."""
    from cxdesk.workflow.access.org import sync_org
    from cxdesk.workflow.access.permissions import SYSTEM_LOGIN
    from cxdesk.workflow.access.staff import bootstrap_admin
    from cxdesk.workflow.loop.templates import seed_templates

    db = context.database(must_exist=False)
    _require_admin_once_staffed(context, db, "change the organisation (init)")
    keyed = upgrade_database(db)
    user = context.process_user()
    with db.write() as session:
        sync_org(session, context.settings)
        seed_templates(session, context.now())
        login = SYSTEM_LOGIN if user.is_service else user.login
        first_admin = bootstrap_admin(session, login, at=context.now())
    say(f"database ready: {db.display_url}")
    _say_keyed(db, keyed)
    if first_admin:
        say(f"{first_admin} is its first agent, an admin: add others with `cxdesk user add`")


@cli.group("db")
def db_group() -> None:
    """Schema migrations."""


@db_group.command("copy")
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="The new database (an empty PostgreSQL database, say).",
)
@pass_context
def db_copy(context: Context, target_url: str) -> None:
    """Copy this database, every row, into an empty database at TO (same schema)."""
    from cxdesk.workflow.ops.copy import copy_database

    context.refuse_when_enforced("db copy")
    context.viewer().require_admin("copy the database")
    target = Database.open(target_url, must_exist=False)
    try:
        copied = copy_database(
            context.database(),
            target,
            lambda table, rows: say(f"{table}: {rows:,} rows", err=True),
        )
    finally:
        target.dispose()
    say(f"copied {sum(copied.values()):,} rows into {target.display_url}")
    if target.audit_key is not None and target.audit_key.exists():
        say(f"its audit key: {target.audit_key.path}")


@db_group.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Apply every migration the database lacks (safe to run again)."""
    from cxdesk.db import current_revision, head_revision

    db = context.database(must_exist=False)
    _require_admin_once_staffed(context, db, "upgrade the database")
    before = current_revision(db.engine)
    keyed = upgrade_database(db)
    after = head_revision()
    say(
        f"schema {before or 'empty'} → {after}" if before != after else f"schema already at {after}"
    )
    _say_keyed(db, keyed)


def _say_keyed(db: Database, keyed: bool) -> None:
    if keyed and db.audit_key is not None:
        say(
            f"audit key created: {db.audit_key.path} (keep a copy where the database's "
            "editors cannot reach it; the audit chain cannot be written or verified without it)"
        )


@cli.command()
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same data.")
@click.option(
    "--size",
    type=click.Choice(["small", "large"]),
    default="small",
    show_default=True,
    help="large: 1,000,000 tickets, for benchmarks.",
)
@click.option("--no-tui", is_flag=True, help="Build the database and exit.")
@click.option("--force", is_flag=True, help="Replace an existing database file.")
@pass_context
def demo(context: Context, seed: int, size: str, no_tui: bool, force: bool) -> None:
    """Build a realistic demo database and open it."""
    from cxdesk.db import current_revision
    from cxdesk.workflow.demo.build import build_demo_database

    context.refuse_when_enforced("demo")
    path = sqlite_path(context.url)
    if path is not None and path.exists():
        if not force:
            raise CxdeskError(
                f"{path} already exists; use --force to replace it, or --db to choose another file"
            )
        if path.stat().st_size and not _is_demo_file(path):
            raise CxdeskError(f"{path} is not a demo database: --force replaces only a demo")
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = context.database(must_exist=False)
    if current_revision(db.engine) is not None:
        raise CxdeskError(f"{db.display_url} already holds a database; a demo needs an empty one")
    say(f"building the {size} demo in {db.display_url} …", err=True)
    summary = build_demo_database(db, context.settings, seed=seed, size=size, now=context.now())
    say(summary, err=True)
    if not no_tui:
        run_tui(context)


def _is_demo_file(path: Path) -> bool:
    """Whether the SQLite file at `path` is a database `cxdesk demo` built (read only)."""
    import sqlite3

    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "true"


@cli.command("sweep")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def sweep_command(context: Context, fmt: str) -> None:
    """One pass: at-risk marks, breach escalations, follow-up timeouts, metric alerts."""
    from cxdesk.workflow.sweep import sweep

    context.viewer().require_admin("sweep")
    report = sweep(context.database(), context.settings, context.now())
    _tell_skipped(report.skipped)
    _print_figures(report.as_dict(), fmt)


def _tell_skipped(skipped: dict[int, str]) -> None:
    """One line on stderr for each ticket the sweep passed over, saying why."""
    for reason in skipped.values():
        say(f"cxdesk: skipped {reason}", err=True)


def _print_figures(figures: dict[str, Any], fmt: str) -> None:
    """A summary (ingest, retry, sweep) as one JSON object or a two-column table."""
    if fmt == "json":
        print_json(figures)
        return
    rows = [
        {"figure": k, "count": ", ".join(v) or 0 if isinstance(v, list) else v}
        for k, v in figures.items()
    ]
    print_rows(rows, "table", ("figure", "count"))


@cli.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between sweeps.",
)
@pass_context
def watch(context: Context, interval: float) -> None:
    """Sweep every INTERVAL seconds until stopped (ctrl-c or SIGTERM end it cleanly)."""
    import signal
    import threading

    from cxdesk.workflow.audit.verify import chain_head, log_head
    from cxdesk.workflow.sweep import sweep

    context.viewer().require_admin("watch")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    db = context.database()
    while not stop.is_set():
        report = sweep(db, context.settings, context.now())
        _tell_skipped(report.skipped)
        acted = {k: v for k, v in report.as_dict().items() if v}
        if acted:
            say(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC sweep: {acted}")
        with db.session() as session:
            log_head(chain_head(session))  # an anchor kept outside the database
        stop.wait(interval)
    say("watch stopped", err=True)


@cli.command()
@click.argument("kind", type=click.Choice(["sla", "loop", "nps", "drivers", "backlog"]))
@click.option("--since", help="From this time (ISO 8601; tickets by opening, feedback by time).")
@click.option("--until", help="Up to this time, exclusive.")
@click.option("--queue", "queue_id", help="Only this queue's tickets.")
@click.option("--team", help="Only this team's queues.")
@format_option
@pass_context
def report(
    context: Context,
    kind: str,
    since: str | None,
    until: str | None,
    queue_id: str | None,
    team: str | None,
    fmt: str,
) -> None:
    """Loop metrics: sla, loop, nps (NPS/CSAT/CES), drivers (Pareto), backlog."""
    from cxdesk.workflow.access.permissions import visible_queues
    from cxdesk.workflow.insight import metrics

    tz = context.settings.timezone
    viewer = context.viewer()
    now = context.now()
    with context.database().session() as session:
        queues = metrics.report_queues(session, visible_queues(session, viewer), queue_id, team)
        period = metrics.Period(
            since=parse_instant(since, tz, "--since") if since else None,
            until=parse_instant(until, tz, "--until") if until else None,
            queues=queues,
        )
        rows = {
            "sla": lambda: metrics.sla_report(session, context.settings, period, now),
            "loop": lambda: metrics.loop_report(session, period),
            "nps": lambda: metrics.nps_report(session, period),
            "drivers": lambda: metrics.drivers_report(session, period),
            "backlog": lambda: metrics.backlog_report(session, period, now),
        }[kind]()
    print_rows(rows, fmt, list(rows[0]) if rows else ["figure"])  # type: ignore[arg-type]


@cli.group()
def followups() -> None:
    """Follow-up surveys sent after each resolution."""


@followups.command("export")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl", "json"]), default="csv", show_default=True
)
@click.option("--limit", type=click.IntRange(min=1), default=10_000, show_default=True)
@pass_context
def followups_export(context: Context, fmt: str, limit: int) -> None:
    """Print the due follow-ups (contacts masked per your role) and mark them sent."""
    from cxdesk.workflow.loop.followups import export_due

    viewer = context.viewer()
    with context.database().write() as session:
        rows = [row.__dict__ for row in export_due(session, viewer, context.now(), limit)]
    if fmt == "jsonl":
        print_json_lines(rows)
    else:
        print_rows(rows, fmt, list(rows[0]) if rows else ["ticket_id"])  # type: ignore[arg-type]


@cli.group()
def audit() -> None:
    """The append-only audit log."""


def _anchor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Head | None:
    from cxdesk.workflow.audit.chain import parse_anchor

    try:
        return parse_anchor(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit.command("verify")
@click.option(
    "--anchor",
    metavar="COUNT:DIGEST",
    callback=_anchor,
    help="A head printed by `audit head` (or logged by `watch`): rows removed since are found.",
)
@click.option(
    "--deep", is_flag=True, help="Also replay the log against every ticket and its timeline."
)
@pass_context
def audit_verify(context: Context, anchor: Head | None, deep: bool) -> None:
    """Recompute the keyed hash chain and the timeline digests it records; print OK, or what
    does not match (exit 1)."""
    from cxdesk.workflow.audit.chain import verify_chain
    from cxdesk.workflow.audit.verify import verify_deep

    context.viewer().require_admin("verify the audit log")
    with context.database().session() as session:
        check = verify_chain(session, anchor)
        # the rows vouch for what is replayed: deep goes on past timeline problems only,
        # and names the ticket they are on
        deep_check = verify_deep(session) if deep and check.first_bad is None else None
    problem = (deep_check.problem if deep_check else None) or check.problem
    if problem is not None:
        say(problem)
        sys.exit(EXIT_PARTIAL)
    unkeyed = f"; {check.unkeyed:,} written before the chain was keyed" if check.unkeyed else ""
    say(
        f"OK: {check.rows:,} audit rows, chain intact{unkeyed}; "
        f"{check.timeline:,} timeline entries match"
    )
    if anchor is not None:
        say(f"OK: the chain holds the anchor {anchor.rows:,}:{anchor.digest[:12]}…")
    if deep_check is not None:
        before = f" ({deep_check.uncovered:,} opened before the chain was keyed, not replayed)"
        say(
            f"OK: {deep_check.tickets:,} tickets as the audit log left them"
            + (before if deep_check.uncovered else "")
        )


@audit.command("head")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_context
def audit_head(context: Context, fmt: str) -> None:
    """Print the chain's row count and last digest (COUNT:DIGEST): keep it elsewhere, and
    `audit verify --anchor` it later."""
    from cxdesk.workflow.audit.verify import chain_head

    context.viewer().require_admin("read the audit log's head")
    with context.database().session() as session:
        head = chain_head(session)
    if fmt == "json":
        print_json({"rows": head.rows, "digest": head.digest, "anchor": str(head)})
    else:
        say(str(head))


@cli.group()
def template() -> None:
    """Reply templates: `{customer.name}`, `{ticket.id}`, `{agent.name}` … are filled in."""


@template.command("list")
@click.option("--search", help="Only templates whose name, title or text contain this.")
@format_option
@pass_context
def template_list(context: Context, search: str | None, fmt: str) -> None:
    """List (or search) the templates."""
    from cxdesk.workflow.loop.templates import find_templates

    context.viewer()
    with context.database().session() as session:
        rows = [t.__dict__ for t in find_templates(session, search)]
    print_rows(rows, fmt, ("name", "title", "body"))  # type: ignore[arg-type]


@template.command("add")
@click.argument("name")
@click.option("--title", default="", help="A one-line description.")
@click.option("--body", required=True, help="The text (- reads it from standard input).")
@pass_context
def template_add(context: Context, name: str, title: str, body: str) -> None:
    """Add or replace a template (supervisors and admins)."""
    from cxdesk.workflow.loop.templates import save_template

    by = context.viewer()
    with context.database().write() as session:
        save_template(
            session, by, name=name, title=title, body=_stdin_if_dash(body), at=context.now()
        )
    say(f"template {name} saved")


@cli.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup(context: Context, target: Path) -> None:
    """Copy the SQLite database to TARGET, consistently, while others keep working."""
    from cxdesk.workflow.ops.backup import backup_sqlite

    context.refuse_when_enforced("backup")
    context.viewer().require_admin("back up the database")
    size = backup_sqlite(context.database(), target)
    say(f"backup written: {target} ({size:,} bytes, integrity ok)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of a feedback event (what `ingest` accepts)."""
    from cxdesk.workflow.intake.events import FeedbackEventIn

    print_json(FeedbackEventIn.model_json_schema())


def _require_admin_once_staffed(context: Context, db: Database, what: str) -> None:
    """Setting up a new database is for whoever creates it; once it has agents, for admins."""
    from cxdesk.db import current_revision

    if current_revision(db.engine) is None:
        return
    with db.session() as session:
        from sqlmodel import select

        from cxdesk.models import Agent

        staffed = session.exec(select(Agent.login).limit(1)).first() is not None
    if staffed:
        context.viewer().require_admin(what)


# -- tickets ------------------------------------------------------------------------------


@cli.group()
def ticket() -> None:
    """List, show and work tickets."""


@ticket.command("list")
@click.option("--stage", help="Only this stage.")
@click.option("--queue", help="Only this queue.")
@click.option("--assignee", help="Only tickets assigned to this login.")
@click.option(
    "--view",
    type=click.Choice(
        ["mine", "unassigned", "at_risk", "breached", "escalated", "verifying", "all"]
    ),
    default="all",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@format_option
@pass_context
def ticket_list(
    context: Context,
    stage: str | None,
    queue: str | None,
    assignee: str | None,
    view: str,
    limit: int,
    fmt: str,
) -> None:
    """List tickets, most urgent SLA first (newest first in the `all` view)."""
    from cxdesk.models import Stage
    from cxdesk.workflow.access.permissions import visible_queues
    from cxdesk.workflow.reads.queries import TicketFilter, View, list_tickets

    if stage is not None and stage not in {s.value for s in Stage}:
        raise click.BadParameter(
            f"{stage!r} is not one of {', '.join(Stage)}", param_hint="--stage"
        )
    db = context.database()
    now = context.now()
    viewer = context.viewer()
    with db.session() as session:
        scope = visible_queues(session, viewer)
        flt = TicketFilter(View(view), stage, queue, assignee, viewer.login, now, scope)
        rows = list_tickets(session, flt, limit=limit)
    out = [_ticket_json(context, row, now) for row in rows]
    print_rows(out, fmt, TICKET_COLUMNS)  # type: ignore[arg-type]


def _ticket_json(context: Context, row: Any, now: datetime) -> dict[str, Any]:
    """A ticket row as the CLI prints it, with the running clock in working time."""
    from cxdesk.workflow.clocks.sla import format_remaining

    data = row.to_json()
    reading = context.clocks().read(row.queue, row.priority, row.sla_due, row.sla_risk_at, now)
    data["sla_state"] = reading.state.value if reading else None
    data["sla"] = format_remaining(reading)
    data["customer"] = row.customer_name or row.customer_id
    return data


@ticket.command("show")
@click.argument("ticket_id")
@format_option
@pass_context
def ticket_show(context: Context, ticket_id: str, fmt: str) -> None:
    """Show one ticket with its customer and timeline."""
    from cxdesk.workflow.basics.refs import parse_ref
    from cxdesk.workflow.reads.queries import ticket_detail

    number = parse_ref(ticket_id)
    viewer = context.viewer()
    with context.database().session() as session:
        detail = ticket_detail(session, number, viewer)
    if fmt == "table":
        _print_ticket(context, detail)
        return
    data: dict[str, Any] = detail.row.to_json()
    data.update(
        customer=None if detail.customer is None else detail.customer.__dict__,
        links=detail.links,
        resolution=detail.resolution,
        verify_outcome=detail.verify_outcome,
        reopen_count=detail.reopen_count,
        timeline=[
            {
                "at": t.at.isoformat(),
                "actor": t.actor,
                "kind": t.kind,
                "body": t.body,
                "event_id": t.event_id,
            }
            for t in detail.timeline
        ],
    )
    if fmt == "json":
        print_json(data)
    else:
        print_rows(
            [
                dict(data, at=t["at"], actor=t["actor"], entry=t["kind"], body=t["body"])
                for t in data["timeline"]
            ],
            "csv",
            ("id", "stage", "priority", "at", "actor", "entry", "body"),
        )


def desk_command(kind: type[TicketCommand]) -> None:
    """`cxdesk ticket NAME TICKET …` for one of the desk's commands, its arguments and options
    rendered from the command's declared inputs; then the ticket as it now is."""

    @pass_context
    def run(context: Context, ticket_id: str, version: int | None, fmt: str, **given: Any) -> None:
        from cxdesk.workflow.basics.refs import parse_ref
        from cxdesk.workflow.loop.commands import command_from_values
        from cxdesk.workflow.loop.service import TicketService
        from cxdesk.workflow.loop.templates import template_text
        from cxdesk.workflow.reads.queries import ticket_detail

        number = parse_ref(ticket_id)
        if any(i.kind == "message" for i in kind.INPUTS):
            if (given["message"] is None) == (given["template"] is None):
                raise click.UsageError("give either --message or --template")
            if given["message"] is not None:
                given["message"] = _stdin_if_dash(given["message"])
        db, actor = context.database(), context.actor()
        fill = functools.partial(template_text, db, ticket_id=number, actor=actor)
        command = command_from_values(
            kind, number, given, version=version, at=context.now(), fill_template=fill
        )
        TicketService(db, context.settings, actor).handle(command)
        with db.session() as session:
            row = ticket_detail(session, number, context.viewer()).row
        if fmt == "json":
            print_json(_ticket_json(context, row, context.now()))
        else:
            say(
                f"{row.id} {kind.VERB}: {row.stage}, {row.priority}, assignee "
                f"{row.assignee or '—'}, escalation {row.escalation_level}, "
                f"version {row.version}"
            )

    for spec in reversed(kind.INPUTS):
        if spec.kind == "message":
            run = click.option("--template", help="A template to fill in (see `template list`).")(
                run
            )
            run = click.option("--message", help=spec.help)(run)
        elif spec.argument:
            run = click.argument(spec.name, metavar=spec.metavar or spec.name.upper())(run)
        else:
            choice = click.Choice(spec.choices) if spec.choices else None
            run = click.option(
                spec.option, spec.name, type=choice, required=spec.required, help=spec.help
            )(run)
    run = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")(
        run
    )
    run = click.option(
        "--version",
        "version",
        type=int,
        help="Fail unless the ticket is still at this version (optimistic lock).",
    )(run)
    run = click.argument("ticket_id", metavar="TICKET")(run)
    ticket.command(kind.NAME, help=kind.__doc__)(run)


for _kind in DESK_COMMANDS:
    desk_command(_kind)


@ticket.command("claim-next")
@click.option("--queue", help="Only from this queue (default: every queue you work).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def ticket_claim_next(context: Context, queue: str | None, fmt: str) -> None:
    """Take the most urgent unassigned open case: nearest SLA due, then priority, then oldest."""
    from cxdesk.workflow.loop.commands import ClaimNext
    from cxdesk.workflow.loop.service import TicketService
    from cxdesk.workflow.reads.queries import ticket_detail

    service = TicketService(context.database(), context.settings, context.actor())
    claimed = service.handle(ClaimNext(queue=queue, at=context.now()))
    with context.database().session() as session:
        row = ticket_detail(session, claimed.id, context.viewer()).row
    if fmt == "json":
        print_json(_ticket_json(context, row, context.now()))
    else:
        say(
            f"{row.id} claimed: {row.stage}, {row.priority}, {row.queue}, assignee "
            f"{row.assignee}, version {row.version}"
        )


def _stdin_if_dash(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _print_ticket(context: Context, detail: Any) -> None:
    row = detail.row
    say(f"{row.id}  {row.priority}  {row.stage}  {row.queue}  {row.title}", bold=True)
    customer = detail.customer
    if customer is not None:
        say(
            f"customer {customer.id} {customer.name or ''} tier "
            f"{customer.tier or '-'} {customer.phone or ''} {customer.email or ''}"
        )
    say(
        f"assignee {row.assignee or '-'}  escalation {row.escalation_level}  "
        f"first response due {context.local(row.first_response_due)}  "
        f"resolution due {context.local(row.resolution_due)}"
    )
    for item in detail.timeline:
        say(
            f"{context.local(item.at)}  {item.actor:<12} {item.kind:<10} {item.body}",
            multiline=True,
        )


# -- ingest and rules ---------------------------------------------------------------------


class _IngestGroup(click.Group):
    """`cxdesk ingest FILE` runs an ingest; `cxdesk ingest quarantine …` manages the rest."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[override]
        if args and args[0] not in self.commands:
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)


INPUT_FORMATS = ("jsonl", "csv")
SUMMARY_FORMATS = ("table", "json")


@cli.group(cls=_IngestGroup, invoke_without_command=False)
def ingest() -> None:
    """Feed feedback events in: `cxdesk ingest FILE|- [--format jsonl|csv] [--format json]`."""


@ingest.command("run", hidden=True)
@click.argument("source", metavar="FILE|-")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(INPUT_FORMATS + SUMMARY_FORMATS),
    help="Input jsonl|csv (default: from the file name; jsonl for -) and/or the "
    "summary table|json; may be given twice.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=100_000),
    default=BATCH_SIZE,
    show_default=True,
    help="Records per transaction.",
)
@pass_context
def ingest_run(context: Context, source: str, formats: tuple[str, ...], batch: int) -> None:
    """Ingest FILE (or - for standard input)."""
    from cxdesk.workflow.intake.feed import FeedSource
    from cxdesk.workflow.intake.ingest import Ingestor

    input_format, summary_format = _split_formats(formats, source)
    context.own_file(source, "ingest")
    context.viewer().require_ingest("ingest")
    db = context.database()
    name = "stdin" if source == "-" else str(Path(source).resolve())
    feed = FeedSource(None if source == "-" else source, input_format)
    ingestor = Ingestor(db, context.settings, source=name, clock=context.now, batch_size=batch)
    try:
        summary = ingestor.run_feed(feed)
    except KeyboardInterrupt:
        _print_figures(ingestor.summary.as_dict(), summary_format)
        raise Interrupted(
            "interrupted: the figures are the batches stored before ctrl+c; the records "
            "after them were not stored (ingesting them again is safe)"
        ) from None
    _print_figures(summary.as_dict(), summary_format)
    _warn_rule_failures(ingestor)
    sys.exit(EXIT_PARTIAL if summary.quarantined else EXIT_OK)


def _warn_rule_failures(ingestor: Any) -> None:
    """Rules that failed on some events (counted as not fired for them), on standard error."""
    for failure in ingestor.rule_failures.values():
        say(f"cxdesk: warning: {failure}", err=True)


def _split_formats(formats: tuple[str, ...], source: str) -> tuple[str, str]:
    inputs = [f for f in formats if f in INPUT_FORMATS]
    outputs = [f for f in formats if f in SUMMARY_FORMATS]
    if len(inputs) > 1 or len(outputs) > 1:
        raise click.BadParameter(
            "give at most one input and one summary format", param_hint="--format"
        )
    guessed = "csv" if source.lower().endswith(".csv") else "jsonl"
    return (inputs[0] if inputs else guessed), (outputs[0] if outputs else "table")


@ingest.group("quarantine")
def quarantine() -> None:
    """Records ingest could not accept: inspect them, and retry after fixing the cause."""


@quarantine.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved records.")
@click.option("--source", help="Only records from this source (as listed).")
@format_option
@pass_context
def quarantine_list(context: Context, include_resolved: bool, source: str | None, fmt: str) -> None:
    """List quarantined records, oldest first."""
    from cxdesk.workflow.intake.quarantine import list_quarantine

    context.viewer().require_ingest("read the quarantine")
    with context.database().session() as session:
        items = list_quarantine(session, include_resolved=include_resolved, source=source)
    rows = [
        dict(
            item.__dict__,
            received_at=context.local(item.received_at),
            retried_at=context.local(item.retried_at),
        )
        for item in items
    ]
    print_rows(rows, fmt, ("id", "source", "line", "reason", "resolved"))  # type: ignore[arg-type]


@quarantine.command("show")
@click.argument("number", type=int)
@format_option
@pass_context
def quarantine_show(context: Context, number: int, fmt: str) -> None:
    """Show one quarantined record with its raw text."""
    from cxdesk.workflow.intake.quarantine import get_quarantined

    context.viewer().require_ingest("read the quarantine")
    with context.database().session() as session:
        item = get_quarantined(session, number)
    if fmt == "table":
        say(f"#{item.id}  {item.source}:{item.line}  {'resolved' if item.resolved else 'open'}")
        say(item.reason)
        say(item.raw, multiline=True)
    else:
        print_rows([item.__dict__], fmt, ("id", "source", "line", "reason", "raw"))  # type: ignore[arg-type]


@quarantine.command("retry")
@click.argument("numbers", type=int, nargs=-1)
@click.option("--all", "retry_all", is_flag=True, help="Retry every unresolved record.")
@click.option(
    "--from-source", is_flag=True, help="Read the records again from their (fixed) source file."
)
@click.option("--format", "fmt", type=click.Choice(SUMMARY_FORMATS), default="table")
@pass_context
def quarantine_retry(
    context: Context, numbers: tuple[int, ...], retry_all: bool, from_source: bool, fmt: str
) -> None:
    """Ingest quarantined records again; those that pass are marked resolved."""
    from cxdesk.workflow.intake.ingest import Ingestor, IngestSummary
    from cxdesk.workflow.intake.quarantine import records_to_retry

    if not numbers and not retry_all:
        raise click.UsageError("name the records to retry, or give --all")
    if from_source:
        context.refuse_when_enforced("retry --from-source")
    context.viewer().require_ingest("retry quarantined records")
    db = context.database()
    with db.session() as session:
        groups = records_to_retry(
            session, None if retry_all else list(numbers), from_source=from_source
        )
    total = IngestSummary()
    for source, records in groups.items():
        ingestor = Ingestor(db, context.settings, source=source, clock=context.now)
        for key, value in ingestor.run(records).as_dict().items():
            setattr(total, key, getattr(total, key) + value)
        _warn_rule_failures(ingestor)
    _print_figures(total.as_dict(), fmt)
    sys.exit(EXIT_PARTIAL if total.quarantined else EXIT_OK)


@cli.group()
def rules() -> None:
    """Alert rules: check them, and try them on a file without changing anything."""


@rules.command("check")
@pass_context
def rules_check(context: Context) -> None:
    """Compile every configured rule; report each error with the rule's name and position, and
    warn of conditions that can fail on an event (a null fact, a missing list item)."""
    from cxdesk.workflow.intake.rule_risks import rule_risks
    from cxdesk.workflow.intake.rules import rule_errors

    errors = rule_errors(context.settings.rules)
    for error in errors:
        say(f"cxdesk: error: {error}", err=True)
    if errors:
        sys.exit(EXIT_FATAL)
    for risk in rule_risks(context.settings.rules):
        say(f"cxdesk: warning: {risk}", err=True)
    say(f"ok: {len(context.settings.rules)} rules")


@rules.command("test")
@click.argument("source", metavar="FILE|-")
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice((*INPUT_FORMATS, "table", "json", "csv")),
    help="Input jsonl|csv and/or output table|json|csv.",
)
@pass_context
def rules_test(context: Context, source: str, formats: tuple[str, ...]) -> None:
    """Dry run: for each record, the rules that fire and the ticket that would result."""
    from cxdesk.workflow.intake.dry_run import dry_run

    inputs = [f for f in formats if f in INPUT_FORMATS]
    outputs = [f for f in formats if f not in INPUT_FORMATS]
    input_format = inputs[0] if inputs else ("csv" if source.lower().endswith(".csv") else "jsonl")
    context.own_file(source, "rules test")
    database = None
    path = sqlite_path(context.url)
    if path is None or path.exists():
        database = context.database()
        context.viewer().require_ingest("test rules against the stored customers and cases")
    stream = sys.stdin if source == "-" else open(source, encoding="utf-8", newline="")  # noqa: SIM115
    with stream:
        rows = [
            row.__dict__
            for row in dry_run(stream, input_format, context.settings, database, context.now())
        ]
    print_rows(
        rows,
        outputs[0] if outputs else "table",  # type: ignore[arg-type]
        ("line", "event_id", "customer_id", "fired", "outcome"),
    )


# -- users --------------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """Agents: who may use cxdesk, with which role, in which teams."""


@user.command("add")
@click.argument("login")
@click.option("--name", help="Display name (default: the login).")
@click.option(
    "--role",
    type=click.Choice(["agent", "supervisor", "admin", "ingest"]),
    default="agent",
    show_default=True,
)
@click.option("--team", "teams", multiple=True, help="A team id; repeat for several.")
@click.option("--skill", "skills", multiple=True, help="A skill (language, channel); repeatable.")
@pass_context
def user_add(
    context: Context,
    login: str,
    name: str | None,
    role: str,
    teams: tuple[str, ...],
    skills: tuple[str, ...],
) -> None:
    """Add an agent (or update one with the same LOGIN)."""
    from cxdesk.workflow.access.staff import add_agent

    db = context.database()
    by = context.viewer()
    with db.write() as session:
        add_agent(
            session,
            by=by,
            login=login,
            display_name=name or login,
            role=role,
            teams=list(teams),
            skills=list(skills),
            at=context.now(),
        )
    say(f"agent {login} saved")


@user.command("away")
@click.argument("login")
@click.option("--back", is_flag=True, help="Mark them present again.")
@pass_context
def user_away(context: Context, login: str, back: bool) -> None:
    """Mark an agent away (new tickets skip them) or, with --back, present."""
    from cxdesk.workflow.access.staff import set_away

    by = context.viewer()
    with context.database().write() as session:
        set_away(session, by, login, away=not back, at=context.now())
    say(f"{login} is {'back' if back else 'away'}")


@user.command("list")
@format_option
@pass_context
def user_list(context: Context, fmt: str) -> None:
    """List agents."""
    from cxdesk.workflow.access.org import list_agents

    context.viewer()
    with context.database().session() as session:
        agents = list_agents(session)
    print_rows(
        [a.__dict__ for a in agents],
        fmt,  # type: ignore[arg-type]
        ("login", "display_name", "role", "teams", "skills", "away", "active"),
    )


# -- entry point --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure becomes one line on stderr and exit code 2."""
    # A shared database (and its -wal/-shm files) is for the team's group, never the world.
    os.umask(0o007)
    try:
        code = cli.main(args=argv, prog_name="cxdesk", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(f"{exc.format_message()}{hint}")
    except click.Abort:
        _fail("aborted", 130)
    except CxdeskError as exc:
        _fail(str(exc), exc.exit_code)
    except SQLAlchemyError as exc:
        _fail(f"database error: {getattr(exc, 'orig', None) or exc}".splitlines()[0])
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # the last line of defence: one line, not a dump
        if os.environ.get("CXDESK_DEBUG"):
            say(traceback.format_exc(), err=True, multiline=True)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        _fail(f"internal error: {reason}; run with CXDESK_DEBUG=1 for the traceback")
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _fail(message: str, code: int = EXIT_FATAL) -> None:
    say(f"cxdesk: error: {message}", err=True)
    sys.exit(code)
