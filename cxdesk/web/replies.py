"""`POST /v1/followups/{token}`: a customer's answer to a follow-up survey, by the reply
token the survey carried (its link or its mail), so the loop closes without anyone moving
files.

The token is the only credential: it names one survey, of one ticket, and is good until the
survey expires. The body is JSON (`{"nps": 9, "comment": "…"}`) or a web form's fields
(`application/x-www-form-urlencoded`), so a page's form can post the answer as it is. Answers
are limited per client address, per token, and in tokens naming no survey per client address
(see `reply_limits`); the token never reaches the access log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cxdesk.i18n import say
from cxdesk.web.answers import HttpError, clean, json_answer, media_type
from cxdesk.web.desk import desk_of
from cxdesk.web.reply_limits import client_key
from cxdesk.workflow.intake.events import SCORES, score_of_text
from cxdesk.workflow.intake.replies import (
    ANSWER_FIELDS,
    ANSWERED,
    EXPIRED,
    UNKNOWN,
    answer_by_token,
)

PREFIX = "/v1/followups/"
MAX_ANSWER_BODY = 16 << 10  # a score and a comment
_FORM = "application/x-www-form-urlencoded"


async def post_followup_answer(request: Request) -> Response:
    desk = desk_of(request)
    token = request.path_params["token"]
    client = client_key(request.client.host if request.client else None)
    desk.replies.admit(client, token)
    missed = False  # admit counted a miss, kept only for a token that names no survey
    try:
        async with desk.bodies.body(request, MAX_ANSWER_BODY) as body:
            answer = _answer_of(request.headers.get("content-type"), body)
            outcome = await desk.work(
                answer_by_token, desk.pipeline.intake, token, answer, ingest=True
            )
        missed = outcome.status == UNKNOWN
    finally:
        if not missed:
            desk.replies.found(client)
    if outcome.status == UNKNOWN:
        raise HttpError(404, "not_found", say("no follow-up survey has this token"), where="path")
    if outcome.status == EXPIRED:
        raise HttpError(
            410,
            "expired",
            say("the follow-up survey of {ref} has expired", ref=outcome.ticket or ""),
            where="path",
        )
    if outcome.status not in (ANSWERED, "duplicate"):
        raise HttpError(
            422,
            "invalid_answer",
            say("the answer is not taken: {reason}", reason=outcome.reason or ""),
            where=outcome.where,
        )
    return json_answer({"status": outcome.status, "ticket": outcome.ticket})


def _answer_of(content_type: str | None, body: bytes) -> dict[str, Any]:
    """The answer's fields, from a JSON object or a form; 415 for another type, 422 for a
    field an answer does not have or a body that is not one."""
    kind = media_type(content_type)
    if kind == "application/json":
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise HttpError(
                400, "bad_json", say("the body is not JSON: {error}", error=str(exc)), where="body"
            ) from None
        if not isinstance(value, dict):
            raise HttpError(
                422, "invalid_answer", say("the answer must be a JSON object"), where="body"
            )
        answer: dict[str, Any] = value
    elif kind == _FORM:
        try:
            # strict: a field percent-encoded in another charset is refused, not kept as U+FFFD
            pairs = parse_qsl(
                body.decode(), keep_blank_values=False, strict_parsing=True, errors="strict"
            )
        except (UnicodeDecodeError, ValueError):
            raise HttpError(
                400, "bad_form", say("the body is not a URL-encoded UTF-8 form"), where="body"
            ) from None
        answer = {k: score_of_text(v) if k in SCORES else v for k, v in pairs}
    else:
        raise HttpError(
            415,
            "unsupported_media_type",
            say(
                "Content-Type {given} is not taken: send {json} or {form}",
                given=repr(clean(kind, 100)) if kind else "(none)",
                json="application/json",
                form=_FORM,
            ),
            where="Content-Type",
        )
    unknown = sorted(set(answer) - set(ANSWER_FIELDS))
    if unknown:
        raise HttpError(
            422,
            "invalid_answer",
            say(
                "an answer has no field {field}; it may give {known}",
                field=repr(clean(unknown[0], 100)),
                known=", ".join(ANSWER_FIELDS),
            ),
            where="body",
        )
    return answer
