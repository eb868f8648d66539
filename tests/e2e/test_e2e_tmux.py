"""End to end in a real terminal: cxdesk in tmux, keys typed, the screen read back."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.terminal import tmux_pane

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def terminal(demo_copy: Path) -> Iterator[Callable[..., str]]:
    command = f"{sys.executable} -m cxdesk --db {demo_copy} --now 2026-03-02T10:00:00+00:00"
    with tmux_pane(command, os.environ) as tmux:
        yield tmux


def wait_for(
    tmux: Callable[..., str], text: str, timeout: float = 45, absent: str | None = None
) -> str:
    """The screen once `text` is on it (and `absent`, if given, is not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", "e2e")
        if text in screen and (absent is None or absent not in screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def filter_by(tmux: Callable[..., str], words: str, tries: int = 3) -> None:
    """Type a filter after `/`, and wait until the table has the focus back (a key sent
    before would go into the box: the box keeps it until the filtered page is shown, so
    that no key acts on the page before). Typed the moment the box shows, the words are now
    and then lost (not yet explained; see the project's notes): the step is tried again."""
    for attempt in range(tries):
        tmux("send-keys", "-t", "e2e", "/")
        wait_for(tmux, "filter: words")
        focused = _box_colour(tmux)
        tmux("send-keys", "-t", "e2e", "-l", words)
        tmux("send-keys", "-t", "e2e", "Enter")
        try:
            wait_for(tmux, f"filter: {words}", timeout=10)
            break
        except AssertionError:
            if attempt == tries - 1:
                raise
            tmux("send-keys", "-t", "e2e", "Escape")
            wait_for(tmux, "cxdesk · ", absent="filter: words")  # else `/` would be alt+/
    deadline = time.monotonic() + 45
    while _box_colour(tmux) == focused:
        assert time.monotonic() < deadline, "the filter box kept the focus"
        time.sleep(0.1)


def _box_colour(tmux: Callable[..., str]) -> str:
    """The colour of the filter box's border, the screen's first: focused, it has its own."""
    screen = tmux("capture-pane", "-e", "-p", "-t", "e2e").splitlines()
    return next((line.split("▊", 1)[0] for line in screen if "▔▔▔▔" in line), "")


def quit_desk(tmux: Callable[..., str], tries: int = 3) -> None:
    """Press `q` until the desk has exited 0: a key now and then goes missing as the filter's
    words do (see `filter_by`). Wait for an Escape's screen to close before: a key sent
    within Textual's escape delay after Escape is read with it as alt+key."""
    for attempt in range(tries):
        tmux("send-keys", "-t", "e2e", "q")
        try:
            wait_for(tmux, "EXITED 0", timeout=15)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


def test_a_supervisor_finds_a_breach_claims_and_answers_it(terminal) -> None:
    tmux = terminal
    wait_for(tmux, "cxdesk · ")
    tmux("send-keys", "-t", "e2e", "2")  # unassigned
    wait_for(tmux, "· Unassigned ·")
    tmux("send-keys", "-t", "e2e", "Enter")
    # The frame shows at once; keys act on the ticket only once its header is read in.
    wait_for(tmux, "assignee —")
    tmux("send-keys", "-t", "e2e", "c")
    screen = wait_for(tmux, "claimed by")
    assert "assignee —" not in screen.splitlines()[0]
    tmux("send-keys", "-t", "e2e", "p")
    wait_for(tmux, "ctrl+s save")
    tmux("send-keys", "-t", "e2e", "-l", "您好，马上处理")
    tmux("send-keys", "-t", "e2e", "C-s")
    wait_for(tmux, "您好，马上处理")
    tmux("send-keys", "-t", "e2e", "Escape")
    wait_for(tmux, "cxdesk · ", absent="您好，马上处理")  # the ticket closed (see `quit_desk`)
    quit_desk(tmux)


def test_a_supervisor_reads_the_inbox_and_bulk_assigns_the_new_cases(terminal) -> None:
    tmux = terminal
    wait_for(tmux, "unread — i")  # the backlog: one summary and a count, not a flood
    tmux("send-keys", "-t", "e2e", "i")
    wait_for(tmux, "Inbox · ")
    tmux("send-keys", "-t", "e2e", "m")
    wait_for(tmux, "Inbox · 0 unread")
    tmux("send-keys", "-t", "e2e", "Escape")
    wait_for(tmux, "cxdesk · ", absent="Inbox · ")  # the inbox gone, not only under it
    filter_by(tmux, "stage:new queue:aftersales")
    tmux("send-keys", "-t", "e2e", "*")
    wait_for(tmux, "marked — b acts on them")
    tmux("send-keys", "-t", "e2e", "b")
    wait_for(tmux, "Apply to ")
    tmux("send-keys", "-t", "e2e", "Enter")  # assign
    wait_for(tmux, "ctrl+s save")
    tmux("send-keys", "-t", "e2e", "-l", "zhang.wei")
    tmux("send-keys", "-t", "e2e", "C-s")
    screen = wait_for(tmux, "Assign: ")
    assert " 0 refused" in screen
    tmux("send-keys", "-t", "e2e", "Escape")
    # Assigned, they moved on to collect; the list behind shows it before the result closes.
    screen = wait_for(tmux, "no tickets in this view", absent="Assign: ")
    assert "unread — i" not in screen and "marked" not in screen
    quit_desk(tmux)
