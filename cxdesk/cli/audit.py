"""`cxdesk audit`: verify the keyed hash chain, and print its head to keep elsewhere."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from cxdesk.cli.context import EXIT_PARTIAL, Context, pass_context
from cxdesk.output import print_json, say

if TYPE_CHECKING:
    from cxdesk.workflow.audit.chain import Head


@click.group()
def audit() -> None:
    """The append-only audit log."""


def _anchor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Head | None:
    from cxdesk.workflow.audit.chain import parse_anchor

    try:
        return parse_anchor(value) if value is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit.command("verify")
@click.option(
    "--anchor",
    metavar="COUNT:DIGEST",
    callback=_anchor,
    help="A head printed by `audit head` (or logged by `watch`): rows removed since are found.",
)
@click.option(
    "--deep", is_flag=True, help="Also replay the log against every ticket and its timeline."
)
@pass_context
def audit_verify(context: Context, anchor: Head | None, deep: bool) -> None:
    """Recompute the keyed hash chain and the timeline digests it records; print OK, or what
    does not match (exit 1)."""
    from cxdesk.workflow.audit.chain import verify_chain
    from cxdesk.workflow.audit.verify import verify_deep

    context.viewer().require_admin("verify the audit log")
    with context.database().session() as session:
        check = verify_chain(session, anchor)
        # the rows vouch for what is replayed: deep goes on past timeline problems only,
        # and names the ticket they are on
        deep_check = verify_deep(session) if deep and check.first_bad is None else None
    problem = (deep_check.problem if deep_check else None) or check.problem
    if problem is not None:
        say(problem)
        sys.exit(EXIT_PARTIAL)
    unkeyed = f"; {check.unkeyed:,} written before the chain was keyed" if check.unkeyed else ""
    say(
        f"OK: {check.rows:,} audit rows, chain intact{unkeyed}; "
        f"{check.timeline:,} timeline entries match"
    )
    if anchor is not None:
        say(f"OK: the chain holds the anchor {anchor.rows:,}:{anchor.digest[:12]}…")
    if deep_check is not None:
        before = f" ({deep_check.uncovered:,} opened before the chain was keyed, not replayed)"
        agents = f" and {_counted(deep_check.agents, 'agent')}" if deep_check.agents else ""
        say(
            f"OK: {_counted(deep_check.tickets, 'ticket')}{agents} as the audit log left them"
            + (before if deep_check.uncovered else "")
        )


def _counted(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


@audit.command("head")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_context
def audit_head(context: Context, fmt: str) -> None:
    """Print the chain's row count and last digest (COUNT:DIGEST): keep it elsewhere, and
    `audit verify --anchor` it later."""
    from cxdesk.workflow.audit.verify import chain_head

    context.viewer().require_admin("read the audit log's head")
    with context.database().session() as session:
        head = chain_head(session)
    if fmt == "json":
        print_json({"rows": head.rows, "digest": head.digest, "anchor": str(head)})
    else:
        say(str(head))
