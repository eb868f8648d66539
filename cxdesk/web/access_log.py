"""One JSON line per request in the access log (`cxdesk.logs.ACCESS`), and the last word on
a request that failed inside: a JSON 500, its traceback in the log, not on the caller's screen.

A line holds the time, method, path, status, the token's login, how many records the request
carried, how long it took and who sent it; never the token nor the body (nor a follow-up's
reply token, which is in its path).
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cxdesk.i18n import say
from cxdesk.logs import ACCESS
from cxdesk.output import json_text
from cxdesk.web.answers import HttpError, clean, error_answer

access = logging.getLogger(ACCESS)
logger = logging.getLogger(__name__)
_SHOWN_PATH = 200  # of a path, the characters the log keeps
_REPLY_PART = re.compile("/followups/", re.IGNORECASE)  # and a reply token after it


def shown_path(path: str) -> str:
    """The path as the log keeps it: a follow-up's reply token is a credential, and left out,
    also from a path no endpoint has that still carries one (`/followups/…` from a proxy
    that dropped `/v1`, `/V1/FOLLOWUPS/…` from a client that changed its case)."""
    found = _REPLY_PART.search(path)
    if found:
        return clean(path[: found.end()], _SHOWN_PATH) + "…"
    return clean(path, _SHOWN_PATH)


class AccessLog:
    """ASGI middleware around the whole app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            logger.exception("%s %s failed", scope["method"], shown_path(scope["path"]))
            if status:  # the answer had begun: nothing to do but end the connection
                raise
            failed = HttpError(
                500, "internal", say("internal error; the server's log has the details")
            )
            await error_answer(failed)(scope, receive, sending)
        finally:
            self._log(scope, status, time.perf_counter() - started)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        if not access.isEnabledFor(logging.INFO):
            return
        state: dict[str, Any] = scope.get("state", {})
        client = scope.get("client")
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "method": scope["method"],
            "path": shown_path(scope["path"]),
            "status": status,
            "login": state.get("login"),
            "records": state.get("records"),
            "duration_ms": round(seconds * 1000, 1),
            "remote": f"{client[0]}:{client[1]}" if client else None,
        }
        if "request_id" in state:
            line["request_id"] = state["request_id"]
        access.info("%s", json_text(line))
