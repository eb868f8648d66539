"""Problems gather their cases, on both backends: a metric alert links the open cases of its
scope opened inside its window, cases that open later are linked as they open (ingest's bulk
path and the `OpenTicket` command), a supervisor opens a problem for a driver by hand, and a
link can be taken off. A problem links only its own team's cases (see `loop.problem_scope`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from cxdesk.config import Settings
from cxdesk.db import Database
from cxdesk.errors import PermissionDenied, WorkflowError
from cxdesk.models import ProblemScope, Stage, Ticket, TicketKind, TicketLink
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.events import FeedbackEventIn
from cxdesk.workflow.loop.commands import LinkCases, OpenTicket
from cxdesk.workflow.loop.desk_commands import Analyze, Claim, OpenProblem, Unlink
from cxdesk.workflow.loop.problem_scope import open_scopes
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.sweep import sweep
from tests.integration.query_plans import scans_of, statements_run
from tests.integration.test_sweep import T0, feed, survey, ticket, timeline

SETTINGS = Settings()
NOW = T0 + timedelta(days=14)
DELIVERY_ALERT = "metric:touchpoint_nps_drop:delivery"


def staff(db: Database) -> None:
    with db.write() as session:
        for login, role, teams in (
            ("ann", "agent", ["care"]),
            ("sue", "supervisor", ["care"]),
            ("vic", "supervisor", ["vip"]),
        ):
            add_agent(
                session, login=login, display_name=login, role=role, teams=teams, skills=[], at=T0
            )


def links(db: Database, problem_id: int) -> list[int]:
    with db.session() as session:
        return sorted(
            session.exec(select(TicketLink.case_id).where(TicketLink.problem_id == problem_id))
        )


def problem_of(db: Database, rule: str) -> Ticket:
    with db.session() as session:
        return session.exec(select(Ticket).where(Ticket.rule == rule)).one()


def delivery_drop() -> list[FeedbackEventIn]:
    """Delivery's NPS falls from 40 to 20 week over week (30 answers each). Last week's and
    this week's customers differ, so this week's detractors open cases of their own."""
    last_week = [10] * 18 + [8] * 6 + [3] * 6
    this_week = [10] * 15 + [8] * 6 + [3] * 9
    events = [
        survey(f"a{n}", f"old{n}", NOW - timedelta(days=10), nps=v, touchpoint="delivery")
        for n, v in enumerate(last_week)
    ]
    events += [
        survey(f"b{n}", f"new{n}", NOW - timedelta(days=2), nps=v, touchpoint="delivery")
        for n, v in enumerate(this_week)
    ]
    return events


def test_a_touchpoint_nps_drop_links_that_touchpoints_open_cases_of_the_week(
    db: Database,
) -> None:
    staff(db)
    old_cases = set(feed(db, *delivery_drop()[:30])) - {None}
    new_cases = set(feed(db, *delivery_drop()[30:])) - {None}
    (checkout,) = feed(db, survey("x1", "other", NOW - timedelta(days=1), nps=2, touchpoint="web"))
    (vip,) = feed(  # a gold customer's case of the same touchpoint: the VIP team's queue
        db,
        survey("g1", "gold1", NOW - timedelta(days=1), tier="gold", nps=2, touchpoint="delivery"),
    )
    assert len(old_cases) == 6 and len(new_cases) == 9
    assert DELIVERY_ALERT in sweep(db, SETTINGS, NOW).metric_alerts
    problem = problem_of(db, DELIVERY_ALERT)
    assert links(db, problem.id) == sorted(new_cases)  # not last week's, nor web's, nor VIP's
    assert checkout not in links(db, problem.id) and vip not in links(db, problem.id)
    for case_id in new_cases:
        assert timeline(db, case_id, "link") == [f"linked to problem CX-{problem.id:06d}"]
    (summary,) = timeline(db, problem.id, "link")
    assert summary.startswith("linked 9 cases of its scope: ")
    with db.session() as session:
        scope = session.get_one(ProblemScope, problem.id)
    assert (scope.metric, scope.dimension, scope.value) == (
        "touchpoint_nps_drop",
        "touchpoint",
        "delivery",
    )
    # fired at (15 − 10) / 31 (the gold customer answered too), below 40 − 5
    assert (round(scope.before, 1), scope.threshold) == (16.1, 35.0)
    assert scope.gather_since == NOW - timedelta(days=7)

    # A case of that touchpoint that opens afterwards, by ingest, is linked as it opens.
    later = NOW + timedelta(hours=1)
    (fresh,) = feed(db, survey("c1", "late", later, nps=1, touchpoint="delivery"))
    (elsewhere,) = feed(db, survey("c2", "late2", later, nps=1, touchpoint="web"))
    assert links(db, problem.id) == sorted({*new_cases, fresh})
    assert timeline(db, fresh, "link") == [f"linked to problem CX-{problem.id:06d}"]
    assert timeline(db, problem.id, "link")[-1] == f"linked 1 cases of its scope: CX-{fresh:06d}"
    assert timeline(db, elsewhere, "link") == []


def test_with_no_open_problem_ingest_links_nothing(db: Database) -> None:
    ids = feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=2, touchpoint="delivery") for n in range(5)))
    with db.session() as session:
        assert session.exec(select(TicketLink)).all() == []
    assert all(timeline(db, tid, "link") == [] for tid in ids)


def test_the_open_ticket_command_links_a_new_case_of_an_open_problems_scope(db: Database) -> None:
    staff(db)
    feed(db, survey("e1", "c1", T0, nps=2, touchpoint="delivery"))
    problem = TicketService(db, SETTINGS, "sue").handle(
        OpenProblem("touchpoint", "delivery", at=T0 + timedelta(hours=1))
    )
    # a promoter's answer opens no case by rule; the command opens one from it
    feed(db, survey("e2", "c2", T0 + timedelta(hours=2), nps=9, touchpoint="delivery"))
    with db.write() as session:
        case = TicketService(db, SETTINGS).handle(
            OpenTicket(
                kind=TicketKind.CASE,
                queue_id="aftersales",
                priority="P3",
                title="by the command",
                at=T0 + timedelta(hours=3),
                customer_id="c2",
                event_id="e2",
            ),
            session,
        )
        case_id = case.id
    assert case_id in links(db, problem.id)
    assert timeline(db, case_id, "link") == [f"linked to problem CX-{problem.id:06d}"]


def test_a_supervisor_opens_a_problem_for_a_driver_with_its_open_cases(db: Database) -> None:
    staff(db)
    ids = feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=2) for n in range(4)))
    ann = TicketService(db, SETTINGS, "ann")
    drivers = ["late_delivery", "late_delivery", "rude_staff", "late_delivery"]
    for tid, driver in zip(ids, drivers, strict=True):
        ann.handle(Claim(tid, at=T0))
        ann.handle(Analyze(tid, "courier", driver, at=T0 + timedelta(hours=1)))
    (from_event,) = feed(
        db, survey("e9", "c9", T0 + timedelta(hours=2), nps=1, drivers=["late_delivery"])
    )
    with pytest.raises(PermissionDenied):
        ann.handle(OpenProblem("driver", "late_delivery", at=T0 + timedelta(hours=3)))
    with pytest.raises(WorkflowError):
        TicketService(db, SETTINGS, "sue").handle(OpenProblem("queue", "vip"))
    with pytest.raises(WorkflowError, match="driver is 129 characters long; at most 128"):
        TicketService(db, SETTINGS, "sue").handle(OpenProblem("driver", "d" * 129))
    problem = TicketService(db, SETTINGS, "sue").handle(
        OpenProblem("driver", "late_delivery", at=T0 + timedelta(hours=3))
    )
    assert (problem.kind, problem.queue_id) == ("problem", "aftersales")
    assert links(db, problem.id) == sorted([ids[0], ids[1], ids[3], from_event])
    with pytest.raises(WorkflowError, match="already watches driver late_delivery"):
        TicketService(db, SETTINGS, "sue").handle(OpenProblem("driver", "late_delivery"))
    # the VIP team's supervisor cannot open one in the care team's queue
    with pytest.raises(PermissionDenied):
        TicketService(db, SETTINGS, "vic").handle(OpenProblem("driver", "late_delivery"))


def test_a_link_is_taken_off_by_hand(db: Database) -> None:
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2, touchpoint="delivery"))
    sue = TicketService(db, SETTINGS, "sue")
    problem = sue.handle(OpenProblem("touchpoint", "delivery", at=T0 + timedelta(hours=1)))
    assert links(db, problem.id) == [tid]
    with pytest.raises(PermissionDenied):
        TicketService(db, SETTINGS, "ann").handle(Unlink(tid, problem.id))
    sue.handle(Unlink(tid, problem.id, at=T0 + timedelta(hours=2)))
    assert links(db, problem.id) == []
    assert timeline(db, tid, "link")[-1] == f"unlinked from problem CX-{problem.id:06d}"
    assert timeline(db, problem.id, "link")[-1] == f"unlinked CX-{tid:06d}"
    with pytest.raises(WorkflowError):
        sue.handle(Unlink(tid, problem.id))
    assert ticket(db, tid).stage == "new"


def test_a_link_taken_off_and_put_back_in_one_batch_stands(db: Database) -> None:
    """Links are looked up and written as rows: one the batch took off through the session
    is gone when the same batch links the case again, which then links it, not "already"."""
    staff(db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2, touchpoint="delivery"))
    sue = TicketService(db, SETTINGS, "sue")
    problem = sue.handle(OpenProblem("touchpoint", "delivery", at=T0 + timedelta(hours=1)))
    later = T0 + timedelta(hours=2)
    with sue.batch([tid, problem.id]) as in_batch:
        sue.handle(Unlink(tid, problem.id, at=later), in_batch.session)
        sue.handle(LinkCases(problem.id, case_ids=(tid,), at=later), in_batch.session)
        sue.handle(LinkCases(problem.id, case_ids=(tid,), at=later), in_batch.session)
    assert links(db, problem.id) == [tid]
    assert timeline(db, tid, "link")[-2:] == [
        f"unlinked from problem CX-{problem.id:06d}",
        f"linked to problem CX-{problem.id:06d}",
    ]


def test_the_cli_opens_a_problem_and_unlinks_a_case(new_db: str, run) -> None:
    run("--db", new_db, "init")
    db = Database.open(new_db)
    (tid,) = feed(db, survey("e1", "c1", T0, nps=2, touchpoint="delivery"))
    db.dispose()
    at = (T0 + timedelta(hours=1)).isoformat()
    code, out, err = run("--db", new_db, "--now", at, "problem", "open", "--touchpoint", "delivery")
    assert code == 0, err
    assert "linked 1" in out
    problem_ref = out.split()[0]
    code, out, err = run(
        "--db", new_db, "--now", at, "ticket", "unlink", f"CX-{tid:06d}", problem_ref
    )
    assert code == 0, err
    code, _, err = run("--db", new_db, "problem", "open", "--touchpoint", "a", "--driver", "b")
    assert code != 0 and "one of --driver or --touchpoint" in err


def test_the_open_scopes_are_read_without_scanning_the_tickets(db: Database) -> None:
    """Every case opened asks for the open problems' scopes: read in one join with the
    tickets, SQLite scanned the stage index of every open ticket for the few scopes there
    are, on each ticket opened (on a million tickets, a second a ticket). The open problems
    are sought by kind among the tickets not closed, and their scopes by number: the scopes
    of closed problems, which a desk keeps for good, are not read either (each cost a
    lookup of its problem, on every case opened)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL's planner has the tables' sizes")
    staff(db)
    feed(db, *(survey(f"e{n}", f"c{n}", T0, nps=2, touchpoint="delivery") for n in range(30)))
    problem = TicketService(db, SETTINGS, "sue").handle(
        OpenProblem("touchpoint", "delivery", at=T0 + timedelta(hours=1))
    )
    with db.session() as session, statements_run() as ran:
        (scope,) = open_scopes(session)
    assert (scope.problem_id, scope.team_id, scope.value) == (problem.id, "care", "delivery")
    # whether any scope is kept, then the scopes with their open problems' teams
    assert len([statement for statement, _ in ran if statement.startswith("SELECT")]) == 2
    assert scans_of(db.engine, ran, "tickets") == []
    # only whether there is any scope at all, which stops at the first row
    assert scans_of(db.engine, ran, "problem_scopes") == ["SELECT 1 FROM problem_scopes LIMIT 1"]


def test_a_closed_problem_keeps_its_scope_but_gathers_no_case(db: Database) -> None:
    """A problem's scope stays recorded after it closes; only open problems match cases."""
    staff(db)
    service = TicketService(db, SETTINGS, "sue")
    problems = [
        service.handle(OpenProblem("touchpoint", touchpoint, at=T0 + timedelta(hours=1)))
        for touchpoint in ("delivery", "billing")
    ]
    with db.write() as session:
        session.get_one(Ticket, problems[0].id).stage = Stage.CLOSED
    with db.session() as session:
        assert session.exec(select(ProblemScope)).all() != []
        assert [(s.problem_id, s.value) for s in open_scopes(session)] == [
            (problems[1].id, "billing")
        ]


def test_without_a_problem_the_open_scopes_are_one_read_of_one_row(db: Database) -> None:
    """Most desks have no problem open most of the time: each case opened asks all the same."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's statements")
    staff(db)
    with db.session() as session, statements_run() as ran:
        assert open_scopes(session) == []
    reads = [statement for statement, _ in ran if statement.startswith("SELECT")]
    assert reads == ["SELECT 1 FROM problem_scopes LIMIT 1"]


def test_a_problem_opens_and_an_alert_fires_without_scanning_the_tickets(db: Database) -> None:
    """Whether a problem already watches the driver, touchpoint or metric alert, and which of
    the team's cases are open, are sought among the open tickets: "not closed" read every
    ticket, under the write lock (180 and 270 ms on a million), for each problem opened by
    hand and each metric alert of a sweep."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plan; PostgreSQL's planner has the tables' sizes")
    staff(db)
    feed(db, *delivery_drop())
    with statements_run() as ran:
        assert DELIVERY_ALERT in sweep(db, SETTINGS, NOW).metric_alerts
        TicketService(db, SETTINGS, "sue").handle(
            OpenProblem("driver", "late_delivery", at=NOW + timedelta(hours=1))
        )
    problems = [s for s, _ in ran if "tickets.rule = ?" in s]
    assert len(problems) == 2  # the alert's check and the hand-opened problem's
    assert scans_of(db.engine, ran, "tickets") == []
    with pytest.raises(WorkflowError, match="already watches"):
        TicketService(db, SETTINGS, "sue").handle(
            OpenProblem("driver", "late_delivery", at=NOW + timedelta(hours=2))
        )
