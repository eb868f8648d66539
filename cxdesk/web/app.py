"""The server's routes and how it answers what no route does.

A route is one line of `ROUTES`: a new endpoint is a function taking the request, which asks
`Desk.caller` (see `desk`) who calls (401, 429, 403 decided there) and the workflow layer
for the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.i18n import say
from cxdesk.web.access_log import AccessLog
from cxdesk.web.answers import HttpError, error_answer
from cxdesk.web.desk import Desk
from cxdesk.web.events import post_events
from cxdesk.web.replies import PREFIX, post_followup_answer
from cxdesk.web.tickets import get_ticket, healthz

if TYPE_CHECKING:
    from cxdesk.workflow.intake.request_pipeline import RequestPipeline

ROUTES = (
    Route("/healthz", healthz, methods=["GET"]),
    Route("/v1/events", post_events, methods=["POST"]),
    Route("/v1/tickets/{ticket}", get_ticket, methods=["GET"]),
    Route(PREFIX + "{token}", post_followup_answer, methods=["POST"]),
)


async def _refused(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    return error_answer(exc)


async def _routing(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, a method it does not take), in JSON."""
    assert isinstance(exc, HTTPException)
    method, path = request.method, request.url.path
    if exc.status_code == 405:
        message = say("{method} is not allowed on {path}", method=method, path=path)
        code = "method_not_allowed"
    else:
        message = say("no endpoint {method} {path}", method=method, path=path)
        code = "not_found"
    return error_answer(HttpError(exc.status_code, code, message, headers=exc.headers))


def build_app(
    db: Database,
    settings: Settings,
    clock: Callable[[], datetime],
    pipeline: RequestPipeline | None = None,
) -> Starlette:
    app = Starlette(
        routes=list(ROUTES),
        middleware=[Middleware(AccessLog)],
        exception_handlers={HttpError: _refused, HTTPException: _routing},
    )
    # Starlette answers a path with a slash too many by redirecting to one built from the
    # request's own Host header: a 307 to wherever the caller names, with no JSON error, and
    # a reply link's token in its Location. Such a path is one no endpoint has.
    app.router.redirect_slashes = False
    app.state.desk = Desk(db, settings, clock, pipeline)
    return app
