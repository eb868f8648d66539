"""Resolving a problem reaches its cases, on both backends: each linked open case hears of
the fix (an entry, its assignee a notification), and a supervisor applies the problem's
resolution to them — each case through the ordinary resolve, with its own follow-up survey,
and said per case: resolved, skipped or refused, with why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import PermissionDenied, WorkflowError
from cxdesk.models import FollowUp, Notification
from cxdesk.workflow.loop.desk_commands import (
    Analyze,
    ApplyProblemResolution,
    Claim,
    OpenProblem,
    Pend,
    Resolve,
)
from cxdesk.workflow.loop.service import TicketService
from tests.integration.test_problem_scope import links, staff
from tests.integration.test_sweep import T0, feed, survey, ticket, timeline

SETTINGS = Settings()
LATER = T0 + timedelta(hours=2)


def cases_of_late_delivery(db: Database) -> dict[str, int]:
    """Four cases of the driver late_delivery: in fix, pending, resolved, and new (its
    driver from its feedback)."""
    staff(db)
    ids = feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=2) for n in range(3)))
    ann = TicketService(db, SETTINGS, "ann")
    for tid in ids:
        ann.handle(Claim(tid, at=T0))
        ann.handle(Analyze(tid, "courier", "late_delivery", at=T0 + timedelta(minutes=30)))
    fix, pending, resolved = ids
    ann.handle(Pend(pending, "photos", at=T0 + timedelta(hours=1)))
    ann.handle(
        Resolve(resolved, code="refund", root_cause="c", action="a", at=T0 + timedelta(hours=1))
    )
    (new,) = feed(db, survey("e9", "c9", T0, nps=1, drivers=["late_delivery"]))
    return {"fix": fix, "pending": pending, "resolved": resolved, "new": new}


def resolved_problem(db: Database, cases: dict[str, int]) -> int:
    sue = TicketService(db, SETTINGS, "sue")
    problem = sue.handle(OpenProblem("driver", "late_delivery", at=T0 + timedelta(hours=1)))
    assert problem.id is not None
    assert links(db, problem.id) == sorted(cases.values())
    sue.handle(Claim(problem.id, at=LATER))
    with pytest.raises(WorkflowError):  # no resolution to apply yet
        sue.handle(ApplyProblemResolution(problem.id, at=LATER))
    sue.handle(
        Resolve(
            problem.id,
            code="fix",
            root_cause="the courier's new routing",
            action="routing rolled back",
            at=LATER,
        )
    )
    return problem.id


def test_resolving_a_problem_tells_its_open_cases(db: Database) -> None:
    cases = cases_of_late_delivery(db)
    problem_id = resolved_problem(db, cases)
    told = f"problem CX-{problem_id:06d} resolved (fix): routing rolled back"
    for case_id in cases.values():
        assert timeline(db, case_id, "link")[-1] == told
    with db.session() as session:
        notified = session.exec(
            select(Notification.ticket_id).where(
                Notification.login == "ann", Notification.kind == "problem"
            )
        ).all()
    # the assigned ones (the new case has nobody yet)
    assert sorted(notified) == sorted([cases["fix"], cases["pending"], cases["resolved"]])


def test_applying_a_problem_resolves_each_open_case_with_its_own_followup(db: Database) -> None:
    cases = cases_of_late_delivery(db)
    problem_id = resolved_problem(db, cases)
    with pytest.raises(PermissionDenied, match="may not apply a problem's resolution to its"):
        TicketService(db, SETTINGS, "ann").handle(ApplyProblemResolution(problem_id))
    applied = TicketService(db, SETTINGS, "sue").handle(
        ApplyProblemResolution(problem_id, at=LATER + timedelta(hours=1))
    )
    said = {int(c.case[3:]): (c.outcome, c.reason) for c in applied.cases}
    assert said[cases["fix"]] == ("resolved", "")
    assert said[cases["resolved"]] == ("skipped", "already verify")
    assert said[cases["pending"]][0] == "refused"
    assert "it is pending" in said[cases["pending"]][1]
    assert said[cases["new"]][0] == "refused" and "it is new" in said[cases["new"]][1]
    fixed = ticket(db, cases["fix"])
    assert fixed.stage == "verify"
    assert (fixed.resolution_code, fixed.root_cause, fixed.action_taken) == (
        "fix",
        "the courier's new routing",
        "routing rolled back",
    )
    with db.session() as session:
        surveys = session.exec(select(FollowUp.ticket_id)).all()
    assert sorted(surveys) == sorted([cases["fix"], cases["resolved"]])  # one each
    assert ticket(db, cases["pending"]).stage == "pending"
    assert timeline(db, problem_id, "note")[-1] == (
        "resolution applied to its cases: 1 resolved, 1 skipped, 2 refused"
    )
    again = TicketService(db, SETTINGS, "sue").handle(ApplyProblemResolution(problem_id))
    assert {c.outcome for c in again.cases if int(c.case[3:]) == cases["fix"]} == {"skipped"}


def test_the_cli_applies_a_problem(demo_copy: str, run) -> None:
    code, out, err = run("--db", demo_copy, "problem", "open", "--driver", "late_delivery")
    assert code == 0, err
    problem_ref = out.split()[0]
    code, _, err = run("--db", demo_copy, "problem", "apply", problem_ref)
    assert code != 0 and "cannot apply" in err  # not resolved yet
