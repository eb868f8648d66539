"""`cxdesk problem`: open a problem for a driver or a touchpoint, apply a problem's
resolution to its linked open cases."""

from __future__ import annotations

import click

from cxdesk.cli.context import Context, pass_context
from cxdesk.cli.shared import format_option
from cxdesk.output import Format, print_json, print_rows, say


@click.group()
def problem() -> None:
    """Problems: open one for a driver or touchpoint, apply its resolution to its cases."""


@problem.command("open")
@click.option("--driver", help="The driver category (e.g. late_delivery).")
@click.option("--touchpoint", help="The touchpoint.")
@click.option("--queue", help="The queue it opens in (default: the metric alerts' queue).")
@click.option("--priority", type=click.Choice(["P1", "P2", "P3"]), default="P2", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_context
def problem_open(
    context: Context,
    driver: str | None,
    touchpoint: str | None,
    queue: str | None,
    priority: str,
    fmt: str,
) -> None:
    """Open a problem for a driver or a touchpoint and link its open cases (supervisors)."""
    from cxdesk.workflow.basics.refs import ticket_ref
    from cxdesk.workflow.loop.desk_commands import OpenProblem
    from cxdesk.workflow.loop.service import TicketService
    from cxdesk.workflow.reads.detail import read_ticket_detail

    if (driver is None) == (touchpoint is None):
        raise click.UsageError("give one of --driver or --touchpoint")
    dimension, value = ("driver", driver) if driver is not None else ("touchpoint", touchpoint)
    assert value is not None
    db = context.database()
    service = TicketService(db, context.settings, context.actor())
    opened = service.handle(
        OpenProblem(dimension, value, queue=queue, priority=priority, at=context.now())
    )
    assert opened.id is not None
    detail = read_ticket_detail(db, opened.id, context.viewer())
    if fmt == "json":
        print_json({"id": ticket_ref(opened.id), "linked": detail.links})
        return
    say(f"{ticket_ref(opened.id)} opened for {dimension} {value}: linked {len(detail.links)}")
    for case in detail.links:
        say(f"  {case}")


@problem.command("apply")
@click.argument("problem_id", metavar="PROBLEM")
@format_option
@pass_context
def problem_apply(context: Context, problem_id: str, fmt: Format) -> None:
    """Resolve every linked open case with the problem's resolution, each with its own
    follow-up survey; says per case: resolved, skipped or refused, with why (supervisors)."""
    from cxdesk.workflow.basics.refs import parse_ref
    from cxdesk.workflow.loop.desk_commands import ApplyProblemResolution
    from cxdesk.workflow.loop.service import TicketService

    service = TicketService(context.database(), context.settings, context.actor())
    applied = service.handle(ApplyProblemResolution(parse_ref(problem_id), at=context.now()))
    rows = [{"case": c.case, "outcome": c.outcome, "reason": c.reason} for c in applied.cases]
    print_rows(rows, fmt, ("case", "outcome", "reason"))
