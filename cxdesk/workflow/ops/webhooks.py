"""Delivering the webhook outbox: claim a round of due rows under a lease and commit, send
them with no transaction open, then record each outcome; again until nothing is due.

At least once: a deliverer that dies after sending and before recording leaves its rows
leased, and the next pass after the lease sends them again (receivers de-duplicate by the
event id). Two deliverers at once never hold the same row: claims take turns (the write lock
on SQLite, an advisory lock on PostgreSQL) and take only rows no live lease holds.

In order per ticket and endpoint: a row is claimed only when every earlier pending row of
its ticket for that endpoint is claimed with it, and a round stops a ticket's rows at the
first that fails, so a later event never overtakes an earlier one that is still retried.
An endpoint that fails once is not tried again in the same pass."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import monotonic

import anyio
from sqlalchemy import and_, delete, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.config.webhooks import MIN_SECRET, WebhookEndpoint
from cxdesk.db import Database, serialise
from cxdesk.i18n import say
from cxdesk.models import WebhookDelivery
from cxdesk.models.webhooks import DELIVERED, FAILED, PENDING
from cxdesk.workflow.basics.backoff import retry_at
from cxdesk.workflow.ops.webhook_http import Attempt, client, post

ROUND = 50  # rows claimed at a time: what one lease covers
LEASE_SLACK = timedelta(seconds=60)
CLAIM_LOCK = "cxdesk webhooks"
logger = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0  # failed this time, to be tried again later
    failed: int = 0  # given up on after the last attempt
    cleaned: int = 0  # finished deliveries deleted after `keep`
    # Endpoints not sent to this pass, with why (a secret that is not set).
    unusable: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
            "cleaned": self.cleaned,
            "unusable": sorted(self.unusable),
        }


@dataclass(frozen=True)
class Claimed:
    """A row claimed for this round, as sent."""

    id: int
    event_id: str
    endpoint: str
    ticket_id: int
    attempts: int
    payload: str


def deliver(db: Database, settings: Settings, now: datetime, *, rounds: int = 20) -> DeliveryReport:
    """One pass over the outbox at `now`: what is due is sent, what fails is retried later.
    Each round claims at `now` plus the time the pass has taken so far, so that a later
    round's lease is as long as its first's; leased from `now` itself, it would run out
    while its rows are still being sent, and another deliverer would send them again."""
    report = DeliveryReport()
    started = monotonic()
    config = settings.webhooks
    endpoints = config.by_name()
    secrets: dict[str, str] = {}
    for name, endpoint in endpoints.items():
        secret = endpoint.signing_secret()
        if secret is None:
            report.unusable[name] = str(
                say(
                    "the environment variable {name} holds no secret of {least} characters",
                    name=endpoint.secret_env or "",
                    least=MIN_SECRET,
                )
            )
        else:
            secrets[name] = secret
    report.cleaned = clean(db, now - config.keep)
    blocked: set[str] = set()
    for _ in range(rounds):
        open_to = [name for name in secrets if name not in blocked]
        at = now + timedelta(seconds=monotonic() - started)
        claimed = claim(db, open_to, at, endpoints) if open_to else None
        if claimed is None:
            break
        token, rows = claimed
        results = anyio.run(_send, rows, endpoints, secrets, blocked)
        record(db, token, rows, results, now, config.max_attempts, report)
    for name, why in report.unusable.items():
        logger.warning("webhook %s not sent to: %s", name, why)
    return report


async def _send(
    rows: Sequence[Claimed],
    endpoints: dict[str, WebhookEndpoint],
    secrets: dict[str, str],
    blocked: set[str],
) -> dict[int, Attempt]:
    """Send the round's rows in id order, one at a time, each attempt within its endpoint's
    timeout (so the round ends within the lease `claim` took for it); a ticket's rows stop at
    its first failure, and an endpoint's at its first failure in the pass. Rows not sent are
    left out of the result."""
    results: dict[int, Attempt] = {}
    stopped: set[tuple[str, int]] = set()
    async with client() as http:
        for row in rows:
            key = (row.endpoint, row.ticket_id)
            if row.endpoint in blocked or key in stopped:
                stopped.add(key)
                continue
            attempt = await post(
                http, endpoints[row.endpoint], secrets[row.endpoint], row.event_id, row.payload
            )
            results[row.id] = attempt
            if not attempt.ok:
                stopped.add(key)
                blocked.add(row.endpoint)
    return results


def claim(
    db: Database, names: Sequence[str], now: datetime, endpoints: dict[str, WebhookEndpoint]
) -> tuple[str, list[Claimed]] | None:
    """Lease up to ROUND due rows of these endpoints, in id order, and commit: a row whose
    ticket has an earlier pending row that is not due, or leased by someone else, waits."""
    d = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    held = or_(col(earlier.next_at) > now, col(earlier.lease_until) > now)
    waits_behind = exists().where(
        col(earlier.status) == PENDING,
        col(earlier.endpoint) == col(d.endpoint),
        col(earlier.ticket_id) == col(d.ticket_id),
        col(earlier.id) < col(d.id),
        held,
    )
    free = or_(col(d.lease_until).is_(None), col(d.lease_until) <= now)
    token = uuid.uuid4().hex
    with db.write() as session:
        serialise(session.connection(), CLAIM_LOCK)
        picked = session.exec(
            select(d.id, d.endpoint)
            .where(
                d.status == PENDING,
                col(d.next_at) <= now,
                free,
                col(d.endpoint).in_(names),
                ~waits_behind,
            )
            .order_by(col(d.id))
            .limit(ROUND)
        ).all()
        if not picked:
            return None
        lease = LEASE_SLACK + sum(
            (timedelta(seconds=endpoints[e].timeout) for _, e in picked), timedelta(0)
        )
        session.execute(
            update(d)
            .where(col(d.id).in_([i for i, _ in picked]), col(d.status) == PENDING, free)
            .values(lease_until=now + lease, lease_token=token)
        )
        rows = session.exec(
            select(d).where(d.lease_token == token, d.status == PENDING).order_by(col(d.id))
        ).all()
        claimed = [
            Claimed(r.id or 0, r.event_id, r.endpoint, r.ticket_id, r.attempts, r.payload)
            for r in rows
        ]
    return token, claimed


def record(
    db: Database,
    token: str,
    rows: Sequence[Claimed],
    results: dict[int, Attempt],
    now: datetime,
    max_attempts: int,
    report: DeliveryReport,
) -> None:
    """Write down the round's outcomes and give back the rows it did not send. Only rows
    still under this round's lease are touched: one whose lease ran out and was claimed again
    belongs to the later round."""
    d = WebhookDelivery
    ours = and_(col(d.lease_token) == token, col(d.status) == PENDING)
    with db.write() as session:
        for row in rows:
            attempt = results.get(row.id)
            mine = and_(ours, col(d.id) == row.id)
            if attempt is None:
                values: dict[str, object] = {"lease_until": None, "lease_token": None}
            elif attempt.ok:
                values = _finished(DELIVERED, now, attempt)
                values["attempts"] = row.attempts + 1
                report.delivered += 1
            elif row.attempts + 1 >= max_attempts:
                values = _finished(FAILED, now, attempt)
                values["attempts"] = row.attempts + 1
                report.failed += 1
            else:
                values = {
                    "attempts": row.attempts + 1,
                    "next_at": retry_at(now, row.attempts + 1),
                    "last_status": attempt.status,
                    "last_error": attempt.error,
                    "lease_until": None,
                    "lease_token": None,
                }
                report.retrying += 1
            session.execute(update(d).where(mine).values(**values))


def _finished(status: str, now: datetime, attempt: Attempt) -> dict[str, object]:
    return {
        "status": status,
        "finished_at": now,
        "last_status": attempt.status,
        "last_error": attempt.error,
        "lease_until": None,
        "lease_token": None,
    }


def clean(db: Database, before: datetime) -> int:
    """Delete the deliveries that finished (delivered or failed) before `before`."""
    d = WebhookDelivery
    with db.write() as session:
        result = session.execute(
            delete(d).where(col(d.status) != PENDING, col(d.finished_at) < before)
        )
    return int(getattr(result, "rowcount", 0) or 0)
