"""A process forked to work for a server lets the server act on ctrl+c and SIGTERM, without
handing that deafness down to the programs it runs (the notify hook)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
from concurrent.futures import ProcessPoolExecutor

from cxdesk.workflow.intake.forked_worker import settle_forked_worker


def _signalled_self_then_ran_a_program() -> int:
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    # A program that signals itself: killed by it unless the signal is ignored.
    return subprocess.run(["sh", "-c", "kill -INT $$; exit 3"], check=False).returncode


def test_a_worker_outlives_the_servers_signals_and_its_programs_do_not() -> None:
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=context, initializer=settle_forked_worker) as pool:
        assert pool.submit(_signalled_self_then_ran_a_program).result(timeout=60) == -signal.SIGINT
