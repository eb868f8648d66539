"""How long work tells how far it has gone, without knowing who watches or how it is shown:
the command line draws a bar from it on a terminal (`cxdesk.progress`), tests count it."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told, now and then, that `done` of `total` (None: unknown) units of `task` are done.
    Calls are cheap but not free: long work calls it per batch or page, not per row. Where
    work takes a `Progress | None`, None means nobody watches: no total is worked out."""

    def __call__(self, task: str, done: int, total: int | None) -> None: ...
