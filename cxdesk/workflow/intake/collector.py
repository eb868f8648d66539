"""Garbage collection for the ingest processes: by hand, between batches.

A batch holds a few hundred thousand objects at once, nearly all freed by reference
counting, and leaves a few hundred in reference cycles (a session's and a transaction's, a
validation error's traceback). On its own schedule the collector would traverse the live
batch again and again, even with a large young generation. A full collection traverses the
live batch too, so it runs once every `COLLECT_EVERY` records: the cycles left meanwhile are
a few megabytes, and memory stays flat on a feed of any length.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

COLLECT_EVERY = 1_000_000


class Collector:
    """Counts records through; collects once `COLLECT_EVERY` of them have gone by."""

    def __init__(self) -> None:
        self.since = 0

    def after(self, records: int) -> None:
        self.since += records
        if self.since >= COLLECT_EVERY:
            gc.collect()
            self.since = 0


@contextmanager
def collections_paused() -> Iterator[Collector]:
    """The collector off but for the `Collector`'s collections, and what existed before
    (ORM metadata, compiled rules, caches) frozen out of those."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield Collector()
    finally:
        # What the run left alive joins the oldest generation, untraversed: left young, it
        # would all be traversed by the next collection.
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
