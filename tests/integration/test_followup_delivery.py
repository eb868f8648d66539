"""Follow-up surveys sent by the sweep on both backends: once each, with the reply token,
retried with backoff, failed for good with the command's words, suppressed per customer,
never twice from two sweeps at once, and told on the ticket's timeline."""

from __future__ import annotations

import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.config.followups import FollowupDeliveryConfig
from cxdesk.db import Database
from cxdesk.models import FollowUp, Ticket, TimelineEntry
from cxdesk.workflow.access.permissions import Actor
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.loop.commands import RecordSurveyDelivery
from cxdesk.workflow.loop.desk_commands import Claim, Resolve
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads.followups import followup_for_token, list_followups
from cxdesk.workflow.sweep import explain_finders, sweep
from tests.conftest import DEMO_ADMIN, DEMO_NOW, Run

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
RESOLVED = T0 + timedelta(hours=1)
BASE = "https://cx.example.com/v1/followups/"
# The sender: keeps each survey it is given as a file, or fails with the words in `fail`.
SENDER = """
import json, pathlib, sys, time, uuid
box = pathlib.Path(sys.argv[1])
survey = json.load(sys.stdin)
time.sleep(float(sys.argv[2]))
fail = box / "fail"
if fail.exists():
    sys.stderr.write(fail.read_text(encoding="utf-8"))
    sys.exit(1)
name = f"{survey['followup_id']}-{survey['attempt']}-{uuid.uuid4().hex}.json"
(box / name).write_text(json.dumps(survey), encoding="utf-8")
"""


def settings(box: Path, pause: float = 0, **delivery: object) -> Settings:
    return Settings(
        followup_command=[sys.executable, "-c", SENDER, str(box), str(pause)],
        followup_reply_base=BASE,
        followup_delivery=FollowupDeliveryConfig(**delivery),  # type: ignore[arg-type]
    )


def sent(box: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(box.glob("*.json"))]


def resolved_case(db: Database, customer: str, event: str = "e1", at: datetime = T0) -> int:
    """A case of `customer`'s detractor survey, claimed and resolved: its survey is due."""
    with db.write() as session:
        if session.get(Ticket, 1) is None:
            add_agent(
                session,
                login="ann",
                display_name="Ann",
                role="agent",
                teams=["care"],
                skills=[],
                at=T0,
            )
    contact = CustomerIn(id=customer, name="王芳", phone="13800000000", email="w@example.cn")
    survey = FeedbackEventIn(
        event_id=event, occurred_at=at, customer=contact, kind="survey", nps=2, channel="app"
    )
    ingestor = Ingestor(db, Settings(), source="test", clock=lambda: at)
    ticket_id = ingestor.ingest_event(survey, survey.model_dump_json()).ticket_id
    assert ticket_id is not None
    ann = TicketService(db, Settings(), "ann")
    ann.handle(Claim(ticket_id, at=at))
    ann.handle(
        Resolve(ticket_id, code="fix", root_cause="x", action="y", at=at + timedelta(hours=1))
    )
    return ticket_id


def answer(db: Database, ticket_id: int, event: str, at: datetime, nps: int) -> None:
    record = FeedbackEventIn(
        event_id=event,
        occurred_at=at,
        customer=CustomerIn(id="c1"),
        kind="followup",
        nps=nps,
        ticket_id=f"CX-{ticket_id:06d}",
    )
    Ingestor(db, Settings(), source="test", clock=lambda: at).ingest_event(
        record, record.model_dump_json()
    )


def followup(db: Database, ticket_id: int) -> FollowUp:
    with db.session() as session:
        return session.exec(
            select(FollowUp).where(FollowUp.ticket_id == ticket_id).order_by(col(FollowUp.id))
        ).all()[-1]


def told(db: Database, ticket_id: int) -> list[str]:
    with db.session() as session:
        return list(
            session.exec(
                select(TimelineEntry.body)
                .where(TimelineEntry.ticket_id == ticket_id, TimelineEntry.kind == "followup")
                .order_by(col(TimelineEntry.id))
            )
        )


def test_a_due_survey_is_sent_once_with_what_the_sender_needs(db: Database, tmp_path: Path) -> None:
    tid = resolved_case(db, "c1")
    config = settings(tmp_path)
    assert sweep(db, Settings(), RESOLVED).followups.sent == 0  # no command: nothing sent
    report = sweep(db, config, RESOLVED)
    assert (report.followups.sent, report.as_dict()["followups_sent"]) == (1, 1)
    assert sweep(db, config, RESOLVED + timedelta(hours=1)).followups.sent == 0
    row = followup(db, tid)
    (survey,) = sent(tmp_path)
    assert survey["ticket"] == f"CX-{tid:06d}" and survey["channel"] == "app"
    assert survey["customer"] == {
        "id": "c1",
        "name": "王芳",
        "phone": "13800000000",
        "email": "w@example.cn",
    }
    assert survey["reply_token"] == row.reply_token and len(row.reply_token) >= 32
    assert survey["reply_url"] == BASE + row.reply_token
    assert "王芳" in survey["text"] and f"CX-{tid:06d}" in survey["text"]
    assert (row.status, row.attempts, row.next_attempt_at, row.reason) == ("sent", 1, None, None)
    assert told(db, tid) == ["follow-up survey sent (attempt 1)"]
    with db.session() as session:
        found = followup_for_token(session, row.reply_token)
        assert found is not None and (found[0].id, found[1].id) == (row.id, tid)
        last = "B" if row.reply_token.endswith("A") else "A"  # another token, one letter off
        for other in ("", row.reply_token[:-1] + last, "x' OR '1'='1", "\x1b[2J" * 10, "A" * 65):
            assert followup_for_token(session, other) is None
    answer(db, tid, "f1", RESOLVED + timedelta(days=1), nps=9)
    assert (followup(db, tid).status, followup(db, tid).sent_at) == ("answered", row.sent_at)


def test_failures_retry_with_backoff_then_fail_with_the_commands_words(
    db: Database, tmp_path: Path
) -> None:
    tid = resolved_case(db, "c1")
    words = "!" * 5000 + "smtp says no\x1b]2;PWNED\x07\r\nBcc: x\x00"  # its last words count
    (tmp_path / "fail").write_text(words)
    config = settings(tmp_path, max_attempts=3)
    now = RESOLVED
    for attempt in (1, 2):
        report = sweep(db, config, now)
        assert (report.followups.retrying, report.followups.failed) == (1, 0)
        row = followup(db, tid)
        assert (row.status, row.attempts) == ("scheduled", attempt)
        wait = timedelta(minutes=2 ** (attempt - 1))  # the backoff: 1, then 2 minutes
        assert row.next_attempt_at is not None and row.next_attempt_at >= now + wait
        assert sweep(db, config, now + wait - timedelta(seconds=1)).followups.retrying == 0
        now = row.next_attempt_at
    report = sweep(db, config, now)
    assert (report.followups.retrying, report.followups.failed) == (0, 1)
    row = followup(db, tid)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert row.reason is not None and row.reason.startswith("exit status 1: …!!!")
    assert row.reason.endswith("smtp says no]2;PWNED Bcc: x")
    assert len(row.reason) <= 500 and not any(c in row.reason for c in "\x1b\x07\x00\r\n")
    (entry,) = told(db, tid)
    assert entry == f"follow-up survey not sent after 3 attempts: {row.reason}"
    assert sweep(db, config, now + timedelta(days=1)).followups.retrying == 0
    # No answer can come: the ticket closes unverified when the window ends, as ever.
    assert sweep(db, config, RESOLVED + timedelta(days=8)).followups_expired == 1
    with db.session() as session:
        assert session.get_one(Ticket, tid).verify_outcome == "unverified"
    assert followup(db, tid).reason == row.reason


def test_a_missing_program_is_a_failed_attempt(db: Database, tmp_path: Path) -> None:
    tid = resolved_case(db, "c1")
    config = Settings(
        followup_command=[str(tmp_path / "no-such-sender")],
        followup_delivery=FollowupDeliveryConfig(max_attempts=1),
    )
    assert sweep(db, config, RESOLVED).followups.failed == 1
    assert followup(db, tid).reason.startswith(f"cannot run {tmp_path / 'no-such-sender'}")


def test_one_survey_per_customer_per_window(db: Database, tmp_path: Path) -> None:
    first = resolved_case(db, "c1")
    config = settings(tmp_path)
    assert sweep(db, config, RESOLVED).followups.sent == 1
    answer(db, first, "f1", RESOLVED + timedelta(hours=1), nps=9)  # verified: closed
    second_at = T0 + timedelta(days=3)
    second = resolved_case(db, "c1", "e2", at=second_at)
    assert second != first
    report = sweep(db, config, second_at + timedelta(hours=1))
    assert (report.followups.sent, report.followups.suppressed) == (0, 1)
    row = followup(db, second)
    assert (row.status, row.attempts, row.next_attempt_at) == ("suppressed", 0, None)
    assert f"had one for CX-{first:06d}" in (row.reason or "")
    assert told(db, second) == [row.reason]
    # The ticket waits in verify: an answer still verifies it; without one it closes
    # unverified when its window ends, and the suppressed survey is counted expired.
    with db.session() as session:
        assert session.get_one(Ticket, second).stage == "verify"
    assert sweep(db, config, second_at + timedelta(days=8)).followups_expired == 1
    with db.session() as session:
        assert session.get_one(Ticket, second).verify_outcome == "unverified"
    assert followup(db, second).status == "expired" and len(sent(tmp_path)) == 1


def test_without_a_window_every_survey_goes(db: Database, tmp_path: Path) -> None:
    first = resolved_case(db, "c1")
    config = settings(tmp_path, suppress_days=0)
    sweep(db, config, RESOLVED)
    answer(db, first, "f1", RESOLVED + timedelta(hours=1), nps=9)
    resolved_case(db, "c1", "e2", at=T0 + timedelta(days=1))
    assert sweep(db, config, T0 + timedelta(days=1, hours=1)).followups.sent == 1


def test_two_sweeps_at_once_send_each_survey_once(db: Database, tmp_path: Path) -> None:
    tickets = [resolved_case(db, f"c{n}", f"e{n}") for n in range(6)]
    config = settings(tmp_path, pause=0.2)
    reports = []

    def one_sweep() -> None:
        own = Database.open(db.url)
        try:
            reports.append(sweep(own, config, RESOLVED))
        finally:
            own.dispose()

    threads = [threading.Thread(target=one_sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.followups.sent for r in reports) == 6
    surveys = sent(tmp_path)
    assert sorted(s["ticket"] for s in surveys) == sorted(f"CX-{t:06d}" for t in tickets)
    for ticket_id in tickets:
        assert told(db, ticket_id) == ["follow-up survey sent (attempt 1)"]


def test_a_claim_whose_sweep_stopped_is_taken_over_once_its_lease_ends(
    db: Database, tmp_path: Path
) -> None:
    tid = resolved_case(db, "c1")
    config = settings(tmp_path)
    lease = RESOLVED + timedelta(minutes=2)
    with db.write() as session:  # as a sweep leaves it that died while its command ran
        stopped = session.exec(select(FollowUp)).one()
        stopped.status, stopped.attempts, stopped.next_attempt_at = "sending", 1, lease
    assert sweep(db, config, lease - timedelta(seconds=1)).followups.sent == 0
    assert sweep(db, config, lease).followups.sent == 1
    row = followup(db, tid)
    assert (row.status, row.attempts) == ("sent", 2)
    # The stopped sweep's outcome, told late, changes nothing.
    service = TicketService(db, config)
    stale = RecordSurveyDelivery(tid, followup_id=row.id or 0, attempt=1, error="late")
    service.handle(stale)
    assert followup(db, tid).status == "sent"
    assert told(db, tid) == ["follow-up survey sent (attempt 2)"]


def test_a_stopped_last_attempt_fails_as_interrupted(db: Database, tmp_path: Path) -> None:
    tid = resolved_case(db, "c1")
    with db.write() as session:
        stopped = session.exec(select(FollowUp)).one()
        stopped.status, stopped.attempts, stopped.next_attempt_at = "sending", 2, RESOLVED
    report = sweep(db, settings(tmp_path, max_attempts=2), RESOLVED)
    assert (report.followups.failed, sent(tmp_path)) == (1, [])
    row = followup(db, tid)
    assert (row.status, row.attempts) == ("failed", 2)
    assert told(db, tid) == [f"follow-up survey not sent after 2 attempts: {row.reason}"]
    assert (row.reason or "").startswith("interrupted: the sweep sending it stopped")


def test_followups_are_listed_in_the_readers_queues_only(db: Database, tmp_path: Path) -> None:
    tid = resolved_case(db, "c1")
    sweep(db, settings(tmp_path), RESOLVED)
    with db.session() as session:
        (row,) = list_followups(session, Actor.system())
        assert (row.ticket, row.status, row.attempts, row.customer_id) == (
            f"CX-{tid:06d}",
            "sent",
            1,
            "c1",
        )
        assert list_followups(session, Actor.system(), status="failed") == []
        vip = Actor("vic", "supervisor", frozenset({"vip"}), pii=True)
        assert list_followups(session, vip) == []


def test_the_due_finder_reads_its_partial_index(db: Database) -> None:
    plans = explain_finders(db, T0, no_seqscan=True)
    assert "ix_followups_delivery_pending" in plans["followups_due"]


def test_the_cli_sends_the_demos_due_surveys_and_lists_them(
    demo_copy: str, run: Run, tmp_path: Path
) -> None:
    box = tmp_path / "box"
    box.mkdir()
    config = tmp_path / "cxdesk.toml"
    argv = [sys.executable, "-c", SENDER, str(box), "0"]
    config.write_text(f"followup_command = {json.dumps(argv)}\n", encoding="utf-8")
    admin = ("--db", demo_copy, "--config", str(config), "--now", DEMO_NOW.isoformat())
    code, out, err = run(*admin, "--as", DEMO_ADMIN, "sweep", "--format", "json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["followups_sent"] == len(sent(box)) > 0
    assert figures["followups_failed"] == figures["followups_retrying"] == 0
    code, out, _ = run(*admin, "followups", "list", "--status", "sent", "--format", "json")
    listed = json.loads(out)
    assert code == 0 and {row["ticket"] for row in listed} == {s["ticket"] for s in sent(box)}
    assert all(row["attempts"] == 1 and row["next_attempt"] is None for row in listed)
    code, out, _ = run(*admin, "followups", "list", "--wide")
    assert code == 0 and out.split()[:4] == ["ticket", "customer", "status", "attempts"]
    code, _, err = run(*admin, "--as", "zhang.wei", "followups", "list")
    assert code == 2 and "may not list follow-ups; supervisors and admins may" in err
    code, _, err = run(*admin, "followups", "list", "--status", "lost")
    assert code == 2 and "no follow-up status 'lost'" in err
    # The export still hands over what is due; what was just sent is not due again.
    code, out, _ = run(*admin, "followups", "export", "--format", "json")
    assert code == 0 and not {r["ticket_id"] for r in json.loads(out)} & {
        s["ticket"] for s in sent(box)
    }
