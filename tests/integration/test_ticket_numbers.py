"""A ticket number larger than any ticket can have is a ticket that does not exist, on both
backends (PostgreSQL's ids are 32-bit: a larger number in a query would be an error)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cxdesk.db import Database
from cxdesk.errors import NotFound
from cxdesk.workflow.basics.refs import MAX_TICKET_ID, parse_ref
from cxdesk.workflow.reads.search import Search
from cxdesk.workflow.reads.tickets import TicketFilter, list_tickets
from tests.conftest import Run
from tests.integration.test_hostile_ingest import NOW, event, jsonl, reasons

TOO_BIG = ("CX-999999999999", str(MAX_TICKET_ID + 1))


def test_the_largest_number_is_a_ticket_number_and_one_more_is_none() -> None:
    assert parse_ref(str(MAX_TICKET_ID)) == MAX_TICKET_ID
    for text in TOO_BIG:
        with pytest.raises(NotFound, match="no ticket CX-"):
            parse_ref(text)


@pytest.mark.parametrize("number", TOO_BIG)
def test_a_verb_on_a_number_too_big_answers_no_ticket(
    demo_copy: str, run: Run, number: str
) -> None:
    for verb in (("show",), ("claim",), ("note", "--message", "hello")):
        code, _, err = run("--db", demo_copy, "ticket", verb[0], number, *verb[1:])
        assert code == 2 and "no ticket CX-" in err and "database error" not in err, err


@pytest.mark.parametrize("word", ["13800138000", "CX-999999999999"])
def test_a_search_for_a_long_number_lists_what_matches(demo_copy: str, word: str) -> None:
    """A phone number typed as a filter is a word, not a ticket id that breaks the query."""
    db = Database.open(demo_copy)
    with db.session() as session:
        assert list_tickets(session, TicketFilter(search=Search.parse(word))) == []
    db.dispose()


def test_a_follow_up_naming_a_number_too_big_is_quarantined(
    initialised: str, run: Run, tmp_path: Path
) -> None:
    feed = jsonl(
        tmp_path / "feed.jsonl",
        event("f1", kind="followup", ticket_id="CX-999999999999", nps=9),
        event("s1", nps=9),
    )
    _, out, err = run("--db", initialised, "--now", NOW, "ingest", str(feed), "--format", "json")
    summary = json.loads(out)
    assert (summary["accepted"], summary["quarantined"]) == (1, 1), err
    assert reasons(initialised) == ["line 1: ticket_id: no ticket CX-999999999999"]


@pytest.mark.parametrize("text", ["١١٥٠", "１２３", "x" * 100_000])
def test_a_reference_is_ascii_and_a_bad_one_is_quoted_short(text: str) -> None:
    """Other scripts' digits are no ticket number; a huge argument is not echoed whole."""
    with pytest.raises(NotFound) as refused:
        parse_ref(text)
    assert len(str(refused.value)) < 120
