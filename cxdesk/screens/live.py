"""Live refresh: what the app tells the screen on top when the database changed elsewhere."""

from __future__ import annotations

from textual.message import Message


class DataChanged(Message, bubble=False):
    """Tickets or timelines changed (another session, the CLI, ingest, the sweep, or this
    session): a screen that shows them reloads. Sent by the app's change watcher, or by its
    fallback poll while no change feed is up."""
