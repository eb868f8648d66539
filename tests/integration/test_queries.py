"""The read side's search and its interrupter, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

import cxdesk.workflow.reads.tickets as tickets
from cxdesk.db import Database
from cxdesk.workflow.reads.queries import (
    Interrupter,
    Search,
    TicketFilter,
    count_tickets,
    list_tickets,
)

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


WORDS = ["快递", "王", "down", "zzzz", "%", "_", "cx-000001", "priority:P1 王", "down 快递"]


def test_words_looked_up_or_checked_match_the_same_tickets(demo_copy: str) -> None:
    """The two ways `_finding_words` chooses between select the same tickets, on each
    backend."""
    db = Database.open(demo_copy)
    with db.session() as session:
        for text in WORDS:
            f = TicketFilter(search=Search.parse(text))
            looked_up = sorted(session.exec(tickets._matching(f, False)))
            assert sorted(session.exec(tickets._matching(f, True))) == looked_up
    db.dispose()


def test_a_check_out_of_steps_is_looked_up_with_the_same_answer(
    demo_sqlite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database.open(str(demo_sqlite))

    def answers() -> list[tuple[list[str], int]]:
        with db.session() as session:
            return [
                (
                    [r.id for r in list_tickets(session, f, limit=50)],
                    count_tickets(session, f, cap=100),
                )
                for f in (TicketFilter(search=Search.parse(text)) for text in WORDS)
            ]

    monkeypatch.setattr(tickets, "COMMON_WORD", 1)  # every word is checked, not looked up
    checked = answers()
    assert any(rows for rows, _ in checked)
    monkeypatch.setattr(tickets, "CHECK_STEPS", 1)  # every check runs out at once
    assert answers() == checked
    db.dispose()
