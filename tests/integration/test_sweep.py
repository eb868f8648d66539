"""The sweep on both backends: each escalation, mark and expiry once; metric alerts."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import FeedbackEvent, FollowUp, Ticket, TimelineEntry
from cxdesk.models.tickets import (
    FIRST_RESPONSE_BREACH_PENDING,
    RESOLUTION_BREACH_PENDING,
    RISK_PENDING,
)
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.readers import Record
from cxdesk.workflow.loop.desk_commands import Claim, Pend, Reopen, Resolve, Respond, Resume
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.sweep import explain_finders, finders, sweep

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
SETTINGS = Settings()


def feed(db: Database, *events: FeedbackEventIn) -> list[int | None]:
    ingestor = Ingestor(db, SETTINGS, source="test", clock=lambda: T0)
    return [ingestor.ingest_event(e, e.model_dump_json()).ticket_id for e in events]


def survey(
    event_id: str, customer: str, at: datetime, tier: str | None = None, **fields: object
) -> FeedbackEventIn:
    return FeedbackEventIn(
        event_id=event_id,
        occurred_at=at,
        customer=CustomerIn(id=customer, tier=tier),
        **{"kind": "survey", **fields},
    )


def timeline(db: Database, ticket_id: int, kind: str) -> list[str]:
    with db.session() as session:
        return list(
            session.exec(
                select(TimelineEntry.body)
                .where(TimelineEntry.ticket_id == ticket_id, TimelineEntry.kind == kind)
                .order_by(col(TimelineEntry.id))
            )
        )


def ticket(db: Database, ticket_id: int) -> Ticket:
    with db.session() as session:
        return session.get_one(Ticket, ticket_id)


def test_a_first_response_breach_escalates_once(db: Database) -> None:
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))  # P2: 24 business hours to respond
    due = ticket(db, tid).first_response_due
    assert sweep(db, SETTINGS, due - timedelta(minutes=1)).breaches == 0
    first = sweep(db, SETTINGS, due + timedelta(minutes=1))
    second = sweep(db, SETTINGS, due + timedelta(hours=1))
    assert (first.breaches, second.breaches) == (1, 0)
    t = ticket(db, tid)
    assert t.escalation_level == 1 and t.first_response_breached_at is not None
    assert timeline(db, tid, "escalation")[-1].startswith(
        "first response SLA breached: escalated to level 1"
    )


def test_a_resolution_breach_goes_to_level_two(db: Database) -> None:
    with db.write() as session:
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    TicketService(db, SETTINGS, "ann").handle(Respond(tid, "on it", at=T0 + timedelta(minutes=5)))
    due = ticket(db, tid).resolution_due
    assert sweep(db, SETTINGS, due + timedelta(minutes=1)).breaches == 1
    assert ticket(db, tid).escalation_level == 2
    assert sweep(db, SETTINGS, due + timedelta(days=1)).breaches == 0


def test_a_reopened_ticket_has_a_new_resolution_clock_that_can_breach(db: Database) -> None:
    with db.write() as session:
        for login, role in (("ann", "agent"), ("sue", "supervisor")):
            add_agent(
                session,
                login=login,
                display_name=login,
                role=role,
                teams=["care"],
                skills=[],
                at=T0,
            )
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Respond(tid, "on it", at=T0 + timedelta(minutes=5)))
    late = ticket(db, tid).resolution_due + timedelta(minutes=1)
    assert sweep(db, SETTINGS, late).breaches == 1
    ann.handle(Resolve(tid, code="fix", root_cause="courier", action="refund", at=late))
    TicketService(db, SETTINGS, "sue").handle(Reopen(tid, "customer still waiting", at=late))
    again = ticket(db, tid)
    assert again.resolution_breached_at is None and again.sla_due == again.resolution_due
    assert sweep(db, SETTINGS, again.resolution_due + timedelta(minutes=1)).breaches == 1
    assert ticket(db, tid).resolution_breached_at is not None


def test_at_risk_is_marked_once_per_clock(db: Database) -> None:
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    t = ticket(db, tid)
    moment = t.sla_risk_at + timedelta(minutes=1)
    assert sweep(db, SETTINGS, moment).at_risk == 1
    assert sweep(db, SETTINGS, moment + timedelta(minutes=5)).at_risk == 0
    assert len(timeline(db, tid, "escalation")) == 1


def test_tickets_at_risk_are_marked_in_the_order_of_their_numbers(db: Database) -> None:
    """As breaches are, on both backends: the index of risk times would give them in the
    order of their risk times on SQLite, and in any order on PostgreSQL."""
    # The VIP queue's two hours, round the clock, from 07:10 on Wednesday in Shanghai: at risk
    # before, and due after, the standard one opened on Monday is at risk at 09:00.
    wednesday = T0 + timedelta(days=1, hours=22, minutes=10)
    standard, gold = feed(
        db, survey("e1", "c1", T0, nps=2), survey("e2", "c2", wednesday, tier="gold", nps=2)
    )
    first, second = ticket(db, standard), ticket(db, gold)
    assert second.sla_risk_at < first.sla_risk_at
    moment = first.sla_risk_at + timedelta(minutes=1)
    assert moment < min(first.sla_due, second.sla_due)
    assert sweep(db, SETTINGS, moment).at_risk == 2
    with db.session() as session:
        marked = session.exec(
            select(TimelineEntry.ticket_id)
            .where(TimelineEntry.kind == "escalation")
            .order_by(col(TimelineEntry.id))
        ).all()
    assert marked == [standard, gold]


def resolved_case(db: Database) -> int:
    """Customer c1's case, opened by a detractor's survey at T0 and resolved an hour later by
    ann: in verify, its follow-up survey scheduled."""
    with db.write() as session:
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Resolve(tid, code="fix", root_cause="x", action="y", at=T0 + timedelta(hours=1)))
    assert tid is not None
    return tid


def test_an_unanswered_followup_closes_unverified_after_the_window(db: Database) -> None:
    tid = resolved_case(db)
    assert sweep(db, SETTINGS, T0 + timedelta(days=7)).followups_expired == 0
    assert sweep(db, SETTINGS, T0 + timedelta(days=7, hours=2)).followups_expired == 1
    t = ticket(db, tid)
    assert (t.stage, t.verify_outcome) == ("closed", "unverified")
    assert sweep(db, SETTINGS, T0 + timedelta(days=9)).followups_expired == 0


def test_an_answer_marks_its_followup_answered_also_in_a_unit_that_holds_it(
    db: Database,
) -> None:
    """The follow-up is marked answered as a row: a unit that had read it before the answer
    reads it again as written, and its own flush leaves the row as the answer left it."""
    tid = resolved_case(db)
    answer = survey(
        "e2", "c1", T0 + timedelta(hours=3), nps=10, kind="followup", ticket_id=f"CX-{tid:06d}"
    )
    with db.write() as session:
        held = session.exec(select(FollowUp).where(FollowUp.ticket_id == tid)).one()
        assert held.status == "scheduled"
        Ingestor(db, SETTINGS, source="test", clock=lambda: T0).ingest_event(
            answer, answer.model_dump_json(), session=session
        )
        assert (held.status, held.answer_event_id) == ("answered", "e2")
        session.flush()
    with db.session() as session:
        stored = session.exec(select(FollowUp).where(FollowUp.ticket_id == tid)).one()
        assert (stored.status, stored.answer_event_id) == ("answered", "e2")
    assert (ticket(db, tid).stage, ticket(db, tid).verify_outcome) == ("closed", "verified")


@pytest.mark.parametrize("nps", [10, 2])
def test_an_answer_and_a_complaint_in_one_batch_are_both_stored(db: Database, nps: int) -> None:
    """A follow-up answer and then an alert of the same customer in one batch: a good answer
    closes the case verified and the alert opens a new one; a bad one reopens the case and
    the alert lands on it. Refused as "closed", the alert took the whole batch with it."""
    tid = resolved_case(db)
    answer = survey(
        "e2", "c1", T0 + timedelta(hours=3), nps=nps, kind="followup", ticket_id=f"CX-{tid:06d}"
    )
    complaint = survey("e3", "c1", T0 + timedelta(hours=4), kind="complaint", comment="again!")
    records = [Record(n, e.model_dump_json()) for n, e in enumerate((answer, complaint), 1)]
    later = T0 + timedelta(hours=5)
    summary = Ingestor(db, SETTINGS, source="test", clock=lambda: later).run(records)
    assert (summary.accepted, summary.quarantined) == (2, 0)
    with db.session() as session:
        by_number = select(Ticket).where(Ticket.customer_id == "c1").order_by(col(Ticket.id))
        cases = session.exec(by_number).all()
        event = session.get_one(FeedbackEvent, "e3")
    if nps == 10:
        assert [(t.stage, t.verify_outcome) for t in cases] == [
            ("closed", "verified"),
            ("new", None),
        ]
        assert event.ticket_id == cases[1].id
    else:
        assert [t.stage for t in cases] == ["analyze"] and event.ticket_id == tid
        assert timeline(db, tid, "alert")


def test_an_alert_before_a_good_answer_in_one_batch_keeps_one_case(db: Database) -> None:
    """An alert reopens the case in verify before the answer comes: the answer is noted on
    the reopened case, and a later alert of the batch lands on it too, not on a new case."""
    tid = resolved_case(db)
    at = T0 + timedelta(hours=2)
    events = [
        survey("e2", "c1", at, kind="complaint", comment="still broken"),
        survey("e3", "c1", at, nps=10, kind="followup", ticket_id=f"CX-{tid:06d}"),
        survey("e4", "c1", at, kind="complaint", comment="and again"),
    ]
    records = [Record(n, e.model_dump_json()) for n, e in enumerate(events, 1)]
    later = T0 + timedelta(hours=5)
    summary = Ingestor(db, SETTINGS, source="test", clock=lambda: later).run(records)
    assert (summary.accepted, summary.quarantined) == (3, 0)
    with db.session() as session:
        cases = session.exec(select(Ticket).where(Ticket.customer_id == "c1")).all()
        on = {e: session.get_one(FeedbackEvent, e).ticket_id for e in ("e2", "e4")}
    assert [(t.id, t.stage) for t in cases] == [(tid, "analyze")] and on == {"e2": tid, "e4": tid}
    assert timeline(db, tid, "followup")[-1] == "follow-up answered NPS 10 while analyze"


def test_the_sweep_finds_its_work_through_its_own_indexes(db: Database) -> None:
    plans = explain_finders(db, T0, no_seqscan=True)
    assert "ix_tickets_risk_pending" in plans["at_risk"]
    assert "ix_tickets_first_response_breach_pending" in plans["first_response_breaches"]
    assert "ix_tickets_resolution_breach_pending" in plans["resolution_breaches"]
    if db.is_sqlite:  # PostgreSQL weighs the join by its statistics: checked at size
        assert "ix_followups_status_expires" in plans["followups_expired"]


def test_a_handled_clock_leaves_the_sweeps_indexes(db: Database) -> None:
    """A breach the sweep escalates without an at-risk mark (it was not running then) is
    out of the at-risk and first-response indexes: later passes do not read it again. The
    resolution clock stays in its own index until it breaches too."""
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))
    due = ticket(db, tid).first_response_due
    conditions = (RISK_PENDING, FIRST_RESPONSE_BREACH_PENDING, RESOLUTION_BREACH_PENDING)
    pending = [select(Ticket.id).where(*condition) for condition in conditions]
    with db.session() as session:
        assert [session.exec(q).all() for q in pending] == [[tid], [tid], [tid]]
    report = sweep(db, SETTINGS, due + timedelta(hours=1))
    assert (report.at_risk, report.breaches) == (0, 1)
    names = ("at_risk", "first_response_breaches", "resolution_breaches")
    with db.session() as session:
        assert [session.exec(q).all() for q in pending] == [[], [], [tid]]
        later = finders(due + timedelta(hours=2))
        assert [session.exec(later[name]).all() for name in names] == [[], [], []]
    resolution_due = ticket(db, tid).resolution_due
    assert sweep(db, SETTINGS, resolution_due + timedelta(minutes=1)).breaches == 1
    with db.session() as session:
        assert [session.exec(q).all() for q in pending] == [[], [], []]


def test_metric_alerts_are_looked_at_every_five_minutes(db: Database) -> None:
    now = T0 + timedelta(hours=6)
    assert sweep(db, SETTINGS, now).metric_alerts == []
    feed(db, *(survey(f"g{n}", f"gold{n}", now, tier="gold", nps=3) for n in range(3)))
    assert sweep(db, SETTINGS, now + timedelta(minutes=4)).metric_alerts == []
    fired = sweep(db, SETTINGS, now + timedelta(minutes=5)).metric_alerts
    assert fired == ["metric:gold_detractors:all"]
    # a rehearsal at an earlier instant looks again (and finds the problem open)
    assert sweep(db, SETTINGS, now + timedelta(minutes=1)).looked_at_metrics
    assert not sweep(db, SETTINGS, now + timedelta(minutes=2)).looked_at_metrics


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sweeps_running_at_once_escalate_once(
    backend: str, tmp_path: Path, run, request: pytest.FixtureRequest
) -> None:
    target = str(tmp_path / "race.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    run("--db", target, "init")
    db = Database.open(target)
    ids = feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=1) for n in range(40)))
    db.dispose()
    later = (T0 + timedelta(days=10)).isoformat()
    command = [
        sys.executable,
        "-m",
        "cxdesk",
        "--db",
        target,
        "--now",
        later,
        "sweep",
        "--format",
        "json",
    ]
    sweeps = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [s.communicate(timeout=120)[0] for s in sweeps]
    assert all(s.returncode == 0 for s in sweeps)
    assert sum(json.loads(out)["breaches"] for out in outputs) == len(ids)
    db = Database.open(target)
    for tid in ids:  # ten days on, both clocks breached: each escalated once
        assert [body.split(":")[0] for body in timeline(db, tid, "escalation")] == [
            "first response SLA breached",
            "resolution SLA breached",
        ]
    db.dispose()


def test_pending_time_is_kept_when_the_priority_rises(db: Database) -> None:
    with db.write() as session:
        add_agent(
            session, login="ann", display_name="Ann", role="agent", teams=["care"], skills=[], at=T0
        )
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2))  # P2 on the China business calendar
    ann = TicketService(db, SETTINGS, "ann")
    ann.handle(Claim(tid, at=T0))
    ann.handle(Pend(tid, "photos", at=T0 + timedelta(hours=1)))
    ann.handle(Resume(tid, at=T0 + timedelta(days=1, hours=1)))  # a whole working day pending
    paused = ticket(db, tid)
    assert paused.paused_seconds == 9 * 3600
    feed(db, survey("e2", "c1", T0 + timedelta(days=1, hours=2), tier="gold", nps=0))  # to P1
    raised = ticket(db, tid)
    assert raised.priority == "P1"
    # P1 runs 24×7: 2 h to first response from opening, plus the 9 working hours pending
    assert raised.first_response_due == T0 + timedelta(hours=11)


def complaints_per_day(counts: list[int]) -> list[FeedbackEventIn]:
    """That many complaints on Monday 2 March 2026 and the days after, 10:00 in Shanghai."""
    return [
        FeedbackEventIn(
            event_id=f"d{day}-{n}",
            kind="complaint",
            occurred_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC) + timedelta(days=day),
            customer=CustomerIn(id=f"k{day}-{n}"),
        )
        for day, count in enumerate(counts)
        for n in range(count)
    ]


def test_complaints_rising_three_days_running_opens_one_red_problem(db: Database) -> None:
    now = datetime(2026, 3, 6, 4, 0, tzinfo=UTC)  # Friday noon in Shanghai
    feed(db, *complaints_per_day([10, 12, 14, 17]))  # Mon..Thu: +20 %, +17 %, +21 %
    report = sweep(db, SETTINGS, now)
    assert report.metric_alerts == ["metric:complaints_rising:all"]
    assert sweep(db, SETTINGS, now + timedelta(hours=1)).metric_alerts == []
    with db.session() as session:
        problem = session.exec(select(Ticket).where(Ticket.kind == "problem")).one()
    assert problem.priority == "P1" and "red" in problem.tags
    evidence = timeline(db, problem.id, "alert")[-1]
    assert "03-02 10, 03-03 12, 03-04 14, 03-05 17" in evidence


def test_a_rise_that_stalls_does_not_fire(db: Database) -> None:
    now = datetime(2026, 3, 6, 4, 0, tzinfo=UTC)
    feed(db, *complaints_per_day([10, 12, 13, 17]))  # the middle rise is only 8 %
    assert "metric:complaints_rising:all" not in sweep(db, SETTINGS, now).metric_alerts


@pytest.mark.parametrize(("golds", "fires"), [(2, False), (3, True)])
def test_gold_detractors_within_a_day(db: Database, golds: int, fires: bool) -> None:
    feed(
        db,
        *(
            survey(f"g{n}", f"gold{n}", T0 + timedelta(hours=n), tier="gold", nps=3)
            for n in range(golds)
        ),
    )
    feed(db, survey("old", "gold-old", T0 - timedelta(days=2), tier="gold", nps=0))
    fired = sweep(db, SETTINGS, T0 + timedelta(hours=6)).metric_alerts
    assert ("metric:gold_detractors:all" in fired) is fires


def test_a_touchpoint_nps_drop_week_over_week_is_yellow(db: Database) -> None:
    now = T0 + timedelta(days=14)
    last_week = [10] * 18 + [8] * 6 + [3] * 6  # NPS 40 over 30 answers
    this_week = [10] * 15 + [8] * 6 + [3] * 9  # NPS 20 over 30 answers
    events = [
        survey(f"a{n}", f"c{n}", now - timedelta(days=10), nps=v, touchpoint="delivery")
        for n, v in enumerate(last_week)
    ]
    events += [
        survey(f"b{n}", f"c{n}", now - timedelta(days=2), nps=v, touchpoint="delivery")
        for n, v in enumerate(this_week)
    ]
    feed(db, *events)
    fired = sweep(db, SETTINGS, now).metric_alerts
    assert "metric:touchpoint_nps_drop:delivery" in fired
    with db.session() as session:
        problem = session.exec(
            select(Ticket).where(Ticket.rule == "metric:touchpoint_nps_drop:delivery")
        ).one()
    assert problem.priority == "P2"
    assert "40.0 (30 answers) → 20.0 (30 answers)" in timeline(db, problem.id, "alert")[-1]


def test_a_queue_csat_drop_week_over_week_is_yellow(db: Database) -> None:
    now = T0 + timedelta(days=14)
    ids = feed(db, *(survey(f"open{n}", f"c{n}", T0, nps=2) for n in range(30)))
    answers = []
    for week, good, at in (("a", 24, now - timedelta(days=10)), ("b", 18, now - timedelta(days=2))):
        answers += [
            FeedbackEventIn(
                event_id=f"{week}{n}",
                kind="followup",
                occurred_at=at,
                customer=CustomerIn(id=f"c{n}"),
                csat=5 if n < good else 2,
                ticket_id=f"CX-{tid:06d}",
            )
            for n, tid in enumerate(ids)
        ]
    feed(db, *answers)
    fired = sweep(db, SETTINGS, now).metric_alerts
    assert "metric:queue_csat_drop:aftersales" in fired
    with db.session() as session:
        problem = session.exec(
            select(Ticket).where(Ticket.rule == "metric:queue_csat_drop:aftersales")
        ).one()
    assert "80.0% (30 answers) → 60.0% (30 answers)" in timeline(db, problem.id, "alert")[-1]


def test_watch_sweeps_until_sigterm(new_db: str, run) -> None:
    import signal
    import time

    path = new_db
    run("--db", path, "init")
    db = Database.open(path)
    feed(db, survey("e1", "c1", T0, nps=1))
    db.dispose()
    later = (T0 + timedelta(days=10)).isoformat()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxdesk",
            "--db",
            path,
            "--now",
            later,
            "watch",
            "--interval",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    db = Database.open(path)
    while time.monotonic() < deadline:
        with db.session() as session:
            if session.get_one(Ticket, 1).escalation_level >= 1:  # 2: both clocks ran out
                break
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0 and "watch stopped" in err
    assert err.startswith("watching: a sweep every 1 s")  # said once the stop is handled
    assert "'breaches': 1" in out
