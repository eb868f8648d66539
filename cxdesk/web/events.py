"""`POST /v1/events`: feedback events in, through the same ingest as `cxdesk ingest`.

The body's Content-Type says how to read it; nothing is guessed from the bytes, so a body is
never read two ways. `application/json`: one event object, or an array of them.
`application/x-ndjson` (or `application/jsonl`): JSON Lines, one event a line, read as
`cxdesk ingest` reads a file. A body that cannot be read whole (JSON that does not parse,
over the limits, not UTF-8 JSON) is refused before anything is stored; a record that cannot
be taken is quarantined with its reason, as ingest does, and the others are stored.

The answer lists every record's outcome in order: 200 when none was quarantined (a replay's
duplicates are success: ingest is idempotent on `event_id`), 207 when some were.
"""

from __future__ import annotations

import secrets
from collections import Counter
from itertools import islice
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cxdesk.errors import PermissionDenied
from cxdesk.i18n import say
from cxdesk.web.answers import HttpError, clean, json_answer, media_type
from cxdesk.web.desk import Desk, desk_of
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.intake.requests import (
    ACCEPTED,
    DUPLICATE,
    QUARANTINED,
    RecordOutcome,
    json_records,
    jsonl_records,
)

JSON = "application/json"
LINES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")
_JSON_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


async def post_events(request: Request) -> Response:
    desk = desk_of(request)
    actor = await desk.caller(request)
    try:
        actor.require_ingest("ingest events")
    except PermissionDenied as exc:
        raise HttpError(403, "forbidden", exc.said or str(exc), where="Authorization") from None
    in_lines = _in_lines(request.headers.get("content-type"))
    async with desk.bodies.body(request, desk.limits.max_body) as body:
        request_id = secrets.token_hex(8)
        request.state.request_id = request_id
        answer, records = await desk.work(
            _ingest, desk, actor, body, in_lines, request_id, ingest=True
        )
    request.state.records = records
    return answer


def _in_lines(content_type: str | None) -> bool:
    """Whether the body is JSON Lines (else one JSON value); 415 for any other type, or a
    charset other than UTF-8."""
    kind = media_type(content_type)
    if kind != JSON and kind not in LINES:
        raise HttpError(
            415,
            "unsupported_media_type",
            say(
                "Content-Type {given} is not taken: send {json} (an event or an array of "
                "them) or {lines} (JSON Lines)",
                given=repr(clean(kind, 100)) if kind else "(none)",
                json=JSON,
                lines=LINES[0],
            ),
            where="Content-Type",
        )
    return kind in LINES


def _ingest(
    desk: Desk, actor: Actor, body: bytes, in_lines: bool, request_id: str
) -> tuple[Response, int]:
    """Read the body's records, ingest them, and write the answer (on a worker thread: each
    takes time the event loop owes other requests); the answer and how many records."""
    limit = desk.limits.max_records
    if in_lines:
        text = body.decode("utf-8", "surrogateescape")
        records = list(islice(jsonl_records(text), limit + 1))
    else:
        records = json_records(_value(body, limit))
    if len(records) > limit:
        raise HttpError(
            413,
            "too_many_records",
            say(
                "more than {limit} records; a request may carry {limit} (serve.max_records)",
                limit=limit,
            ),
            where="body",
        )
    if not records:
        raise HttpError(422, "no_records", say("the body holds no event"), where="body")
    outcomes = desk.pipeline.ingest(
        records, source=f"http:{actor.login}:{request_id}", person=actor.login, in_lines=in_lines
    )
    return _answer(outcomes, request_id), len(outcomes)


def _answer(outcomes: list[RecordOutcome], request_id: str) -> Response:
    """Each record's outcome in order: 200 when none was quarantined, else 207."""
    counts = Counter(outcome.status for outcome in outcomes)
    answer = {
        "request_id": request_id,
        "records": len(outcomes),
        **{status: counts[status] for status in (ACCEPTED, DUPLICATE, QUARANTINED)},
        "results": [_shown(outcome) for outcome in outcomes],
    }
    return json_answer(answer, 207 if counts[QUARANTINED] else 200)


def _value(body: bytes, limit: int) -> Any:
    """The body as one JSON value: an object, or an array of at most `limit` + 1 elements
    (the caller refuses more)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HttpError(
            400, "bad_json", say("the body is not JSON: {error}", error=str(exc)), where="body"
        ) from None
    if isinstance(value, list):
        return value[: limit + 1]
    if not isinstance(value, dict):
        raise HttpError(
            422,
            "not_an_event",
            say(
                "the body is a JSON {kind}; send an event object or an array of them",
                kind=_JSON_KINDS.get(type(value), "value"),
            ),
            where="body",
        )
    return value


def _shown(outcome: RecordOutcome) -> dict[str, Any]:
    data = outcome.as_json()
    for key in ("event_id", "reason"):
        if data.get(key) is not None:
            data[key] = clean(data[key])
    return data
