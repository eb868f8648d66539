"""A crash of the app ends in one line, not in Textual's traceback.

Textual reports an unhandled exception with a traceback that shows the locals of every frame:
the settings and the database among them, which a person at a desk run through sudo may not
see. Textual has no public hook for that report, so this overrides its private
`App._fatal_error`, which `App._handle_exception` calls for an exception that does not render
itself, and in it uses more of Textual's private state: `App._exception` (the first unhandled
exception), `App._exit_renderables` (what the app prints to stderr once it has stopped) and
`App._close_messages_no_wait` (start shutting the app down), as Textual's own `_fatal_error`
does. `tests/tui/test_textual_internals.py` pins all of them, so a Textual that changes them fails
there instead of showing the traceback again.
"""

from __future__ import annotations

import os
from typing import TypeVar

from rich.text import Text
from textual.app import App

from cxdesk.output import sanitize

_Returned = TypeVar("_Returned")


class OneLineCrashApp(App[_Returned]):
    """An app whose crash prints `cxdesk: error: internal error: …` and nothing more;
    `CXDESK_DEBUG` set brings Textual's traceback back."""

    def _fatal_error(self) -> None:
        if os.environ.get("CXDESK_DEBUG"):
            super()._fatal_error()
            return
        error = self._exception
        what = f"{type(error).__name__}: {error}" if error is not None else "unknown"
        self.bell()
        self._exit_renderables.append(
            Text(
                f"cxdesk: error: internal error: {sanitize(what)}; run with CXDESK_DEBUG=1 "
                "for the traceback"
            )
        )
        self._close_messages_no_wait()
