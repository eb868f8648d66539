"""Ticket events into the webhook outbox, on both backends: each kind written once by the
real paths that make it (ingest's batch, the commands, the sweep, follow-up answers, a
problem's verification), none when no endpoint is configured, none for a change undone."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.config.webhooks import WebhookEndpoint, WebhooksConfig
from cxdesk.db import Database
from cxdesk.errors import WorkflowError
from cxdesk.models import WebhookDelivery
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import read_jsonl
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.desk_commands import Claim, Escalate, OpenProblem, Resolve, Respond
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.sweep import sweep
from tests.integration.test_problem_scope import staff as problem_staff
from tests.integration.test_sweep import T0, ticket
from tests.integration.test_sweep import feed as feed_unhooked
from tests.integration.test_sweep import survey as plain_survey

SECRET = "s3cret-s3cret-s3cret"


def hooked(*endpoints: WebhookEndpoint) -> Settings:
    chosen = endpoints or (WebhookEndpoint(name="crm", url="http://127.0.0.1:9/", secret=SECRET),)
    return Settings(webhooks=WebhooksConfig(endpoints=list(chosen)))


HOOKED = hooked()


def events(db: Database, endpoint: str = "crm") -> list[dict[str, Any]]:
    """The endpoint's outbox rows' bodies, in the order they were written."""
    with db.session() as session:
        rows = session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint == endpoint)
            .order_by(col(WebhookDelivery.id))
        ).all()
    bodies = [json.loads(row.payload) for row in rows]
    for row, body in zip(rows, bodies, strict=True):
        assert (row.kind, row.event_id, row.ticket_id) == (
            body["kind"],
            body["id"],
            body["ticket"]["id"],
        )
    return bodies


def kinds(db: Database, endpoint: str = "crm") -> list[str]:
    return [body["kind"] for body in events(db, endpoint)]


def ingest(
    db: Database,
    settings: Settings,
    event_id: str,
    at: datetime,
    customer: str = "c1",
    **fields: Any,
) -> int:
    """One event through ingest's batch (the bulk path), returning its ticket's number."""
    event = FeedbackEventIn(
        event_id=event_id,
        occurred_at=at,
        customer=CustomerIn(
            id=customer, name="王芳", phone="13800138000", email="wf@example.com", tier="standard"
        ),
        **{"kind": "survey", **fields},
    )
    ingestor = Ingestor(db, settings, source="test", clock=lambda: at)
    number = ingestor.ingest_event(event, event.model_dump_json()).ticket_id
    assert number is not None
    return number


@pytest.fixture
def desk(db: Database) -> Database:
    problem_staff(db)  # ann (agent) and sue (supervisor) in care
    return db


def resolve(db: Database, settings: Settings, tid: int, at: datetime) -> None:
    ann = TicketService(db, settings, "ann")
    ann.handle(Claim(tid, at=at))
    ann.handle(Resolve(tid, code="fix", root_cause="depot", action="resent", at=at))


def test_the_loop_tells_opened_escalated_resolved_verified_once_each(desk: Database) -> None:
    tid = ingest(desk, HOOKED, "e1", T0, nps=2)
    ann = TicketService(desk, HOOKED, "ann")
    ann.handle(Claim(tid, at=T0 + timedelta(minutes=1)))
    ann.handle(Respond(tid, "on it", at=T0 + timedelta(minutes=2)))
    sue = TicketService(desk, HOOKED, "sue")
    sue.handle(Escalate(tid, reason="angry", at=T0 + timedelta(minutes=3)))
    ann.handle(Resolve(tid, code="refund", root_cause="x", action="y", at=T0 + timedelta(hours=1)))
    ingest(desk, HOOKED, "f1", T0 + timedelta(days=1), kind="followup", nps=9, ticket_id=str(tid))
    told = events(desk)
    assert [e["kind"] for e in told] == [
        "ticket.opened",
        "ticket.escalated",
        "ticket.resolved",
        "ticket.verified",
    ]
    opened, escalated, resolved, verified = told
    assert opened["actor"] == "cxdesk" and opened["details"] == {"rule": "detractor"}
    assert opened["ticket"] == {
        "ref": f"CX-{tid:06d}",
        "id": tid,
        "kind": "case",
        "queue": "aftersales",
        "team": "care",
        "priority": "P2",
        "stage": "new",
        "customer_id": "c1",
        "assignee": None,
        "escalation_level": 0,
    }
    assert opened["occurred_at"] == T0.isoformat()
    assert escalated["actor"] == "sue"
    assert escalated["details"] == {"level": 1, "from_level": 0, "command": "escalate"}
    assert resolved["details"] == {"resolution_code": "refund"}
    assert resolved["ticket"]["stage"] == "verify"
    assert verified["details"] == {"outcome": "verified"}
    assert verified["ticket"]["stage"] == "closed"
    assert len({e["id"] for e in told}) == 4
    raw = json.dumps(told, ensure_ascii=False)
    assert "王芳" not in raw and "13800138000" not in raw and "wf@example.com" not in raw


def test_a_bad_answer_tells_reopened_then_escalated(desk: Database) -> None:
    tid = ingest(desk, HOOKED, "e1", T0, nps=5)
    resolve(desk, HOOKED, tid, T0 + timedelta(hours=1))
    ingest(desk, HOOKED, "f1", T0 + timedelta(days=1), kind="followup", nps=2, ticket_id=str(tid))
    told = events(desk)
    assert [e["kind"] for e in told][-2:] == ["ticket.reopened", "ticket.escalated"]
    reopened, escalated = told[-2:]
    assert reopened["details"] == {"reopen_count": 1, "from_stage": "verify", "command": "reopen"}
    assert escalated["details"] == {"level": 1, "from_level": 0, "command": "reopen"}
    assert reopened["ticket"]["stage"] == "analyze"


def test_the_sweep_tells_each_breach_once_with_its_escalation(desk: Database) -> None:
    tid = ingest(desk, HOOKED, "e1", T0, nps=2)
    first_due = ticket(desk, tid).first_response_due
    sweep(desk, HOOKED, first_due + timedelta(minutes=1))
    sweep(desk, HOOKED, first_due + timedelta(minutes=2))  # nothing more to do
    assert kinds(desk) == ["ticket.opened", "ticket.breached", "ticket.escalated"]
    breached = events(desk)[1]
    assert breached["details"] == {"clock": "first_response", "due": first_due.isoformat()}
    assert breached["actor"] == "cxdesk"
    resolution_due = ticket(desk, tid).resolution_due
    sweep(desk, HOOKED, resolution_due + timedelta(minutes=1))
    told = events(desk)
    assert [e["kind"] for e in told][3:] == ["ticket.breached", "ticket.escalated"]
    assert told[3]["details"]["clock"] == "resolution"
    assert told[4]["details"] == {"level": 2, "from_level": 1, "command": "sla"}


def test_a_followup_expired_by_the_sweep_tells_verified_unverified(desk: Database) -> None:
    tid = ingest(desk, HOOKED, "e1", T0, nps=5)
    resolve(desk, HOOKED, tid, T0 + timedelta(minutes=5))
    sweep(desk, HOOKED, T0 + HOOKED.verify.window + timedelta(hours=1))
    told = events(desk)
    assert told[-1]["kind"] == "ticket.verified"
    assert told[-1]["details"] == {"outcome": "unverified"}
    assert kinds(desk).count("ticket.verified") == 1


@pytest.mark.parametrize(
    ("scores", "last"),
    [([10] * 20, ["ticket.verified"]), ([8] * 20, ["ticket.reopened", "ticket.escalated"])],
    ids=["recovered", "not-recovered"],
)
def test_a_problems_verification_tells_its_outcome(
    desk: Database, scores: list[int], last: list[str]
) -> None:
    opened_at = T0 + timedelta(days=14)
    before = [8] * 10 + [10] * 10
    feed_unhooked(
        desk,
        *(
            plain_survey(f"b{n}", f"b{n}", opened_at - timedelta(days=3), nps=v, touchpoint="d")
            for n, v in enumerate(before)
        ),
    )
    sue = TicketService(desk, HOOKED, "sue")
    problem = sue.handle(OpenProblem("touchpoint", "d", at=opened_at))
    assert problem.id is not None
    sue.handle(Claim(problem.id, at=opened_at))
    resolved_at = opened_at + timedelta(hours=1)
    sue.handle(Resolve(problem.id, code="fix", root_cause="r", action="a", at=resolved_at))
    feed_unhooked(
        desk,
        *(
            plain_survey(f"a{n}", f"a{n}", resolved_at + timedelta(days=2), nps=v, touchpoint="d")
            for n, v in enumerate(scores)
        ),
    )
    until = resolved_at + HOOKED.metric_alerts.verify_window
    sweep(desk, HOOKED, until + timedelta(minutes=1))
    sweep(desk, HOOKED, until + timedelta(minutes=2))
    told = events(desk)
    assert [e["kind"] for e in told] == ["ticket.opened", "ticket.resolved", *last]
    assert told[0]["ticket"]["kind"] == "problem" and told[0]["actor"] == "sue"


def test_a_ticket_opened_by_command_is_told_once(desk: Database) -> None:
    service = TicketService(desk, HOOKED)  # automation: the metric alerts' way in
    with desk.write() as session:
        made = service.handle(
            OpenTicket(kind="case", queue_id="billing", priority="P3", title="t", at=T0), session
        )
    assert [(e["kind"], e["ticket"]["id"]) for e in events(desk)] == [("ticket.opened", made.id)]


def test_nothing_is_written_without_endpoints(desk: Database) -> None:
    plain = Settings()
    tid = ingest(desk, plain, "e1", T0, nps=2)
    sue = TicketService(desk, plain, "sue")
    sue.handle(Escalate(tid, reason="now", at=T0))
    sweep(desk, plain, ticket(desk, tid).resolution_due + timedelta(days=1))
    resolve(desk, plain, tid, T0 + timedelta(days=10))
    with desk.session() as session:
        assert session.exec(select(WebhookDelivery)).all() == []


def test_an_endpoint_hears_only_the_kinds_queues_and_teams_it_names(desk: Database) -> None:
    settings = hooked(
        WebhookEndpoint(name="all", url="https://a.example/", secret=SECRET),
        WebhookEndpoint(
            name="vip", url="https://b.example/", secret=SECRET, queues=["vip"], teams=["vip"]
        ),
        WebhookEndpoint(
            name="breaches", url="https://c.example/", secret=SECRET, events=["ticket.breached"]
        ),
    )
    tid = ingest(desk, settings, "e1", T0, nps=2)  # aftersales, care
    sweep(desk, settings, ticket(desk, tid).first_response_due + timedelta(minutes=1))
    assert kinds(desk, "all") == ["ticket.opened", "ticket.breached", "ticket.escalated"]
    assert kinds(desk, "vip") == []
    assert kinds(desk, "breaches") == ["ticket.breached"]
    # one event, one id, whichever endpoints hear it
    assert events(desk, "all")[1]["id"] == events(desk, "breaches")[0]["id"]


def test_a_refused_command_leaves_no_event(desk: Database) -> None:
    tid = ingest(desk, HOOKED, "e1", T0, nps=2)
    sue = TicketService(desk, HOOKED, "sue")
    sue.handle(Escalate(tid, reason="one", at=T0))
    sue.handle(Escalate(tid, reason="two", at=T0))
    with pytest.raises(WorkflowError):
        sue.handle(Escalate(tid, reason="three", at=T0))
    with pytest.raises(WorkflowError):  # a resolution needs its code, after the handler began
        TicketService(desk, HOOKED, "sue").handle(
            Resolve(tid, code="nope", root_cause="r", action="a", at=T0)
        )
    assert kinds(desk) == ["ticket.opened", "ticket.escalated", "ticket.escalated"]


def test_bulk_ingest_writes_one_opened_event_per_new_case(desk: Database) -> None:
    lines = []
    for n in range(40):
        at = (T0 + timedelta(minutes=n)).isoformat()
        customer = f"k{n % 25}"  # 25 customers: 15 of the 40 alerts join an open case
        lines.append(
            json.dumps(
                {
                    "event_id": f"b{n}",
                    "kind": "survey",
                    "occurred_at": at,
                    "customer": {"id": customer},
                    "nps": 1,
                }
            )
        )
    ingestor = Ingestor(desk, HOOKED, source="bulk", clock=lambda: T0, batch_size=7)
    summary = ingestor.run(read_jsonl(io.StringIO("\n".join(lines) + "\n")))
    told = events(desk)
    assert [e["kind"] for e in told] == ["ticket.opened"] * 25
    assert sorted(e["ticket"]["customer_id"] for e in told) == sorted(f"k{n}" for n in range(25))
    assert len({e["ticket"]["id"] for e in told}) == 25
    assert summary.tickets_created == 25
