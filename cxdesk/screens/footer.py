"""The footer every screen shows: Textual's, with the palette key kept clear of the others.

Textual docks the palette key over the right end of the key row; when the row is wider than the
terminal (most screens at 80 columns, and sooner in Chinese) the compositor cuts the palette
key's text at the edges of the keys underneath, which splits a double-width character into
blanks (`^p 命令面板` came out as `^p   令面板`). Here the other keys sit in a row of their own
that ends where the palette key begins, so nothing lies underneath it.

Two of Textual's private details are relied on: the palette key is the footer key with the
`-command-palette` class, and `Footer._bindings_ready` (false until the screen first reports its
keys, when `Footer.compose` yields none) tells that first report, which must build the row,
from later ones, which may be skipped. `tests/tui/test_textual_internals.py` pins both.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input


class DeskFooter(Footer):
    DEFAULT_CSS = """
    DeskFooter > #footer-keys {
        width: 1fr;
        height: 1;
        overflow: hidden hidden;
    }
    """

    _shown: tuple[Any, ...] = ()

    def compose(self) -> ComposeResult:
        palette: list[Widget] = []
        with HorizontalGroup(id="footer-keys"):
            for widget in super().compose():
                if widget.has_class("-command-palette"):
                    palette.append(widget)
                else:
                    yield widget
        yield from palette

    def bindings_changed(self, screen: Screen) -> None:
        """Rebuild only when what the footer shows changes, and not for a text box taking the
        focus: it would shrink the row to the few keys it does not type (the box says its own
        keys), and rebuilding the keys lays out the whole screen and leaves thousands of
        objects for the collector, whose full passes then stall a later keystroke. Opening
        and applying a filter rebuilt the row twice."""
        if self._bindings_ready and isinstance(screen.focused, Input):
            return
        shown = tuple(
            (key, active.binding.description, active.enabled, active.binding.group)
            for key, active in screen.active_bindings.items()
            if active.binding.show
        )
        if self._bindings_ready and shown == self._shown:
            return
        self._shown = shown
        super().bindings_changed(screen)
