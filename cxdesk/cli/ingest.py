"""`cxdesk ingest`: feed events in, and the quarantine of those refused; `cxdesk schema`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cxdesk.cli.context import EXIT_OK, EXIT_PARTIAL, Context, pass_context
from cxdesk.cli.shared import format_option, print_figures
from cxdesk.errors import Interrupted
from cxdesk.output import print_json, print_rows, say, watched
from cxdesk.progress import LONG_FILE_LINES, file_lines, progress_bar
from cxdesk.workflow.intake.readers import BATCH_SIZE

if TYPE_CHECKING:
    from cxdesk.workflow.intake.feed import FeedSource
    from cxdesk.workflow.intake.ingest import Ingestor, IngestSummary


class _IngestGroup(click.Group):
    """`cxdesk ingest FILE` runs an ingest; `cxdesk ingest quarantine …` manages the rest.
    The run's options may come before FILE, and `--help` shows them with the commands."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands:
            return "run", self.commands["run"], args
        return super().resolve_command(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[OPTIONS] FILE|-")
        formatter.write_usage(ctx.command_path, "COMMAND [ARGS]...", prefix="   or: ")

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self.commands["run"].format_options(ctx, formatter)
        self.format_commands(ctx, formatter)


INPUT_FORMATS = ("jsonl", "csv")
SUMMARY_FORMATS = ("table", "json")


@click.group(
    cls=_IngestGroup,
    invoke_without_command=False,
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
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
    lines = file_lines(source) if watched() else None
    with progress_bar(wanted=lines is not None and lines > LONG_FILE_LINES) as progress:
        ingestor = Ingestor(
            db,
            context.settings,
            source=name,
            clock=context.now,
            batch_size=batch,
            progress=progress,
            lines=lines,
        )
        summary = _run_feed(ingestor, feed, summary_format)
    print_figures(summary.as_dict(), summary_format)
    _warn_rule_failures(ingestor)
    sys.exit(EXIT_PARTIAL if summary.quarantined else EXIT_OK)


def _run_feed(ingestor: Ingestor, feed: FeedSource, summary_format: str) -> IngestSummary:
    """Run the ingest; on ctrl-c, the figures of what was stored and why nothing else was."""
    try:
        return ingestor.run_feed(feed)
    except KeyboardInterrupt:
        print_figures(ingestor.summary.as_dict(), summary_format)
        raise Interrupted(
            "interrupted: the figures are the batches stored before ctrl+c; the records "
            "after them were not stored (ingesting them again is safe)"
        ) from None


def _warn_rule_failures(ingestor: Ingestor) -> None:
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
    print_figures(total.as_dict(), fmt)
    sys.exit(EXIT_PARTIAL if total.quarantined else EXIT_OK)


@click.command()
def schema() -> None:
    """Print the JSON Schema of a feedback event (what `ingest` accepts)."""
    from cxdesk.workflow.intake.events import FeedbackEventIn

    print_json(FeedbackEventIn.model_json_schema())
