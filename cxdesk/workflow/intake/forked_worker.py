"""What a process forked to work for a server (checking requests' records) sets before its
first piece of work."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import time
from types import FrameType

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies
# How long a stopping server waits for a worker (its request under way, then its ending)
# before it kills it: stopped, or stuck in a call that never returns.
STOP_WAIT_S = 30


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


def ended_within(pid: int, seconds: float) -> bool:
    """Whether the worker `pid` has ended (and been reaped) within `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def _unheeded(_signal: int, _frame: FrameType | None) -> None:
    """The worker's handler of the signals that are the server's to act on."""
