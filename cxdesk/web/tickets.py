"""`GET /v1/tickets/{ticket}`, one ticket as its caller may see it, and `GET /healthz`.

A ticket outside the caller's teams answers 404, as one that does not exist: the answer does
not tell the two apart. Contact details are masked for a role without the `pii` permission,
as on the desk (`reads.detail`).
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response

from cxdesk.errors import CxdeskError, NotFound
from cxdesk.i18n import say
from cxdesk.models import Role
from cxdesk.web.answers import HttpError, json_answer
from cxdesk.web.desk import desk_of
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.reads.detail import TicketDetail, read_ticket_detail

logger = logging.getLogger(__name__)
STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})


async def get_ticket(request: Request) -> Response:
    desk = desk_of(request)
    actor = await desk.caller(request)
    if actor.role not in STAFF:
        raise HttpError(
            403,
            "forbidden",
            say(
                "{login} ({role}) may not read tickets; only staff may",
                login=actor.login,
                role=actor.role,
            ),
            where="Authorization",
        )
    try:
        number = parse_ref(request.path_params["ticket"])
        detail: TicketDetail = await desk.work(read_ticket_detail, desk.db, number, actor)
    except NotFound as exc:
        raise HttpError(404, "not_found", exc.said or str(exc), where="path") from None
    return json_answer({**detail.row.to_json(), **detail.parts_json()})


async def healthz(request: Request) -> Response:
    """200 when the database answers at the schema this code is for; 503 otherwise, without
    saying more to a caller who need not be anyone (the log says what failed)."""
    desk = desk_of(request)
    try:
        await desk.work(desk.db.check_schema)
    except (CxdeskError, SQLAlchemyError, OSError) as exc:
        logger.warning("healthz: %s", str(exc).splitlines()[0] if str(exc) else type(exc))
        return json_answer({"status": "unavailable"}, 503)
    return json_answer({"status": "ok"})
