"""The whole loop as a team runs it, every part a real process on one SQLite database: a feed
posts a detractor's survey to `cxdesk serve`, an agent resolves the case in the TUI (in tmux),
the sweep sends the follow-up survey through the README's curl command, the customer's
answer comes back to the server by its reply URL and verifies the case, and the webhook
outbox tells a receiver exactly what happened, signed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.integration.test_followup_samples import CURL_SAMPLE, free_port
from tests.integration.webhook_receiver import Receiver, receiving
from tests.terminal import tmux_pane

pytestmark = [
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

SECRET = "a-webhook-secret-of-the-crm-" + "x" * 8
DEADLINE = 30.0  # seconds any one awaited thing may take on a loaded machine
T = TypeVar("T")


def eventually(what: str, check: Callable[[], T | None], timeout: float = DEADLINE) -> T:
    """`check()`'s first true value, polled until `timeout`; else fail saying what never came."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened")
        time.sleep(0.1)


@dataclass
class Capture:
    """Where the follow-up command posts its surveys: keeps each body it is sent."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def capturing() -> Iterator[Capture]:
    capture = Capture()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            capture.bodies.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    capture.url = f"http://127.0.0.1:{server.server_address[1]}/cx-surveys"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Desk:
    """A database in a directory of its own, the config beside it, and the CLI over it."""

    directory: Path
    env: dict[str, str]

    @property
    def db(self) -> Path:
        return self.directory / "cx.db"

    @property
    def log(self) -> Path:
        return self.directory / "cxdesk.log"

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cxdesk", "--db", str(self.db), *args]

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            self.argv(*args), capture_output=True, text=True, env=self.env, timeout=120
        )
        assert done.returncode == 0, f"cxdesk {' '.join(args)}: {done.returncode}\n{done.stderr}"
        return done.stdout


def minted(output: str) -> tuple[str, str]:
    """The token `cxdesk serve token` printed, and the config lines it said to add."""
    lines = output.splitlines()
    token = lines[lines.index(next(x for x in lines if "shown this once" in x)) + 1]
    config = "\n".join(lines[lines.index("[[serve.tokens]]") :])
    assert token.startswith("cxd_") and tomllib.loads(config)["serve"]["tokens"][0]["login"]
    return token, config


def write_config(desk: Desk, serve_lines: str, port: int, capture: str, hook: str) -> None:
    command = [*CURL_SAMPLE[:-1], capture]  # the README's sample, sending to the test's server
    assert CURL_SAMPLE[0] == "curl" and CURL_SAMPLE[-1].startswith("https://")
    text = f"""
followup_command = {json.dumps(command, ensure_ascii=False)}
followup_reply_base = "http://127.0.0.1:{port}/v1/followups/"

[log]
file = {json.dumps(str(desk.log))}
level = "info"

[serve]
listen = "127.0.0.1:{port}"

{serve_lines}

[[webhooks.endpoints]]
name = "crm"
url = {json.dumps(hook)}
secret_env = "CXDESK_WEBHOOK_CRM"
"""
    (desk.directory / "cxdesk.toml").write_text(text, encoding="utf-8")


@contextmanager
def serving(desk: Desk, port: int) -> Iterator[subprocess.Popen[str]]:
    """`cxdesk serve` until the block ends (then killed if the test has not stopped it)."""
    process = subprocess.Popen(
        desk.argv("serve", "--listen", f"127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=desk.env,
    )
    try:

        def healthy() -> bool:
            assert process.poll() is None, f"serve exited: {process.communicate()[1]}"
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            except httpx.TransportError:
                return False

        eventually("the server answering /healthz", healthy)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def terminal(desk: Desk, login: str) -> AbstractContextManager[Callable[..., str]]:
    """The TUI as `login` in a tmux pane; yields a function running tmux commands on it."""
    return tmux_pane(" ".join(desk.argv("--as", login)), desk.env)


def capture(tmux: Callable[..., str]) -> str:
    return tmux("capture-pane", "-p", "-t", "e2e")


def screen_with(tmux: Callable[..., str], text: str) -> str:
    last = ""

    def shown() -> str | None:
        nonlocal last
        last = capture(tmux)
        return last if text in last else None

    try:
        return eventually(f"{text!r} on screen", shown)
    except AssertionError as missing:
        raise AssertionError(f"{missing}; the screen was:\n{last}") from None


def field_focused(tmux: Callable[..., str], index: int) -> None:
    """Wait until the form's field `index` (from 0) has the focus: its border is the one
    drawn in a colour of its own (the others share the blurred one)."""

    def colours() -> list[str]:
        screen = tmux("capture-pane", "-e", "-p", "-t", "e2e").splitlines()
        borders = [line.split("▊", 1)[0] for line in screen if "▔▔▔▔" in line]
        return [border[border.rfind("\x1b[") :] for border in borders]

    def focused() -> bool:
        seen = colours()
        return index < len(seen) and all(
            (c == seen[index]) == (i == index) for i, c in enumerate(seen)
        )

    eventually(f"field {index} focused", focused)


def resolve_in_the_tui(desk: Desk, login: str, ref: str) -> None:
    """Open the unassigned case, claim it, resolve it through the form, see it in verify."""
    with terminal(desk, login) as tmux:

        def keys(*keys: str) -> None:
            tmux("send-keys", "-t", "e2e", *keys)

        screen_with(tmux, "cxdesk · ")
        keys("2")  # unassigned
        screen_with(tmux, ref)
        keys("Enter")
        screen_with(tmux, "assignee —")  # the header read in: keys act on the ticket
        keys("c")
        screen_with(tmux, f"claimed by {login}")
        keys("x")
        screen_with(tmux, "ctrl+s save")
        field_focused(tmux, 0)  # the form's own focus is set a moment after it shows
        keys("Enter")  # the resolution code's list opens…
        screen_with(tmux, "replacement")
        keys("Down", "Enter")  # …below the blank choice: the first code, refund
        eventually("the list closed", lambda: "replacement" not in capture(tmux))
        field_focused(tmux, 0)  # closed, it hands the focus back to its field
        for field, text in ((1, "wrong size shipped"), (2, "refunded the order")):
            keys("Tab")  # the root cause, then the action
            field_focused(tmux, field)
            tmux("send-keys", "-t", "e2e", "-l", text)
            screen_with(tmux, text)
        keys("C-s")
        screen_with(tmux, "resolved (refund): refunded the order")
        screen_with(tmux, "collect → verify")
        keys("Escape")
        # Closed before `q`: a key within Textual's escape delay after Escape is alt+key.
        eventually("the ticket closed", lambda: "collect → verify" not in capture(tmux))
        screen_with(tmux, "cxdesk · ")
        keys("q")
        screen_with(tmux, "EXITED 0")


def test_a_detractor_is_heard_resolved_surveyed_answered_and_told(tmp_path: Path) -> None:
    desk = Desk(tmp_path / "desk", {**os.environ, "CXDESK_WEBHOOK_CRM": SECRET})
    desk.directory.mkdir()
    desk.cli("init")
    desk.cli("user", "add", "feed", "--role", "ingest")
    desk.cli("user", "add", "li", "--name", "Li Na", "--team", "care")
    token, serve_lines = minted(desk.cli("serve", "token", "feed"))
    port = free_port()
    with (
        capturing() as capture,
        receiving(Receiver(secret=SECRET)) as receiver,
    ):
        write_config(desk, serve_lines, port, capture.url, receiver.url)
        base = f"http://127.0.0.1:{port}"
        with serving(desk, port) as server:
            detractor = {
                "event_id": "s-1001",
                "kind": "survey",
                "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                "customer": {"id": "C100023", "name": "王芳", "email": "w@example.cn"},
                "nps": 2,
                "comment": "尺码发错了",
            }
            posted = httpx.post(
                f"{base}/v1/events", json=detractor, headers={"Authorization": f"Bearer {token}"}
            )
            assert posted.status_code == 200, posted.text
            (result,) = posted.json()["results"]
            assert result["status"] == "accepted" and result["ticket_action"] == "opened"
            ref = result["ticket"]

            resolve_in_the_tui(desk, "li", ref)
            shown = json.loads(desk.cli("ticket", "show", ref, "--format", "json"))
            assert shown["stage"] == "verify" and shown["assignee"] == "li"

            desk.cli("sweep")
            (survey,) = capture.bodies  # the curl command ran and posted the survey
            assert survey["ticket"] == ref and survey["customer"]["id"] == "C100023"
            reply_url = survey["reply_url"]
            assert reply_url == f"{base}/v1/followups/{survey['reply_token']}"

            answered = httpx.post(reply_url, json={"nps": 9})
            assert answered.status_code == 200, answered.text
            assert answered.json() == {"status": "answered", "ticket": ref}
            shown = json.loads(desk.cli("ticket", "show", ref, "--format", "json"))
            assert shown["stage"] == "closed"
            assert shown["verify_outcome"] == "verified"

            desk.cli("webhooks", "deliver")
            told = [(e["kind"], e["actor"], e["details"]) for e in receiver.accepted]
            assert told == [
                ("ticket.opened", "cxdesk", {"rule": "detractor"}),
                ("ticket.resolved", "li", {"resolution_code": "refund"}),
                ("ticket.verified", "cxdesk", {"outcome": "verified"}),
            ]
            assert receiver.bad_signatures == 0 and receiver.duplicates == 0
            assert {event["ticket"]["ref"] for event in receiver.accepted} == {ref}

            server.send_signal(signal.SIGTERM)
            _out, err = server.communicate(timeout=DEADLINE)
            assert server.returncode == 0, err

    logged = desk.log.read_text(encoding="utf-8")
    access = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    calls = [(x["method"], x["path"], x["status"]) for x in access if x["path"] != "/healthz"]
    assert calls == [
        ("POST", "/v1/events", 200),
        ("POST", "/v1/followups/…", 200),
    ]
    assert token not in logged and survey["reply_token"] not in logged
    assert not re.search(r"cxd_[A-Za-z0-9_-]{20,}", logged)
