"""A failed screenshot told as text: which lines of the screen differ from the accepted one.
CI keeps only what the run prints, not the plugin's HTML report, so a mismatch that happens
now and then must say there what it was."""

from __future__ import annotations

import difflib
import html
import pickle
import re

import pytest
from pytest_textual_snapshot import node_to_report_path

_TEXT = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>')


def screen_lines(svg: str) -> list[str]:
    """The screen's characters, line by line, as the screenshot draws them."""
    lines: dict[float, list[tuple[float, str]]] = {}
    for x, y, text in _TEXT.findall(svg):
        lines.setdefault(float(y), []).append((float(x), html.unescape(text)))
    return [
        "".join(text for _x, text in sorted(line)).rstrip() for _y, line in sorted(lines.items())
    ]


def mismatch(request: pytest.FixtureRequest) -> str:
    """The last comparison of this test as a diff of the accepted screen and the one taken."""
    _same, accepted, taken, *_ = pickle.loads(node_to_report_path(request.node).read_bytes())
    diff = difflib.unified_diff(
        screen_lines(accepted), screen_lines(taken), "accepted", "taken", lineterm="", n=1
    )
    return "\n".join(diff) or "the same text: a colour or style differs"
