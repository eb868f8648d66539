"""`cxdesk rules`: check the alert rules, and try them on a file without changing anything."""

from __future__ import annotations

import sys

import click

from cxdesk.cli.context import EXIT_FATAL, Context, pass_context
from cxdesk.cli.ingest import INPUT_FORMATS
from cxdesk.db import sqlite_path
from cxdesk.output import print_rows, say


@click.group()
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
