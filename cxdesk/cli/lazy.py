"""A click group whose subcommands live in modules imported only when one is named.

`cxdesk ticket list` need not import ingest, the TUI or the demo builder, and `cxdesk --help`
needs none of them: it lists each command with the help kept beside its import path.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand is defined ("module:attribute"), and its help's first paragraph,
    which `--help` shortens as click would the command's own."""

    target: str
    help: str


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute = self.lazy[cmd_name].target.split(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """As click's, but a name it does not know is compared with every command, loaded or
        not, for its "Did you mean" hint."""
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as exc:
            possibilities = self.list_commands(ctx)
            raise click.NoSuchCommand(
                exc.command_name, possibilities=possibilities, ctx=ctx
            ) from None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands from stand-ins that carry only their help: laid out by click,
        as the real ones would be, without importing them."""
        shown = {
            name: self.commands.get(name) or click.Command(name, help=self.lazy[name].help)
            for name in self.list_commands(ctx)
        }
        click.Group(self.name, commands=shown).format_commands(ctx, formatter)
