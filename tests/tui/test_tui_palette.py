"""The command palette offers what the screen allows; the assign form's agent picker narrows
by fuzzy search; the theme switches between dark and light."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, OptionList

from cxdesk.app import CxdeskApp
from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.screens.commands import screen_commands
from cxdesk.screens.dashboard import DashboardScreen
from cxdesk.screens.forms import Field, FormScreen, Picker
from cxdesk.screens.queue import QueueScreen
from cxdesk.screens.ticket import ACTIONS, TicketScreen
from tests.conftest import DEMO_NOW
from tests.tui.waiting import settle

ME = getpass.getuser()


async def open_first(app: CxdeskApp, pilot, view: str) -> TicketScreen:
    await settle(app, pilot)
    await pilot.press(view)
    await settle(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)
    assert isinstance(app.screen, TicketScreen)
    return app.screen


async def palette_offers(app: CxdeskApp, pilot, query: str) -> list[str]:
    """Open the palette, type `query`, and read the commands it lists."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(app.screen, CommandPalette)
    await pilot.press(*query)
    for _ in range(50):
        await pilot.pause(0.05)
        listed = app.screen.query_one(CommandList)
        if listed.option_count and not app.screen.query_one(CommandList).has_class("--populating"):
            break
    prompts = [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]
    return [prompt.split("\n")[0] for prompt in prompts]  # the title; the key is below it


def titles(screen) -> set[str]:
    return {command.title for command in screen_commands(screen)}


async def test_the_palette_offers_only_the_actions_the_agent_may_take(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), "zhang.wei", lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "1")  # mine: claimed by zhang.wei
        offered = titles(screen)
        allowed = {
            label for _key, command, label in ACTIONS if screen.check_action("act", (command,))
        }
        assert {"Note", "Escalate"} <= offered
        assert not {"Assign", "Reopen", "Link problem", "Claim"} & offered  # supervisors', taken
        assert allowed <= offered  # the same answer as the keys
        assert {"Back", "Refresh", "Quit", "Keys"} <= offered
        listed = await palette_offers(app, pilot, "escal")
        assert listed and listed[0] == "Escalate"
        assert not await palette_offers_contains(app, pilot, "reopen")


async def palette_offers_contains(app: CxdeskApp, pilot, query: str) -> bool:
    await pilot.press("escape")
    await pilot.pause()
    return any(query in title.lower() for title in await palette_offers(app, pilot, query))


async def test_claim_from_the_palette(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "2")  # unassigned
        assert screen.detail is not None and screen.detail.row.assignee is None
        assert "Claim" in titles(screen)
        listed = await palette_offers(app, pilot, "claim")
        assert listed[0] == "Claim"
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen is screen and screen.detail.row.assignee == ME
        assert "Claim" not in titles(screen)  # taken: no longer offered


async def test_the_queue_palette_has_the_views_and_the_dashboard(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, QueueScreen)
        offered = titles(app.screen)
        views = {"Mine", "Unassigned", "At risk", "Breached", "Escalated", "Verifying", "All"}
        assert views | {"Dashboard", "Sort", "Filter", "Next page"} <= offered
        assert "Cursor up" not in offered  # the table's own keys are not commands
        await palette_offers(app, pilot, "breach")
        await pilot.press("enter")
        await settle(app, pilot)
        assert app.screen.view.value == "breached"
        await palette_offers(app, pilot, "dashb")
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)


async def test_the_chinese_palette_finds_commands_by_their_english_names(
    demo_sqlite: Path,
) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW, lang="zh")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(app, pilot, "2")
        assert await palette_offers(app, pilot, "claim") == ["认领"]
        assert app.screen.query_one(Input).placeholder == "搜索命令…"
        await pilot.press("escape")
        await pilot.pause()
        listed = await palette_offers(app, pilot, "主题")  # Textual's own, translated
        assert "主题" in listed and "浅色/深色主题" in listed


async def test_the_light_dark_command_switches_the_theme(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.current_theme.dark
        listed = await palette_offers(app, pilot, "light or dark")
        assert listed[0] == "Light or dark theme", listed
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "textual-light" and not app.current_theme.dark
        await palette_offers(app, pilot, "light or dark")
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "textual-dark"


def picker_options(form: FormScreen) -> list[str]:
    options = form.query_one(Picker).query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_the_assign_picker_narrows_by_fuzzy_search_and_assigns(demo_sqlite: Path) -> None:
    db = Database.open(str(demo_sqlite))
    app = CxdeskApp(db, Settings(), ME, lambda: DEMO_NOW)  # a supervisor: may assign
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_first(app, pilot, "2")
        assert screen.detail is not None
        await pilot.press("a")
        await settle(app, pilot)  # the agents and their loads are read by a worker
        form = app.screen
        assert isinstance(form, FormScreen)
        everyone = picker_options(form)
        assert len(everyone) > 3
        assert all("open · load" in option for option in everyone)
        loads = [int(option.rsplit("load ", 1)[1].split()[0]) for option in everyone]
        available = [
            load for option, load in zip(everyone, loads, strict=True) if "away" not in option
        ]
        assert available == sorted(available)  # the lightest load first
        assert form.focused is form.query_one(Picker).query_one(Input)  # typing starts at once

        await pilot.press(*"zhwei")  # fuzzy: z-h-…-w-e-i finds zhang.wei
        await pilot.pause()
        narrowed = picker_options(form)
        assert narrowed and "(zhang.wei)" in narrowed[0]
        assert len(narrowed) < len(everyone)
        await pilot.press(*"qqqq")
        await pilot.pause()
        assert picker_options(form) == ["no match"]
        assert form.values()["login"] == ""
        await pilot.press("ctrl+s")  # nothing chosen: refused
        await pilot.pause()
        assert app.screen is form
        for _ in range(4):
            await pilot.press("backspace")
        await pilot.pause()
        assert form.values()["login"] == "zhang.wei"
        await pilot.press("enter")  # enter takes the highlighted agent
        await settle(app, pilot)
        assert app.screen is screen and screen.detail.row.assignee == "zhang.wei"


async def test_the_picker_moves_with_the_arrow_keys(demo_sqlite: Path) -> None:
    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(app, pilot, "2")
        await pilot.press("a")
        await settle(app, pilot)  # the agents and their loads are read by a worker
        form = app.screen
        assert isinstance(form, FormScreen)
        first = form.values()["login"]
        await pilot.press("down")
        second = form.values()["login"]
        assert second and second != first
        await pilot.press("up", "up")  # stops at the top
        assert form.values()["login"] == first
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, TicketScreen)


PACKAGE = Path(__file__).resolve().parents[2] / "cxdesk"
COLOUR_PROPERTY = re.compile(r"^\s*(color|background|border(-[a-z]+)?|outline|tint)\s*:\s*(.+?);")
NOT_COLOURS = {"none", "transparent", "auto", "round", "solid", "tall", "wide", "heavy", "hkey"}


def test_the_stylesheets_name_theme_colours_only() -> None:
    """A colour written into a .tcss reads on one theme only; `$primary` and friends follow it."""
    for path in (PACKAGE / "screens").glob("*.tcss"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = COLOUR_PROPERTY.match(line)
            if match is None:
                continue
            for word in match.group(3).split():
                assert word.startswith("$") or word in NOT_COLOURS or word.endswith("%"), (
                    f"{path.name}: {line.strip()}"
                )


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_named_colours_read_on_the_light_theme() -> None:
    from textual.color import Color
    from textual.theme import BUILTIN_THEMES

    from cxdesk.screens.format import LIGHT_ANSI

    background = Color.parse(BUILTIN_THEMES["textual-light"].background or "").rgb
    for name, index in (("red", 1), ("green", 2), ("yellow", 3), ("blue", 4), ("cyan", 6)):
        colour = LIGHT_ANSI.ansi_colors[index]
        lighter, darker = sorted((luminance(background), luminance(tuple(colour))), reverse=True)
        assert (lighter + 0.05) / (darker + 0.05) >= 4.5, name


async def test_a_light_theme_uses_the_darker_named_colours(demo_sqlite: Path) -> None:
    from cxdesk.screens.format import LIGHT_ANSI

    app = CxdeskApp(Database.open(str(demo_sqlite)), Settings(), ME, lambda: DEMO_NOW)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.theme = "textual-light"
        await pilot.pause()
        assert app.ansi_theme is LIGHT_ANSI
        app.theme = "textual-dark"
        await pilot.pause()
        assert app.ansi_theme is not LIGHT_ANSI


async def test_the_picker_shows_names_with_brackets_as_written() -> None:
    """Names are customer-grade text: brackets are not markup, narrowed or not."""
    hostile = [
        ("Zhang [/] (li)", "li"),
        ("Li [QA] (qa)", "qa"),
        ("[b]Bold[/b] (bold)", "bold"),
        ("Wu [link=x]y (wu)", "wu"),
    ]
    field = Field("login", "Agent", kind="pick", choices=hostile, hints={"qa": "[dim]x"})

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(FormScreen("Assign", [field]))

    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FormScreen)
        assert picker_options(form) == [
            "Zhang [/] (li)",
            "Li [QA] (qa)  [dim]x",
            "[b]Bold[/b] (bold)",
            "Wu [link=x]y (wu)",
        ]
        for query, shown in (
            ("li", "Zhang [/] (li)"),
            ("qa", "Li [QA] (qa)  [dim]x"),
            ("bold", "[b]Bold[/b] (bold)"),
            ("wu", "Wu [link=x]y (wu)"),
        ):
            form.query_one(Picker).query_one(Input).value = query
            await pilot.pause()
            assert app.is_running
            options = picker_options(form)
            assert shown in options, (query, options)
            prompt = form.query_one(Picker).query_one(OptionList).get_option_at_index(0).prompt
            assert any(span.style for span in prompt.spans)  # the typed letters are marked
