"""The `?` overlay: every key the screen underneath answers to."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cxdesk.i18n import N_, Translator
from cxdesk.screens.localized_bindings import localize_bindings


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", N_("Close"), id="help.close"),
    ]

    def __init__(
        self, title: str, keys: list[tuple[str, str]], t: Translator | None = None
    ) -> None:
        super().__init__()
        self.t = t or Translator()
        localize_bindings(self, self.t)
        self.title_text = title
        # Textual's own widgets describe their keys in English: those are in the catalogue too.
        self.keys = [(key, self.t(description)) for key, description in keys]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(Text(key), Text(description))
        with VerticalScroll(id="help-box") as box:
            box.border_title = self.t("Keys — {screen}", screen=self.title_text)
            box.border_subtitle = self.t("escape to close")
            yield Static(table)

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


def screen_keys(screen: object) -> list[tuple[str, str]]:
    """(key, description) for every binding active on `screen`: the screen's own keys first,
    then the app's, then the rest (the focused widget's cursor and scrolling, focus moves)."""
    app = screen.app  # type: ignore[attr-defined]
    seen: dict[str, tuple[int, str]] = {}
    for key, active in screen.active_bindings.items():  # type: ignore[attr-defined]
        binding = active.binding
        if binding.description and key not in seen:
            own = binding.show and active.node in (screen, app)  # what the footer shows
            rank = (0 if active.node is screen else 1) if own else 2
            seen[key] = (rank, binding.description)
    ordered = sorted(seen.items(), key=lambda item: item[1][0])  # stable: keeps each's order
    return [(key_display(key), description) for key, (_rank, description) in ordered]


def key_display(key: str) -> str:
    names = {
        "question_mark": "?",
        "slash": "/",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "escape": "esc",
        "enter": "enter",
    }
    return names.get(key, key)
