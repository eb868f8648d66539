"""The command palette (ctrl+p): what the screen underneath can do right now, by name.

The commands are the screen's own keys, as the footer shows them: on a ticket, the actions its
stage and your role allow (the screen's `check_action` decides, for the palette as for the keys);
on the queue, its views, sort, filter and the dashboard. Nothing here knows the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.command import CommandPalette, DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.screen import Screen

from cxdesk.i18n import N_, Translator, english
from cxdesk.screens.help import key_display

PALETTE_ACTIONS = {"command_palette", "app.command_palette"}
LIGHT, DARK = "textual-light", "textual-dark"


@dataclass(frozen=True)
class Command:
    title: str  # in the desk's language
    help: str
    run: Callable[[], object]
    english: str  # searched too, so `claim` finds 认领


def _translator(app: App[Any]) -> Translator:
    desk = getattr(app, "desk", None)
    return desk.t if desk is not None else Translator()


def screen_commands(screen: Screen[object]) -> list[Command]:
    """The enabled keys of `screen` and of the app that the footer would show, as commands
    (one per action); the focused widget's own keys (cursor, scrolling) are left out."""
    app = screen.app
    t = _translator(app)
    seen: set[str] = set()
    commands = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if active.node not in (screen, app) or not (active.enabled and binding.show):
            continue
        if binding.action in PALETTE_ACTIONS or binding.action in seen:
            continue
        seen.add(binding.action)
        commands.append(
            Command(
                title=binding.description,
                help=t("key {key}", key=key_display(key)),
                run=partial(app.run_action, binding.action, active.node),
                english=english(binding.description),
            )
        )
    extra = getattr(screen, "palette_commands", None)  # what has no key of its own
    if callable(extra):
        commands.extend(cmd for cmd in extra() if cmd.title not in {c.title for c in commands})
    return commands


class DeskCommands(Provider):
    """The screen's commands, found by fuzzy search in either language."""

    async def discover(self) -> Hits:
        for command in screen_commands(self.screen):
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in screen_commands(self.screen):
            score = matcher.match(command.title)
            shown: Content | str = matcher.highlight(command.title) if score else command.title
            score = max(score, matcher.match(command.english))
            if score > 0:
                yield Hit(score, shown, command.run, text=command.title, help=command.help)


def system_commands(
    app: App[Any], screen: Screen[object], base: Iterable[SystemCommand]
) -> Iterator[SystemCommand]:
    """Textual's own commands in the desk's language, less the two the desk has its own keys
    for (quit, and `?` for the keys), plus a light/dark switch."""
    t = _translator(app)
    for command in base:
        if command.title in ("Quit", "Keys"):
            continue
        yield SystemCommand(t(command.title), t(command.help), command.callback, command.discover)
    yield SystemCommand(
        t(N_("Light or dark theme")),
        t(N_("Switch between the light and the dark theme")),
        partial(toggle_theme, app),
    )


def toggle_theme(app: App[Any]) -> None:
    app.theme = LIGHT if app.current_theme.dark else DARK


def open_palette(app: App[Any]) -> None:
    if app.use_command_palette and not CommandPalette.is_open(app):
        t = _translator(app)
        app.push_screen(
            CommandPalette(placeholder=t(N_("Search for commands…")), id="--command-palette")
        )
