"""`cxdesk rules`: check the alert rules, try them on a file or replay the stored feedback
through them, without changing anything."""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

import click

from cxdesk.cli.context import EXIT_FATAL, Context, parse_instant, pass_context
from cxdesk.cli.ingest import INPUT_FORMATS
from cxdesk.db import sqlite_path
from cxdesk.errors import ConfigError
from cxdesk.output import print_json, print_rows, say
from cxdesk.progress import progress_bar


@click.group()
def rules() -> None:
    """Alert rules: check them, try them on a file, replay the stored feedback through them."""


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


@rules.command("backtest")
@click.option("--since", metavar="ISO", help="Replay events from this time on (inclusive).")
@click.option("--until", metavar="ISO", help="Replay events before this time (exclusive).")
@click.option(
    "--rules",
    "rules_file",
    metavar="FILE|-",
    help="A proposed rule set: [[rules]] as the config writes them [default: the config's].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Output format.",
)
@pass_context
def rules_backtest(
    context: Context, since: str | None, until: str | None, rules_file: str | None, fmt: str
) -> None:
    """Replay the stored feedback through the rules, writing nothing: per rule and day, the
    events that fire and the cases they open or join, against the alerts recorded."""
    from cxdesk.workflow.intake.backtest import backtest, proposed_rules
    from cxdesk.workflow.intake.backtest_reads import Window

    zone = context.settings.timezone
    window = Window(
        None if since is None else parse_instant(since, zone, "--since"),
        None if until is None else parse_instant(until, zone, "--until"),
    )
    if window.since is not None and window.until is not None and window.until <= window.since:
        raise click.BadParameter(f"{until!r} is not after --since {since!r}", param_hint="--until")
    db = context.database()
    context.viewer().require_ingest("test rules against the stored feedback")
    rule_set = context.settings.rules
    if rules_file is not None:
        context.own_file(rules_file, "rules backtest --rules")
        source = f"--rules {rules_file}"
        rule_set = proposed_rules(_read_text(rules_file, source), source, context.settings)
    with progress_bar() as progress:
        report = backtest(db, context.settings, rule_set, window, progress).as_dict()
    if fmt == "json":
        print_json(report)
        return
    _print_report(report)


MAX_RULES_FILE = 1 << 20  # a rules file is a page of TOML; more is not one


def _read_text(path: str, source: str) -> str:
    """A proposed rules file, read whole: a regular file (or standard input) of at most
    MAX_RULES_FILE bytes; a device, a pipe or a directory is refused before it is read."""
    try:
        if path == "-":
            text = sys.stdin.read(MAX_RULES_FILE + 1)
        else:
            # Without blocking: opening a pipe would wait for a writer that may never come.
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise ConfigError(f"{source}: not a regular file")
            with os.fdopen(fd, "rb") as stream:
                text = stream.read(MAX_RULES_FILE + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read it: {exc}") from exc
    if len(text) > MAX_RULES_FILE:
        raise ConfigError(f"{source}: larger than {MAX_RULES_FILE:,} bytes")
    return text


def _print_report(report: dict[str, Any]) -> None:
    since, until = report["since"] or "the first event", report["until"] or "the last"
    say(
        f"replayed {report['replayed']:,} events from {since} to {until}; days in "
        f"{report['timezone']}; {report['cases_open_at_since']:,} cases open at the start"
    )
    if report["unplaced"]:
        examples = ", ".join(report["unplaced_examples"])
        say(f"left out {report['unplaced']:,} events whose time is out of range (e.g. {examples})")
    say(f"alerts recorded: {report['alerts_recorded']:,}; alerts now: {report['alerts_now']:,}")
    figures = ("fired", "decided", "opened", "attached", "failed")
    for title, rows, columns in (
        ("per rule", report["rules"], ("rule", "priority", "queue", *figures)),
        ("per rule and day", report["days"], ("rule", "day", "priority", "queue", *figures)),
        ("by priority and queue", report["queues"], ("priority", "queue", "opened", "attached")),
        (
            "against the alerts recorded",
            [_examples(row) for row in report["changes"]],
            ("rule", "recorded", "now", "newly", "no_longer", "examples"),
        ),
    ):
        say("")
        say(title, bold=True)
        print_rows(rows, "table", columns)


def _examples(change: dict[str, Any]) -> dict[str, Any]:
    shown = [f"+{e}" for e in change["newly_examples"]]
    shown += [f"-{e}" for e in change["no_longer_examples"]]
    return change | {"examples": " ".join(shown)}
