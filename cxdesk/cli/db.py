"""Setting up and keeping the database: `init`, `db copy`, `db upgrade`, `backup`."""

from __future__ import annotations

from pathlib import Path

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.db import Database
from cxdesk.output import say
from cxdesk.progress import progress_bar
from cxdesk.workflow.ops.schema import upgrade_database


@click.command()
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


@click.group("db")
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
        with progress_bar() as progress:
            copied = copy_database(
                context.database(),
                target,
                lambda table, rows: say(f"{table}: {rows:,} rows", err=True),
                progress,
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


@db_group.command("rebuild-rollups")
@pass_context
def db_rebuild_rollups(context: Context) -> None:
    """Count the metric alerts' hourly rollups again from the stored events."""
    from cxdesk.workflow.intake.rollup_repair import rebuild_rollups

    context.viewer().require_admin("rebuild the rollups")
    rebuilt = rebuild_rollups(context.database())
    say(f"rollups rebuilt: {rebuilt.rows:,} rows; {rebuilt.differed:,} differed from those kept")


def _say_keyed(db: Database, keyed: bool) -> None:
    if keyed and db.audit_key is not None:
        say(
            f"audit key created: {db.audit_key.path} (keep a copy where the database's "
            "editors cannot reach it; the audit chain cannot be written or verified without it)"
        )


@click.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
def backup(context: Context, target: Path) -> None:
    """Copy the SQLite database to TARGET, consistently, while others keep working."""
    from cxdesk.workflow.ops.backup import backup_sqlite

    context.refuse_when_enforced("backup")
    context.viewer().require_admin("back up the database")
    with progress_bar() as progress:
        size = backup_sqlite(context.database(), target, progress)
    say(f"backup written: {target} ({size:,} bytes, integrity ok)")


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
