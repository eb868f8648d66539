"""A process forked to work for a server (checking requests' records): forked when the
server starts, and set up before its first piece of work."""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies


class ForkedWorker:
    """One process, forked at the making of this; once it has stopped, `call` says so (the
    caller then does the work itself) and the server's log says so once, naming `work`."""

    def __init__(self, work: str, initializer: Callable[[], None]) -> None:
        """Forked now, before the server starts any thread of its own (a thread's locks are
        not taken along), not at the first request."""
        self.work = work
        context = multiprocessing.get_context("fork")
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            1, mp_context=context, initializer=initializer
        )
        self._pool.submit(int).result()

    def call(self, function: Callable[..., Any], *args: Any) -> Any | None:
        """`function(*args)`'s result from the process; None once it has stopped."""
        pool = self._pool
        if pool is None:
            return None
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            self._pool = None
            logger.warning("the %s process stopped; %s in this process", self.work, self.work)
            return None

    def close(self) -> None:
        """Stop the process once its work under way is done."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def settle_forked_worker() -> None:
    """ctrl+c and SIGTERM are the server's, which stops its workers once the requests under
    way are answered (caught and let go, not ignored: a program the worker runs, such as
    a hook, gets them as ever); on Linux the worker is killed when the server
    dies (blocked on its queue, it would otherwise outlive it, holding its database
    connection). What it has from the server is frozen out of collections, and the
    collector is off: the worker collects by hand (`Collector`)."""
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, _unheeded)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:
            os._exit(0)  # the server died before the request to be told of it took hold
    gc.freeze()
    gc.disable()


def _unheeded(_signal: int, _frame: FrameType | None) -> None:
    """The worker's handler of the signals that are the server's to act on."""
