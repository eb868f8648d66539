"""`cxdesk serve token` mints a token, printed once beside the config lines that let it in;
`cxdesk serve` refuses an address it cannot listen on, and ends cleanly when stopped. The
command line's glue only, on SQLite: what the server does is tested on both backends in
test_serve."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

from cxdesk.config import Settings
from cxdesk.web.callers import TOKEN_PREFIX, Tokens, token_hash
from tests.conftest import Run
from tests.integration.test_followup_samples import free_port
from tests.integration.test_validation import _children_of, _running


def test_a_minted_token_is_shown_once_with_its_config_lines(run: Run, tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "cx.db"))
    assert run(*db, "init")[0] == 0
    assert run(*db, "user", "add", "feed", "--role", "ingest")[0] == 0
    code, out, _ = run(*db, "serve", "token", "feed")
    assert code == 0
    lines = out.splitlines()
    token = lines[1]
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    config = tomllib.loads("\n".join(lines[3:]))
    settings = Settings.model_validate(config)
    assert settings.serve.tokens[0].login == "feed"
    assert settings.serve.tokens[0].sha256 == token_hash(token)
    assert Tokens(settings.serve.tokens).login_of(f"Bearer {token}")[0] == "feed"
    assert token not in "\n".join(lines[3:])
    again = run(*db, "serve", "token", "feed")[1].splitlines()[1]
    assert again != token


def test_a_token_is_minted_only_for_an_active_agent(run: Run, tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "cx.db"))
    assert run(*db, "init")[0] == 0
    code, out, err = run(*db, "serve", "token", "nobody")
    assert (code, out) == (2, "")
    assert "'nobody' is not an active cxdesk agent" in err


def test_serve_refuses_an_address_that_is_not_host_and_port(run: Run, tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "cx.db"))
    assert run(*db, "init")[0] == 0
    code, _, err = run(*db, "serve", "--listen", "localhost")
    assert code == 2
    assert "--listen: 'localhost' is not HOST:PORT" in err


def _started(db: str) -> subprocess.Popen[str]:
    """`cxdesk serve` on a free port, in a session of its own, once it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "cxdesk", "--db", db, "serve", "--listen", f"127.0.0.1:{port}"]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"serve did not start: {process.communicate()[1]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)


@pytest.mark.parametrize("group", [False, True], ids=["server", "process-group"])
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_stopped_by_a_signal_exits_cleanly(
    run: Run, tmp_path: Path, stop: int, group: bool
) -> None:
    """As the README says to stop it (ctrl+c, which a terminal sends to the server and the
    processes it forked alike, or SIGTERM from a service manager): exit 0, not death by the
    signal uvicorn raised again after its shutdown, nor "error: interrupted", nor a worker
    process killed on the way."""
    db = str(tmp_path / "cx.db")
    assert run("--db", db, "init")[0] == 0
    process = _started(db)
    try:
        workers = _children_of(process.pid)
        assert len(workers) == 2  # the checking and the writing process
        if group:
            os.killpg(process.pid, stop)
        else:
            process.send_signal(stop)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "error" not in err and "Traceback" not in err and "process stopped" not in err
    assert err.rstrip().endswith("cxdesk serve: stopped"), err
    assert [pid for pid in workers if _running(pid)] == []


def test_an_address_in_use_is_told_as_an_error_alone(run: Run, tmp_path: Path) -> None:
    """Not "listening on" it first: the server says so once it listens, and ends, its
    worker processes with it."""
    db = str(tmp_path / "cx.db")
    assert run("--db", db, "init")[0] == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = [sys.executable, "-m", "cxdesk", "--db", db, "serve"]
        argv += ["--listen", f"127.0.0.1:{port}"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "listening on" not in done.stderr
    assert "address already in use" in done.stderr.lower()


def test_the_worker_processes_end_with_a_killed_server(run: Run, tmp_path: Path) -> None:
    """kill -9 of the server leaves none of its processes behind: blocked on its queue, the
    checking and the writing process would otherwise stay until the machine restarts."""
    db = str(tmp_path / "cx.db")
    assert run("--db", db, "init")[0] == 0
    process = _started(db)
    workers = _children_of(process.pid)
    assert len(workers) == 2
    process.kill()
    process.communicate(timeout=60)
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in workers if _running(pid)] == []
