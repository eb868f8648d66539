"""`cxdesk` without a command, `cxdesk demo` after building, and `cxdesk wall`: the TUI, for
this run's agent."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import click

from cxdesk.cli.context import Context, pass_context

if TYPE_CHECKING:
    from cxdesk.db import Database


def run_tui(context: Context) -> None:
    # What the desk loads and reads until it is mounted lives as long as it does: the
    # collector's passes over it (a few hundred) would find nothing. The app's on_mount
    # freezes it all and turns the collector back on (here too, should it never mount).
    gc.disable()
    try:
        from cxdesk.app import CxdeskApp

        db, actor, clock, lang = _session(context)
        CxdeskApp(db, context.settings, actor, clock, lang=lang).run()
    finally:
        gc.enable()


@click.command()
@pass_context
def wall(context: Context) -> None:
    """The dashboard full screen, refreshing itself, for a wall or a spare pane; nothing on
    it acts (q quits)."""
    from cxdesk.screens.context import open_desk
    from cxdesk.wall import WallApp

    db, actor, clock, lang = _session(context)
    WallApp(open_desk(db, context.settings, actor, clock, lang)).run()


def _session(context: Context) -> tuple[Database, str, Callable[[], datetime], str]:
    """The database, who is looking, their clock (a rehearsal's runs from `--now` onwards)
    and language; logging off the screen the TUI is about to take."""
    db = context.database()
    actor = context.actor()
    from cxdesk import logs
    from cxdesk.app import wall_clock
    from cxdesk.i18n import detect_language

    logs.off_screen()
    clock = wall_clock
    if context.now_arg is not None:
        offset = context.now() - wall_clock()
        clock = lambda: wall_clock() + offset  # noqa: E731
    return db, actor, clock, context.lang or detect_language()
