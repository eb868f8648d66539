"""`cxdesk` without a command, and `cxdesk demo` after building: the TUI, for this run's agent."""

from __future__ import annotations

from cxdesk.cli.context import Context


def run_tui(context: Context) -> None:
    db = context.database()
    actor = context.actor()
    from cxdesk import logs

    logs.off_screen()
    from cxdesk.app import CxdeskApp, wall_clock
    from cxdesk.i18n import detect_language

    clock = wall_clock
    if context.now_arg is not None:  # a rehearsal: run from the given time onwards
        offset = context.now() - wall_clock()
        clock = lambda: wall_clock() + offset  # noqa: E731
    CxdeskApp(db, context.settings, actor, clock, lang=context.lang or detect_language()).run()
