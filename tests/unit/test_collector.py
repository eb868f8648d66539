"""Ingest's collections by hand: cycles are still freed, and the collector comes back."""

from __future__ import annotations

import gc
import weakref

from cxdesk.workflow.intake.collector import COLLECT_EVERY, collections_paused


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


def test_cycles_are_freed_once_enough_records_have_gone_by() -> None:
    with collections_paused() as collector:
        cycle = weakref.ref(Node())
        collector.after(COLLECT_EVERY - 1)
        assert cycle() is not None  # not yet: collections are paused
        collector.after(1)
        assert cycle() is None


def test_the_collector_is_as_it_was_after_the_run() -> None:
    assert gc.isenabled()
    with collections_paused():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0  # what existed before is left out of collections
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        with collections_paused():
            pass
        assert not gc.isenabled()  # a caller who had it off keeps it off
    finally:
        gc.enable()


def test_what_the_run_leaves_alive_is_old_afterwards() -> None:
    """Left young, it is all traversed by the next collection (0.1 s after a big ingest)."""
    with collections_paused():
        kept = [Node() for _ in range(1000)]
    old = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(node) in old for node in kept)
