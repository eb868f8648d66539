"""A follow-up's answer by its reply token (`POST /v1/followups/{token}`, the link a survey
carries): the token names the survey, and the answer is ingested as any follow-up event, so
it is stored, counted and idempotent as one from a feed would be.

The event's id is the follow-up's own (`followup-reply-N`): a second answer to one survey is
a duplicate, whatever its score, and the first one stands; so is an answer to a survey a
feed's follow-up event answered first (it would be counted twice in the scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from cxdesk.models import FollowUpStatus
from cxdesk.workflow.access.identity import SYSTEM_LOGIN
from cxdesk.workflow.basics.refs import ticket_ref
from cxdesk.workflow.intake.events import FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.intake.requests import ACCEPTED, DUPLICATE, ingest_request
from cxdesk.workflow.intake.validation import describe_validation_error
from cxdesk.workflow.reads.followups import followup_for_token

# What an answer may say; the rest of the event is the survey's.
ANSWER_FIELDS = ("nps", "csat", "ces", "comment")
ANSWERED, UNKNOWN, EXPIRED, INVALID = "answered", "unknown", "expired", "invalid"


@dataclass(frozen=True)
class ReplyOutcome:
    """What became of an answer: `answered`, `duplicate` (the survey was answered before),
    `unknown` (no survey has this token), `expired`, or `invalid` (with where and why)."""

    status: str
    ticket: str | None = None
    where: str | None = None
    reason: str | None = None


def answer_by_token(intake: Ingestor, token: str, answer: dict[str, Any]) -> ReplyOutcome:
    """Record `answer` (the `ANSWER_FIELDS` a customer gave) for the survey `token` names,
    in a run of `intake`'s (the server's)."""
    db, clock = intake.db, intake.clock
    with db.session() as session:
        found = followup_for_token(session, token)
        if found is None or found[1].customer_id is None:
            return ReplyOutcome(UNKNOWN)
        followup, ticket = found
        assert followup.id is not None and ticket.id is not None
        ref = ticket_ref(ticket.id)
        # Expired at its time, whether or not a sweep has closed its ticket since.
        if followup.status == FollowUpStatus.EXPIRED or followup.expires_at < clock():
            return ReplyOutcome(EXPIRED, ref)
        if followup.status == FollowUpStatus.ANSWERED:  # by this token, or a feed's answer
            return ReplyOutcome(DUPLICATE, ref)
        event = {
            "event_id": f"followup-reply-{followup.id}",
            "kind": "followup",
            "occurred_at": clock().isoformat(),
            "customer": {"id": ticket.customer_id},
            "channel": followup.channel,
            "ticket_id": ref,
            **{key: answer[key] for key in ANSWER_FIELDS if key in answer},
        }
    try:  # refused here, the answer is told back and nothing goes to the quarantine
        FeedbackEventIn.model_validate(event)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        return ReplyOutcome(INVALID, ref, where=where, reason=describe_validation_error(exc))
    record = Record(1, orjson.dumps(event).decode())
    (outcome,) = ingest_request(
        intake,
        intake.checked([record]),
        source=f"reply:{followup.id}",
        person=SYSTEM_LOGIN,
        in_lines=False,
    )
    if outcome.status == ACCEPTED:
        return ReplyOutcome(ANSWERED, ref)
    if outcome.status == DUPLICATE:
        return ReplyOutcome(DUPLICATE, ref)
    return ReplyOutcome(INVALID, ref, where="body", reason=outcome.reason)
