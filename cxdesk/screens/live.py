"""Messages every screen shares: the database changed elsewhere, or a screen's load failed;
and the inbox's to the app, which counts its badge without importing the inbox."""

from __future__ import annotations

from textual.message import Message


class DataChanged(Message, bubble=False):
    """Tickets or timelines changed (another session, the CLI, ingest, the sweep, or this
    session): a screen that shows them reloads. Sent by the app's change watcher, or by its
    fallback poll while no change feed is up."""


class LoadFailed(Message):
    """A screen's worker could not load what it shows. It bubbles to the app, which shows the
    error; the screen stays as it was and usable."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class InboxChanged(Message):
    """Notifications were marked read here: the app counts its badge again."""
