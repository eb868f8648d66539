"""`cxdesk sweep` once, and `cxdesk watch` to sweep on a timer, unattended."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import print_figures
from cxdesk.output import say

logger = logging.getLogger(__name__)


@click.command("sweep")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def sweep_command(context: Context, fmt: str) -> None:
    """One pass: at-risk marks, breach escalations, follow-up timeouts, metric alerts."""
    from cxdesk.workflow.sweep import sweep

    context.viewer().require_admin("sweep")
    report = sweep(context.database(), context.settings, context.now())
    _tell_skipped(report.skipped)
    print_figures(report.as_dict(), fmt)


def _tell_skipped(skipped: dict[int, str]) -> None:
    """One line on stderr for each ticket the sweep passed over, saying why."""
    for reason in skipped.values():
        say(f"cxdesk: skipped {reason}", err=True)


@click.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between sweeps.",
)
@pass_context
def watch(context: Context, interval: float) -> None:
    """Sweep every INTERVAL seconds until stopped (ctrl-c or SIGTERM end it cleanly); after
    each sweep, deliver the webhook outbox if endpoints are configured."""
    import signal
    import threading

    from cxdesk.workflow.audit.verify import chain_head, log_head
    from cxdesk.workflow.sweep import sweep

    context.viewer().require_admin("watch")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    db = context.database()
    hooks = bool(context.settings.webhooks.endpoints)
    if hooks:  # the HTTP client is loaded only where it is used
        from cxdesk.workflow.ops.webhooks import deliver
    # Said once the signals are handled: from here on, ctrl-c or SIGTERM stops it cleanly.
    say(f"watching: a sweep every {interval:g} s; ctrl-c or SIGTERM stops", err=True)
    while True:  # the first sweep is always made, whenever the stop comes
        report = sweep(db, context.settings, context.now())
        _tell_skipped(report.skipped)
        acted = {k: v for k, v in report.as_dict().items() if v}
        if acted:
            say(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC sweep: {acted}")
        if hooks:
            sent = deliver(db, context.settings, context.now())
            told = {k: v for k, v in sent.as_dict().items() if v}
            if told:
                say(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC webhooks: {told}")
        with db.session() as session:
            log_head(head := chain_head(session))  # an anchor kept outside the database
        logger.info("audit head %s", head)
        if stop.wait(interval):
            break
    logger.info("watch stopped")
    say("watch stopped", err=True)
