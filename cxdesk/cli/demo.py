"""`cxdesk demo`: build a realistic demo database, then open it."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.tui import run_tui
from cxdesk.db import sqlite_path
from cxdesk.errors import CxdeskError
from cxdesk.output import say
from cxdesk.progress import progress_bar


@click.command()
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
                f"{path} already exists: open it with `{_opening_command(context, path)}`; use "
                "--force to replace it, or --db to choose another file"
            )
        if path.stat().st_size and not _is_demo_file(path):
            raise CxdeskError(f"{path} is not a demo database: --force replaces only a demo")
        for suffix in ("", "-wal", "-shm", ".key"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    db = context.database(must_exist=False)
    if current_revision(db.engine) is not None:
        raise CxdeskError(f"{db.display_url} already holds a database; a demo needs an empty one")
    say(f"building the {size} demo in {db.display_url} …", err=True)
    with progress_bar() as progress:
        summary = build_demo_database(
            db, context.settings, seed=seed, size=size, now=context.now(), progress=progress
        )
    say(summary, err=True)
    if not no_tui:
        run_tui(context)


def _opening_command(context: Context, path: Path) -> str:
    """The shortest command that opens the database at `path`: plain `cxdesk` where that is
    the one it opens (the default file, `CXDESK_DB`, or the config's), else with `--db`."""
    import shlex

    from cxdesk.db import resolve_url

    if sqlite_path(resolve_url(context.settings.database.url or None)) == path:
        return "cxdesk"
    return f"cxdesk --db {shlex.quote(str(path))}"


def _is_demo_file(path: Path) -> bool:
    """Whether the SQLite file at `path` is a database `cxdesk demo` built (read only)."""
    import sqlite3

    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            row = con.execute("SELECT value FROM meta WHERE key = 'demo'").fetchone()
    except sqlite3.Error:
        return False
    return row is not None and row[0] == "true"
