"""The command line: parses, calls the workflow layer, prints. Nothing else lives here.

One module per command group, imported only when that group is named (`COMMANDS`): a command
pays for its own imports alone, and `cxdesk --help` for none of them.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import NoReturn

import click

from cxdesk import __version__
from cxdesk.cli.context import EXIT_FATAL, EXIT_OK, Context
from cxdesk.cli.lazy import LazyCommand, LazyGroup
from cxdesk.errors import CxdeskError
from cxdesk.logs import LEVELS

logger = logging.getLogger(__name__)
COMMANDS = {
    "audit": LazyCommand("cxdesk.cli.audit:audit", "The append-only audit log."),
    "backup": LazyCommand(
        "cxdesk.cli.db:backup",
        "Copy the SQLite database to TARGET, consistently, while others keep working.",
    ),
    "customer": LazyCommand(
        "cxdesk.cli.customer:customer", "A customer's tickets and feedback, as you may see them."
    ),
    "db": LazyCommand("cxdesk.cli.db:db_group", "Schema migrations."),
    "demo": LazyCommand("cxdesk.cli.demo:demo", "Build a realistic demo database and open it."),
    "wall": LazyCommand(
        "cxdesk.cli.tui:wall",
        "The dashboard full screen, refreshing itself, for a wall or a spare pane; nothing on "
        "it acts (q quits).",
    ),
    "followups": LazyCommand(
        "cxdesk.cli.followups:followups", "Follow-up surveys sent after each resolution."
    ),
    "ingest": LazyCommand(
        "cxdesk.cli.ingest:ingest",
        "Feed feedback events in: `cxdesk ingest FILE|- [--format jsonl|csv] [--format json]`.",
    ),
    "init": LazyCommand(
        "cxdesk.cli.db:init",
        "Create the database (or bring it up to date) and the configured teams and queues.",
    ),
    "problem": LazyCommand(
        "cxdesk.cli.problem:problem",
        "Problems: open one for a driver or touchpoint, apply its resolution to its cases.",
    ),
    "report": LazyCommand(
        "cxdesk.cli.report:report",
        "Loop metrics: sla, loop, nps (NPS/CSAT/CES), drivers (Pareto), backlog.",
    ),
    "rules": LazyCommand(
        "cxdesk.cli.rules:rules",
        "Alert rules: check them, try them on a file, replay the stored feedback through them.",
    ),
    "schema": LazyCommand(
        "cxdesk.cli.ingest:schema",
        "Print the JSON Schema of a feedback event (what `ingest` accepts).",
    ),
    "serve": LazyCommand(
        "cxdesk.cli.serve:serve",
        "Take feedback events over HTTP (POST /v1/events), as `cxdesk ingest` takes a file.",
    ),
    "sweep": LazyCommand(
        "cxdesk.cli.sweep:sweep_command",
        "One pass: at-risk marks, breach escalations, follow-up timeouts, metric alerts.",
    ),
    "template": LazyCommand(
        "cxdesk.cli.template:template",
        "Reply templates: `{customer.name}`, `{ticket.id}`, `{agent.name}` … are filled in.",
    ),
    "ticket": LazyCommand("cxdesk.cli.ticket:ticket", "List, show and work tickets."),
    "user": LazyCommand(
        "cxdesk.cli.user:user", "Agents: who may use cxdesk, with which role, in which teams."
    ),
    "watch": LazyCommand(
        "cxdesk.cli.sweep:watch",
        "Sweep every INTERVAL seconds until stopped (ctrl-c or SIGTERM end it cleanly); after "
        "each sweep, deliver the webhook outbox if endpoints are configured.",
    ),
    "webhooks": LazyCommand(
        "cxdesk.cli.webhooks:webhooks",
        "Ticket events sent to the configured endpoints, signed, from the outbox.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    envvar="CXDESK_LOG",
    help="Write log lines from this level up on standard error [env CXDESK_LOG; default: "
    "none, or as the config's [log] says].",
)
@click.version_option(__version__)
@click.pass_context
def cli(
    ctx: click.Context,
    db_arg: str | None,
    config_arg: str | None,
    as_user: str | None,
    now_arg: str | None,
    lang: str | None,
    log_level: str | None,
) -> None:
    """cxdesk: closed-loop customer-experience tickets in the terminal.

    Run without a command to open the queue as your Unix user.
    """
    from cxdesk import logs

    logs.start(log_level)
    ctx.obj = Context(db_arg, config_arg, as_user, now_arg, lang)
    ctx.call_on_close(ctx.obj.close)
    if ctx.obj.process_user().enforced:
        _enter_service_home(db_arg, config_arg)
    if ctx.invoked_subcommand is None:
        from cxdesk.cli.tui import run_tui

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


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every failure becomes one line on stderr and exit code 2."""
    # A shared database (and its -wal/-shm files) is for the team's group, never the world.
    os.umask(0o007)
    try:
        code = cli.main(args=argv, prog_name="cxdesk", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare group: what it offers
        from cxdesk.output import say

        say(exc.ctx.get_help(), multiline=True)
        code = EXIT_OK
    except click.UsageError as exc:
        _fail(_usage_line(exc))
    except click.Abort:
        _fail("aborted", 130)
    except CxdeskError as exc:
        _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # the last line of defence: one line, not a dump
        if _is_database_error(exc):
            _fail(f"database error: {getattr(exc, 'orig', None) or exc}".splitlines()[0])
        logger.exception("internal error")  # the traceback, for whoever reads the log
        if os.environ.get("CXDESK_DEBUG"):
            from cxdesk.output import say

            say(traceback.format_exc(), err=True, multiline=True)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        _fail(f"internal error: {reason}; run with CXDESK_DEBUG=1 for the traceback")
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _usage_line(exc: click.UsageError) -> str:
    """A usage error on one line (click spreads some over several, such as the choices of a
    missing argument) and the help to see: the command's, or for a hidden default command
    (`ingest FILE` runs `ingest run`) its group's, which is where it is described."""
    message = " ".join(exc.format_message().split())
    ctx = exc.ctx
    while ctx is not None and ctx.command.hidden and ctx.parent is not None:
        ctx = ctx.parent
    return f"{message} (see `{ctx.command_path} --help`)" if ctx else message


def _is_database_error(exc: Exception) -> bool:
    """Whether SQLAlchemy raised `exc`: asked without importing SQLAlchemy, which a command
    that failed before opening the database never loaded."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)


def _fail(message: str, code: int = EXIT_FATAL) -> NoReturn:
    from cxdesk.output import say

    say(f"cxdesk: error: {message}", err=True)
    logger.error("exit %d: %s", code, message)
    sys.exit(code)
