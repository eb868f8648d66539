"""`cxdesk wall`: the dashboard full screen, refreshing itself, for a TV or a spare pane.

Nothing on it acts: no keys but `q`, no palette, no inbox, no ticket to open. It reads with
the scope of whoever runs it, as the desk does.
"""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from cxdesk.screens import dashboard
from cxdesk.screens.context import Desk
from cxdesk.screens.crash_line import OneLineCrashApp
from cxdesk.screens.dashboard import DashboardScreen
from cxdesk.screens.format import LIGHT_ANSI
from cxdesk.screens.localized_bindings import localize_bindings


class WallScreen(DashboardScreen, inherit_bindings=False):
    """The dashboard without its keys: nothing to go back to, nothing to open."""

    CSS_PATH = str(Path(dashboard.__file__).with_name("dashboard.tcss"))  # the dashboard's
    BINDINGS = [Binding("q", "app.quit", "Quit", id="wall.quit")]


class WallApp(OneLineCrashApp[None], inherit_bindings=False):
    TITLE = "cxdesk wall"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("q", "quit", "Quit", id="wall.app.quit")]

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        localize_bindings(self, desk.t)
        self.ansi_theme_light = LIGHT_ANSI

    def on_mount(self) -> None:
        self.push_screen(WallScreen(self.desk))
