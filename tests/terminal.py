"""Running the CLI as a subprocess with standard output and/or error on a terminal (a pty),
where what cxdesk prints depends on whether someone watches."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager


def run_cli(
    args: Sequence[str],
    *,
    columns: int = 80,
    tty_out: bool = False,
    tty_err: bool = False,
    stdin: str | None = None,
) -> tuple[int, str, str]:
    """`cxdesk ARGS` in a new process: (exit code, stdout, stderr); a stream on a terminal
    reads as the terminal shows it (CR LF line ends)."""
    env = dict(os.environ, COLUMNS=str(columns), LINES="40", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    ends: list[tuple[int, int] | None] = [pty.openpty() if t else None for t in (tty_out, tty_err)]
    streams = [end[1] if end else subprocess.PIPE for end in ends]
    process = subprocess.Popen(
        [sys.executable, "-m", "cxdesk", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=streams[0],
        stderr=streams[1],
        env=env,
    )
    for end in ends:
        if end:
            os.close(end[1])  # the child holds its own copy: EOF once it exits
    texts = ["", ""]

    def read(index: int) -> None:
        end = ends[index]
        if end is None:
            pipe = process.stdout if index == 0 else process.stderr
            assert pipe is not None
            texts[index] = pipe.read().decode()
            return
        chunks = []
        while True:
            try:
                chunk = os.read(end[0], 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(end[0])
        texts[index] = b"".join(chunks).decode(errors="replace")

    readers = [threading.Thread(target=read, args=(i,)) for i in (0, 1)]
    for reader in readers:
        reader.start()
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
    code = process.wait(timeout=600)
    for reader in readers:
        reader.join()
    return code, texts[0], texts[1]


@contextmanager
def tmux_pane(command: str, env: Mapping[str, str]) -> Iterator[Callable[..., str]]:
    """`command` in a 120×40 tmux pane named `e2e` on a server of its own, a UTF-8 terminal
    whatever the calling environment (CI may have no locale at all); yields a function that
    runs tmux commands on that server. The command is followed by `echo EXITED $?`, and the
    pane stays a while after, so its exit can be read off the screen."""
    socket = f"cxdesk-test-{uuid.uuid4().hex[:8]}"
    environment = {**env, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TERM": "xterm-256color"}

    def tmux(*args: str) -> str:
        return subprocess.run(
            ["tmux", "-u", "-L", socket, *args],
            capture_output=True,
            text=True,
            check=True,
            env=environment,
        ).stdout

    tmux(
        "new-session",
        "-d",
        "-x",
        "120",
        "-y",
        "40",
        "-s",
        "e2e",
        f"{command}; echo EXITED $?; sleep 30",
    )
    tmux("resize-window", "-t", "e2e", "-x", "120", "-y", "40")
    try:
        yield tmux
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
