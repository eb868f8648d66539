"""What the server answers: JSON whose text is inert, and errors that name what and where.

Every string a request can put in an answer (an event id, a reason quoting a record, a path)
is escaped as everything cxdesk prints is (`cxdesk.output`): no control or bidi character
reaches whoever reads the answer on a terminal, raw or decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from cxdesk.i18n import Message, say
from cxdesk.output import json_text, sanitize


class HttpError(Exception):
    """A request refused: its status, a short code, what is wrong and where (a header, the
    body, a record), and any headers the refusal needs (`WWW-Authenticate`, `Retry-After`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: Message | str,
        *,
        where: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status = status
        self.code = code
        self.where = where
        self.headers = dict(headers or {})


def json_answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json_text(data).encode(), status, headers=headers, media_type="application/json"
    )


def error_answer(exc: HttpError) -> Response:
    error = {"status": exc.status, "code": exc.code, "message": clean(str(exc))}
    if exc.where is not None:
        error["where"] = clean(exc.where)
    return json_answer({"error": error}, exc.status, exc.headers)


def media_type(content_type: str | None) -> str:
    """The body's media type from its Content-Type, lower-cased ("" without one); 415 for a
    charset other than UTF-8, the only encoding the server reads bodies in."""
    kind, *parameters = (content_type or "").split(";")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise HttpError(
                415,
                "unsupported_charset",
                say("charset {charset} is not taken: send UTF-8", charset=repr(charset[:100])),
                where="Content-Type",
            )
    return kind.strip().lower()


def clean(text: str, limit: int = 2000) -> str:
    """Untrusted text as an answer or the log may carry it: escaped, and cut to `limit`."""
    shown = sanitize(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"
