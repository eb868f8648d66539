"""The read side's search and its interrupter, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

import cxdesk.workflow.reads.word_ways as word_ways
from cxdesk.db import Database
from cxdesk.models import Stage, Ticket
from cxdesk.workflow.reads.queries import (
    Interrupter,
    Search,
    Sort,
    TicketFilter,
    View,
    count_tickets,
    list_tickets,
)
from cxdesk.workflow.reads.ticket_filter import filtered
from cxdesk.workflow.reads.word_ways import Way, matching, within_steps
from tests.conftest import DEMO_NOW, Run, engine_for, pg_database_url
from tests.integration.query_plans import plans_of, statements_run

ME = "liu.yang"  # an agent with open tickets in the small demo

# A statement that runs for a minute or more unless stopped.
SLOW = {
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
    "WHERE x < 10000000000) SELECT count(*) FROM c",
    "postgresql": "SELECT pg_sleep(120)",
}


def run_slow(db: Database, interrupter: Interrupter, errors: list[Exception]) -> threading.Thread:
    def work() -> None:
        with db.session() as session, interrupter.running(session):
            try:
                session.execute(sa.text(SLOW[db.engine.dialect.name])).all()
            except sa.exc.OperationalError as exc:
                errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_an_interrupted_statement_stops_and_its_connection_serves_again(db: Database) -> None:
    interrupter = Interrupter()
    interrupter.interrupt()  # nothing running: nothing happens
    errors: list[Exception] = []
    thread = run_slow(db, interrupter, errors)
    for _ in range(300):  # until it stops (an interrupt before the statement begins is lost)
        interrupter.interrupt()
        thread.join(0.1)
        if not thread.is_alive():
            break
    assert not thread.is_alive(), "the statement was not stopped within 30 s"
    assert len(errors) == 1
    interrupter.interrupt()  # after the session closed: its pooled connection is left alone
    with db.session() as session:
        assert session.execute(sa.text("SELECT 1")).scalar() == 1


def test_free_text_matches_words_of_titles_and_customers(demo_copy: str) -> None:
    db = Database.open(demo_copy)
    with db.session() as session:
        every = list_tickets(session, TicketFilter(), limit=10_000)
        sample = next(r for r in every if r.customer_name and "快递" in r.title)
        english = next(r for r in every if "parcel" in r.title)

        def found(text: str) -> list[int]:
            f = TicketFilter(search=Search.parse(text))
            rows = list_tickets(session, f, limit=10_000)
            assert count_tickets(session, f) == len(rows)
            return [r.number for r in rows]

        assert sample.number in found(sample.title[1:3])  # Chinese: anywhere in a title
        assert sample.number in found(sample.customer_name[-1])  # one character of a name
        assert sample.number in found(sample.customer_id)
        assert english.number in found("parc")  # other scripts: the start of a word
        assert english.number not in found("arcel")
        assert found("zzzz-nothing") == []
        assert found("%") == found("_") == [r.number for r in every]  # punctuation: no words
        two = [r.number for r in every if "快递" in r.title or "快递" in (r.customer_name or "")]
        assert two and found("快递") == two
        down = [r.number for r in every if "down" in r.title.lower()]
        assert down and found("DOWN") == found("Down") == found("down") == down  # any case
        theirs = [r.number for r in every if r.customer_id == sample.customer_id]
        assert found(f"customer:{sample.customer_id}") == theirs  # exact, not a word
        assert found(f"customer:{sample.customer_id[:-1]}") == []
    db.dispose()


WORDS = [
    "快递",
    "王",
    "退款",
    "down",
    "refund",
    "r",
    "zzzz",
    "%",
    "_",
    "cx-000001",
    "priority:P1 王",
    "priority:P2 退款",
    "down 快递",
    "queue:vip 快递",
    "stage:closed 王",
]


def usable(session: Session, f: TicketFilter, way: Way) -> Way:
    """`way`, where it can find `f`'s words on this backend; else looked up."""
    walks = way in (Way.WALKED, Way.SIFTED)
    if walks and (session.get_bind().dialect.name != "sqlite" or not f.search.only_indexed()):
        return Way.LOOKED_UP
    return way


def test_every_way_finds_the_same_tickets(demo_copy: str) -> None:
    """The ways `word_ways.choose` picks among select the same tickets, on each backend."""
    db = Database.open(demo_copy)
    with db.session() as session:
        for text in WORDS:
            for view in View:
                f = TicketFilter(view=view, me=ME, now=DEMO_NOW, search=Search.parse(text))
                looked_up = sorted(session.exec(matching(f, Way.LOOKED_UP)))
                for way in Way:
                    found = sorted(session.exec(matching(f, usable(session, f, way))))
                    assert found == looked_up, (text, view, way)
    db.dispose()


def answers(db: Database, view: View) -> list[tuple[list[str], list[str], int]]:
    """Two pages of five and the count capped at ten, of each word in each order."""
    found = []
    with db.session() as session:
        for text, sort in itertools.product(WORDS, [None, *Sort]):
            f = TicketFilter(view=view, me=ME, now=DEMO_NOW, sort=sort, search=Search.parse(text))
            first, second = (
                [r.id for r in list_tickets(session, f, limit=5, offset=offset)]
                for offset in (0, 5)
            )
            found.append((first, second, count_tickets(session, f, cap=10)))
    return found


@pytest.mark.parametrize("view", list(View))
def test_pages_and_counts_are_the_same_every_way(
    demo_copy: str, monkeypatch: pytest.MonkeyPatch, view: View
) -> None:
    """A page in each order, further pages and a capped count are the same whichever way
    the words are found, and however a walk goes on for an order of its own: the list's
    first tickets checked, the walk's tickets sorted, or (more of them than SORTED_HITS)
    the whole list read in its order and checked."""
    db = Database.open(demo_copy)
    monkeypatch.setattr(word_ways, "choose", lambda _s, _f: Way.LOOKED_UP)
    looked_up = answers(db, view)
    assert any(first for first, _, _ in looked_up) or view is View.AT_RISK  # none at DEMO_NOW
    walks = [Way.WALKED, Way.SIFTED] if db.is_sqlite else []  # PostgreSQL walks no index
    tries = [(Way.CHECKED, (2_000, 1_000)), *itertools.product(walks, ((2_000, 1_000), (3, 2)))]
    for way, (checked_first, sorted_hits) in tries:
        monkeypatch.setattr(word_ways, "choose", lambda s, f, way=way: usable(s, f, way))
        monkeypatch.setattr(word_ways, "CHECKED_FIRST", checked_first)
        monkeypatch.setattr(word_ways, "SORTED_HITS", sorted_hits)
        assert answers(db, view) == looked_up, (way, checked_first, sorted_hits)
    db.dispose()


def test_a_view_of_open_tickets_names_their_stages_in_its_statement(demo_copy: str) -> None:
    """`mine` seeks each open stage in the assignee's index instead of reading every ticket
    they closed, and the stages are written into the statement, not bound, so that a plan
    PostgreSQL keeps for the statement still knows how few tickets they hold."""
    db = Database.open(demo_copy)
    f = TicketFilter(view=View.MINE, me=ME)
    sent: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with db.session() as session:
        assert count_tickets(session, f) == 3
        if db.is_sqlite:
            mine = filtered(select(col(Ticket.id)), f).compile(
                session.get_bind(), compile_kwargs={"literal_binds": True}
            )
            plan = [row[-1] for row in session.execute(sa.text(f"EXPLAIN QUERY PLAN {mine}"))]
            assert any("(assignee=? AND stage=?)" in step for step in plan), plan
    (counted,) = [text for text in sent if "count(*)" in text]
    assert all(f"'{stage.value}'" in counted for stage in Stage if stage is not Stage.CLOSED)
    db.dispose()


@pytest.mark.parametrize(("view", "way"), [(View.ALL, Way.WALKED), (View.UNASSIGNED, Way.SIFTED)])
def test_a_walk_checks_the_terms_in_their_index(demo_sqlite: str, view: View, way: Way) -> None:
    """Each ticket a walk of the word index meets is checked against the filter's priority,
    queue and kind in `ix_tickets_terms`, not in the ticket's row."""
    db = Database.open(str(demo_sqlite))
    f = TicketFilter(view=view, search=Search.parse("快递 priority:P1 queue:vip kind:case"))
    with db.session() as session:
        walk = matching(f, way).compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in session.execute(sa.text(f"EXPLAIN QUERY PLAN {walk}"))]
    assert plan[-1] == "SEARCH tickets USING COVERING INDEX ix_tickets_terms (id>? AND id<?)"
    assert not any("PRIMARY KEY" in step for step in plan), plan
    db.dispose()


def test_a_walk_out_of_steps_is_looked_up_with_the_same_answer(
    demo_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.open(str(demo_sqlite))
    monkeypatch.setattr(word_ways, "COMMON_WORD", 1)  # every word is walked, not looked up
    walked = answers(db, View.ALL)
    assert any(first for first, _, _ in walked)
    monkeypatch.setattr(word_ways, "CHECK_STEPS", 1)  # every walk runs out at once
    assert answers(db, View.ALL) == walked
    db.dispose()


def test_the_steps_are_counted_afresh_each_run(
    demo_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite counts the steps of a statement it keeps prepared across its runs: a check
    that fits its steps is never stopped, however often it runs, and one that does not
    runs out."""
    db = Database.open(str(demo_sqlite))
    monkeypatch.setattr(word_ways, "CHECK_STEPS", 50_000)
    counting = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
    small = sa.text(counting.format(n=1_000) + "SELECT count(*) FROM c")  # ~17,000 steps
    large = sa.text(counting.format(n=100_000) + "SELECT count(*) FROM c")
    with db.session() as session:
        runs = [
            within_steps(session, lambda: session.execute(small).scalar(), lambda: None)
            for _ in range(20)
        ]
        assert runs == [1_000] * 20
        out = within_steps(session, lambda: session.execute(large).scalar(), lambda: "out")
        assert out == "out"
    db.dispose()


def test_escalated_and_at_risk_views_list_their_tickets_by_the_seeking_index(
    demo_copy: str,
) -> None:
    """The escalated view holds the open tickets on the ladder, and SQLite seeks them in the
    (escalation_level, stage) index, not among every open ticket; the at-risk view holds the
    tickets between their risk and due times, found from now on in the due times' index, not
    among every ticket ever at risk. Both as the views mean them, on both backends."""
    db = Database.open(demo_copy)
    with db.session() as session:
        tickets = session.exec(select(Ticket)).all()
        risky = sorted(t.sla_risk_at for t in tickets if t.sla_risk_at and t.sla_due)
        now = risky[len(risky) // 2]  # some at risk then, some breached, some not yet
        escalated = TicketFilter(view=View.ESCALATED)
        at_risk = TicketFilter(view=View.AT_RISK, now=now)
        expected = {
            View.ESCALATED: {
                t.id for t in tickets if t.escalation_level > 0 and t.stage != Stage.CLOSED
            },
            View.AT_RISK: {
                t.id
                for t in tickets
                if t.sla_risk_at and t.sla_due and t.sla_risk_at <= now <= t.sla_due
            },
        }
        for f in (escalated, at_risk):
            assert expected[f.view], f.view  # the demo has some of each
            assert {r.number for r in list_tickets(session, f, limit=10_000)} == expected[f.view]
            assert count_tickets(session, f) == len(expected[f.view])
        if db.is_sqlite:
            plans = {}
            for f in (escalated, at_risk):
                listed = filtered(select(col(Ticket.id)), f).compile(
                    session.get_bind(), compile_kwargs={"literal_binds": True}
                )
                plan = session.execute(sa.text(f"EXPLAIN QUERY PLAN {listed}"))
                plans[f.view] = " ".join(row[-1] for row in plan)
            assert (
                "ix_tickets_escalation_stage (escalation_level=? AND stage=?)"
                in plans[View.ESCALATED]
            ), plans
            assert "ix_tickets_sla_due (sla_due>?)" in plans[View.AT_RISK], plans
    db.dispose()


def test_the_views_never_read_their_tickets_through_the_index_of_the_open_work(
    demo_copy: str,
) -> None:
    """The dashboard's index of the tickets not closed is for its counts alone: SQLite, which
    keeps no statistics, took it for the escalated view filtered by a kind and a stage (0.3 ->
    42 ms on a million tickets) and for mine and unassigned filtered by a stage. The views
    name the open stages, which never let it be used, whatever the filter."""
    db = Database.open(demo_copy)
    if not db.is_sqlite:
        pytest.skip("SQLite's plan; PostgreSQL's planner has the tables' sizes")
    filters = ("", "kind:case stage:verify", "stage:new", "queue:vip", "priority:P1 kind:case")
    with db.session() as session, statements_run() as ran:
        for view, text in itertools.product(View, filters):
            f = TicketFilter(view=view, me="li.na", now=DEMO_NOW, search=Search.parse(text))
            list_tickets(session, f, limit=20)
            count_tickets(session, f, cap=1000)
    assert len(ran) >= len(View) * len(filters) * 2
    through = [
        (statement, step)
        for statement, steps in plans_of(db.engine, ran)
        for step in steps
        if "ix_tickets_open_work" in step
    ]
    assert through == []
    db.dispose()


def test_ingest_and_the_rules_dry_run_seek_a_customers_open_case_by_the_customer(
    demo_copy: str, run: Run, tmp_path: Path
) -> None:
    """A customer's open case is sought in the customers' index, whatever else the statement
    says: with the closed stage bound, SQLite took the index of the tickets not closed and
    read every open case (150-200 ms a batch on a million tickets; `--batch 1`, a small
    request and each record of `rules test` paid it once an event)."""
    db = Database.open(demo_copy)
    if not db.is_sqlite:
        pytest.skip("SQLite's plan; PostgreSQL's planner has the tables' sizes")
    with db.session() as session:
        customer = session.exec(
            select(Ticket.customer_id).where(
                Ticket.kind == "case",
                Ticket.stage != Stage.CLOSED,
                col(Ticket.customer_id).is_not(None),
            )
        ).first()
    db.dispose()
    assert customer is not None
    at = (DEMO_NOW - timedelta(hours=1)).isoformat()
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": f"plan{n}",
                    "kind": "complaint",
                    "occurred_at": at,
                    "customer": {"id": customer},
                    "comment": "again",
                }
            )
            + "\n"
            for n in range(3)
        )
    )
    now = ("--now", DEMO_NOW.isoformat())
    with statements_run() as ran:
        code, _, err = run("--db", demo_copy, *now, "--as", "zhou.min", "rules", "test", str(feed))
        assert code == 0, err
        code, _, err = run(
            "--db", demo_copy, *now, "--as", "zhou.min", "ingest", "--batch", "1", str(feed)
        )
        assert code == 0, err
    db = Database.open(demo_copy)
    lookups = [
        " ".join(steps)
        for statement, steps in plans_of(db.engine, ran)
        if "tickets.customer_id" in statement and "tickets.stage" in statement
    ]
    db.dispose()
    assert len(lookups) >= 2  # the dry run's and ingest's
    assert all("ix_tickets_customer_stage (customer_id=?)" in plan for plan in lookups), lookups


def test_postgresql_takes_words_common_among_the_newest_tickets_without_counting_them(
    pg_demo_template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A word in COMMON_WORD of the newest SAMPLED tickets is common at once: the word
    index's count of its tickets, which builds a bitmap of every one of them however many,
    is not asked. A word in fewer of them is counted: common or not, the answer is the
    count's, also for a word whose few tickets are all among the newest."""
    engine = engine_for(pg_database_url(pg_demo_template))
    monkeypatch.setattr(word_ways, "SAMPLED", 100)
    monkeypatch.setattr(word_ways, "COMMON_WORD", 10)
    sent: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    try:
        with Session(engine) as session:
            ids = session.exec(select(col(Ticket.id)).order_by(col(Ticket.id).desc())).all()
            newest = set(ids[:100])

            def tickets_of(word: str) -> set[int]:
                found = matching(TicketFilter(search=Search.parse(word)), Way.LOOKED_UP)
                return set(session.exec(found).all())

            def common(word: str) -> bool:
                phrases = Search.parse(word).indexed()
                assert phrases is not None
                sent.clear()
                return word_ways.common(session, phrases)

            words = ["c", "快递", "王", "退款", "zzqx"]
            in_newest = {word: len(tickets_of(word) & newest) for word in words}
            in_all = {word: len(tickets_of(word)) for word in words}
            assert max(in_newest.values()) >= 10 and min(in_newest.values()) < 10, in_newest
            assert any(0 < n < 10 for n in in_newest.values()), in_newest
            for word in words:
                assert common(word) == (in_all[word] >= 10), word
                counted = any("LIMIT %(n)s) s" in text and "ORDER BY" not in text for text in sent)
                assert counted == (in_newest[word] < 10), word
    finally:
        engine.dispose()  # a template database must have nobody connected when it is copied
