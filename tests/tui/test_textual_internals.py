"""What the screens rely on of Textual's private internals, pinned: a Textual that changes one
fails here, instead of the desk quietly showing a traceback with its locals, English keys, or a
footer that never fills."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap
from textual.reactive import Reactive
from textual.widgets import Footer

from cxdesk.i18n import Translator
from cxdesk.screens.crash_line import OneLineCrashApp
from cxdesk.screens.footer import DeskFooter
from cxdesk.screens.help import screen_keys
from cxdesk.screens.localized_bindings import localize_bindings

SECRET = "postgresql://cx:s3cret@db/cx"


def _missing(owner: object, names: list[str]) -> list[str]:
    return [name for name in names if not hasattr(owner, name)]


def test_the_crash_hooks_are_there() -> None:
    hooks = ["_handle_exception", "_fatal_error", "_close_messages_no_wait"]
    state = ["_exception", "_exit_renderables"]
    missing = _missing(App, hooks) + _missing(App(), state)
    assert not missing, (
        f"Textual's App no longer has {missing}: cxdesk/screens/crash_line.py relies on them"
    )


class Crashing(OneLineCrashApp[None]):
    BINDINGS = [Binding("x", "crash", "Crash")]

    def action_crash(self) -> None:
        database = SECRET  # a local that a traceback with locals would show
        raise RuntimeError(f"boom \x1b[2J {len(database)}")


async def _crash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """What a crash in a key's handler leaves on stderr."""
    monkeypatch.setenv("COLUMNS", "200")  # the line is wider than 80 columns: keep it one
    app = Crashing()
    with pytest.raises(RuntimeError):
        async with app.run_test() as pilot:
            await pilot.press("x")
            await pilot.pause()
    return capsys.readouterr().err


async def test_a_crash_ends_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CXDESK_DEBUG", raising=False)
    err = await _crash(monkeypatch, capsys)
    assert err.splitlines() == [
        "cxdesk: error: internal error: RuntimeError: boom \\x1b[2J 28; run with "
        "CXDESK_DEBUG=1 for the traceback"
    ]
    assert SECRET not in err


async def test_asked_for_a_crash_shows_textuals_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other half of the pin: this is what the one line stands in for."""
    monkeypatch.setenv("CXDESK_DEBUG", "1")
    err = await _crash(monkeypatch, capsys)
    assert "Traceback" in err and "action_crash" in err
    assert SECRET in err  # the locals


def test_the_bindings_of_a_node_are_its_own_map() -> None:
    bindings = getattr(App(), "_bindings", None)
    assert isinstance(bindings, BindingsMap), (
        "Textual's DOMNode no longer keeps its keys in `_bindings`: "
        "cxdesk/screens/localized_bindings.py relies on it"
    )


class Keys(App[None]):
    BINDINGS = [Binding("d", "dashboard", "Dashboard")]

    def __init__(self, lang: str) -> None:
        super().__init__()
        localize_bindings(self, Translator(lang))

    def compose(self) -> ComposeResult:
        yield Footer()

    def action_dashboard(self) -> None:
        pass


async def _shown(app: Keys) -> tuple[list[str], dict[str, str]]:
    """The key descriptions the footer shows, and those of the `?` overlay, by key."""
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = [str(getattr(key, "description", "")) for key in app.query("FooterKey")]
        return footer, dict(screen_keys(app.screen))


async def test_the_footer_and_the_help_show_the_translated_keys() -> None:
    footer, help_keys = await _shown(Keys("zh"))
    assert "看板" in footer and "Dashboard" not in footer
    assert help_keys["d"] == "看板"
    footer, help_keys = await _shown(Keys("en"))  # the class's own keys are left English
    assert "Dashboard" in footer and help_keys["d"] == "Dashboard"


class Footed(App[None]):
    BINDINGS = [Binding("d", "dashboard", "Dashboard")]

    def compose(self) -> ComposeResult:
        yield DeskFooter()

    def action_dashboard(self) -> None:
        pass


async def test_the_footer_knows_when_its_keys_are_ready() -> None:
    assert isinstance(vars(Footer).get("_bindings_ready"), Reactive), (
        "Textual's Footer no longer has `_bindings_ready`: cxdesk/screens/footer.py relies on it"
    )
    assert DeskFooter()._bindings_ready is False
    app = Footed()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.query_one(DeskFooter)
        assert footer._bindings_ready is True
        keys = footer.query_one("#footer-keys")
        assert [getattr(key, "description", "") for key in keys.query("FooterKey")] == ["Dashboard"]
        palette = [key for key in footer.children if key.has_class("-command-palette")]
        assert len(palette) == 1 and palette[0].parent is footer
