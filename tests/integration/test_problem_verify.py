"""Problems are verified by their metric, on both backends: resolving one starts its verify
window; when the window is over the sweep concludes — recovered past the threshold: closed
verified, with the before and after figures; not: reopened and escalated; too few answers:
closed unverified. `report loop` counts them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.models import ProblemScope
from cxdesk.workflow.insight.metrics import Period, loop_report
from cxdesk.workflow.loop.desk_commands import Claim, OpenProblem, Reopen, Resolve
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.sweep import explain_finders, finders, sweep
from tests.integration.test_problem_scope import (
    DELIVERY_ALERT,
    NOW,
    delivery_drop,
    problem_of,
    staff,
)
from tests.integration.test_sweep import T0, feed, survey, ticket, timeline

SETTINGS = Settings()
OPENED = T0 + timedelta(days=14)
RESOLVED = OPENED + timedelta(hours=1)
UNTIL = RESOLVED + SETTINGS.metric_alerts.verify_window


def resolved_delivery_problem(db: Database) -> int:
    """A problem opened by hand for delivery, whose NPS over the 14 days before was 50
    (20 answers, no detractor: no cases), resolved at RESOLVED."""
    staff(db)
    before = [8] * 10 + [10] * 10
    feed(
        db,
        *(
            survey(f"b{n}", f"b{n}", OPENED - timedelta(days=3), nps=v, touchpoint="delivery")
            for n, v in enumerate(before)
        ),
    )
    sue = TicketService(db, SETTINGS, "sue")
    problem = sue.handle(OpenProblem("touchpoint", "delivery", at=OPENED))
    assert problem.id is not None
    sue.handle(Claim(problem.id, at=OPENED))
    sue.handle(
        Resolve(problem.id, code="fix", root_cause="the depot", action="new depot", at=RESOLVED)
    )
    return problem.id


@pytest.mark.parametrize(
    ("scores", "stage", "outcome", "level", "said"),
    [
        (
            [10] * 20,
            "closed",
            "verified",
            0,
            "verified by touchpoint_nps: 50.0 → 100.0 (20 answers; threshold 50.0); closed",
        ),
        (
            [8] * 20,
            "analyze",
            None,
            1,
            "touchpoint_nps did not recover: 50.0 → 0.0 (20 answers; threshold 50.0); "
            "reopened, escalation level 1",
        ),
        (
            [10] * 5,
            "closed",
            "unverified",
            0,
            "not verified by touchpoint_nps: 50.0 → 100.0 (5 answers; threshold 50.0); "
            "closed unverified",
        ),
    ],
    ids=["recovered", "not-recovered", "too-few-answers"],
)
def test_the_sweep_concludes_a_problems_verify_window(
    db: Database, scores: list[int], stage: str, outcome: str | None, level: int, said: str
) -> None:
    problem_id = resolved_delivery_problem(db)
    assert ticket(db, problem_id).stage == "verify"
    feed(
        db,
        *(
            survey(f"a{n}", f"a{n}", RESOLVED + timedelta(days=2), nps=v, touchpoint="delivery")
            for n, v in enumerate(scores)
        ),
    )
    assert sweep(db, SETTINGS, UNTIL - timedelta(minutes=1)).problems_verified == 0
    assert ticket(db, problem_id).stage == "verify"
    assert sweep(db, SETTINGS, UNTIL + timedelta(minutes=1)).problems_verified == 1
    concluded = ticket(db, problem_id)
    assert (concluded.stage, concluded.verify_outcome) == (stage, outcome)
    assert concluded.escalation_level == level
    entries = timeline(db, problem_id, "escalation" if level else "note")
    assert entries[-1] == said
    with db.session() as session:
        scope = session.get_one(ProblemScope, problem_id)
    assert (scope.before, scope.answers) == (50.0, len(scores))
    assert scope.outcome == (outcome or "reopened")
    # concluded once: the finder no longer finds it
    assert sweep(db, SETTINGS, UNTIL + timedelta(hours=1)).problems_verified == 0
    with db.session() as session:
        assert session.exec(finders(UNTIL + timedelta(days=1))["problems_due"]).all() == []


def test_a_problem_reopened_by_hand_is_not_concluded_by_the_sweep(db: Database) -> None:
    problem_id = resolved_delivery_problem(db)
    TicketService(db, SETTINGS, "sue").handle(
        Reopen(problem_id, "the depot is not open yet", at=RESOLVED + timedelta(days=1))
    )
    assert sweep(db, SETTINGS, UNTIL + timedelta(minutes=1)).problems_verified == 0
    assert ticket(db, problem_id).stage == "analyze"
    with db.session() as session:
        assert session.get_one(ProblemScope, problem_id).outcome == "stopped"


def test_the_verify_finder_reads_its_own_index(db: Database) -> None:
    plans = explain_finders(db, T0, no_seqscan=True)
    assert "ix_problem_scopes_verify_pending" in plans["problems_due"]


def test_report_loop_counts_problems_opened_verified_and_reopened(db: Database) -> None:
    problem_id = resolved_delivery_problem(db)
    feed(
        db,
        *(
            survey(f"a{n}", f"a{n}", RESOLVED + timedelta(days=2), nps=10, touchpoint="delivery")
            for n in range(20)
        ),
    )
    sweep(db, SETTINGS, UNTIL + timedelta(minutes=1))
    with db.session() as session:
        figures = {row["figure"]: row["value"] for row in loop_report(session, Period())}
    assert figures["problems_opened"] == 1
    assert figures["problems_verified"] == 1
    assert figures["problems_reopened"] == 0
    hours = (UNTIL + timedelta(minutes=1) - OPENED).total_seconds() / 3600
    assert figures["problems_median_hours_to_verified"] == round(hours, 1)
    assert ticket(db, problem_id).verify_outcome == "verified"
    with db.session() as session:
        assert session.exec(select(ProblemScope)).one().after == 100.0


def test_a_metric_alerts_problem_is_verified_against_the_alerts_threshold(db: Database) -> None:
    """The touchpoint's NPS fell from 40 to 20 (the alert fires at 40 − 5 = 35); over the
    verify window it is 100: back past 35, verified."""
    staff(db)
    feed(db, *delivery_drop())
    assert DELIVERY_ALERT in sweep(db, SETTINGS, NOW).metric_alerts
    problem_id = problem_of(db, DELIVERY_ALERT).id
    sue = TicketService(db, SETTINGS, "sue")
    sue.handle(Claim(problem_id, at=NOW))
    resolved = NOW + timedelta(hours=1)
    sue.handle(Resolve(problem_id, code="fix", root_cause="depot", action="new depot", at=resolved))
    feed(
        db,
        *(
            survey(f"v{n}", f"v{n}", resolved + timedelta(days=1), nps=10, touchpoint="delivery")
            for n in range(20)
        ),
    )
    until = resolved + SETTINGS.metric_alerts.verify_window
    assert sweep(db, SETTINGS, until + timedelta(minutes=1)).problems_verified == 1
    assert ticket(db, problem_id).verify_outcome == "verified"
    assert timeline(db, problem_id, "note")[-1] == (
        "verified by touchpoint_nps_drop: 20.0 → 100.0 (20 answers; threshold 35.0); closed"
    )


def test_a_linked_case_refused_its_note_keeps_no_entry_the_audit_does_not_cover(
    db: Database,
) -> None:
    """Resolving a problem notes its open cases in the problem's transaction; one refused
    there (a clock its calendar cannot count from) went on without its note, but its entry,
    written before the refusal, stayed, and `audit verify --deep` found a timeline entry no
    audit row recorded."""
    from datetime import UTC, datetime

    from cxdesk.models import Ticket
    from cxdesk.workflow.audit.verify import verify_deep

    staff(db)
    first, broken = feed(
        db,
        survey("e1", "c1", T0, nps=2, drivers=["late_delivery"]),
        survey("e2", "c2", T0, nps=2, drivers=["late_delivery"]),
    )
    sue = TicketService(db, SETTINGS, "sue")
    problem = sue.handle(OpenProblem("driver", "late_delivery", at=T0 + timedelta(hours=1)))
    assert problem.id is not None
    with db.write() as session:  # a stored due time no calendar can count back from
        case = session.get_one(Ticket, broken)
        case.first_response_due = case.sla_due = datetime(1, 1, 1, 1, tzinfo=UTC)
    sue.handle(Claim(problem.id, at=T0 + timedelta(hours=2)))
    sue.handle(Resolve(problem.id, code="fix", root_cause="depot", action="new depot", at=RESOLVED))
    assert len(timeline(db, first, "link")) == 2  # linked, then told of the resolution
    assert len(timeline(db, broken, "link")) == 1  # linked only
    with db.session() as session:
        assert verify_deep(session).problem is None
