"""Progress bars for long commands, on standard error and only when a person watches it.

The work itself (demo builds, ingest, copies, backups, backtests) calls a `Progress` it is
given (`workflow/basics/progress.py`) and never imports this module: what reaches the
terminal is the command line's business. Piped or redirected, standard error gets nothing,
so logs and scripts see the same output as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress

from cxdesk.output import progress_console, sanitize, watched
from cxdesk.workflow.basics.progress import Progress

# Ingest draws a bar only for files this long: a shorter one is done before a bar would help.
LONG_FILE_LINES = 5_000


@contextmanager
def progress_bar(*, wanted: bool = True) -> Iterator[Progress | None]:
    """A `Progress` drawing one bar a task on standard error while the block runs, if
    `wanted` and standard error is a terminal; otherwise None (nobody watches)."""
    if not (wanted and watched()):
        yield None
        return
    bars = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=progress_console(),
        redirect_stdout=False,  # what the command prints stays on standard output
        transient=True,  # the result the command prints says what was done
    )
    tasks: dict[str, TaskID] = {}

    def step(task: str, done: int, total: int | None) -> None:
        if task not in tasks:
            tasks[task] = bars.add_task(sanitize(task), total=total)
        bars.update(tasks[task], completed=done, total=total)

    with bars:
        yield step


def file_lines(source: str) -> int | None:
    """The lines of the file `source` names, counted in binary (quick next to ingesting
    them); None for standard input (`-`), whose length is unknown, or a file that cannot be
    read here (ingest says why)."""
    if source == "-":
        return None
    lines = 0
    try:
        with Path(source).open("rb") as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
    except OSError:
        return None
    return lines
