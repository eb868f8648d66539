"""How a filter's free-text words are found, chosen for each page and each count by how many
tickets the words, and the rest of the filter, let through (see `choose`).

A word in few tickets is looked up in the word index and those tickets are read. A word in
many is not: reading every ticket it is in would read thousands for a page of 50. Then one
side is walked in an order that lets the read stop early, and the other side is checked on
each ticket met: the list's own tickets in its order, each checked for the words (a page
stops at its 50th); or the index's tickets for the words, each checked against the rest of
the filter (newest first, for a page of the newest; a capped count stops at its cap).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Integer, column, func, literal, table, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cxdesk.db.search_index import SEARCH_TABLE, Phrases
from cxdesk.models import Ticket
from cxdesk.workflow.basics.statements import Unindexed
from cxdesk.workflow.reads.ticket_filter import (
    Sort,
    TicketFilter,
    few_tickets_pass,
    filtered,
    order_of,
    sort_of,
    split_by_index,
)


class Way(StrEnum):
    """How the words are found (see the module's docstring)."""

    LOOKED_UP = "looked_up"  # the ids the index finds for the words, read first
    CHECKED = "checked"  # the filter's tickets in the list's order, each checked for the words
    WALKED = "walked"  # the index's tickets for the words, each looked up in the tickets
    SIFTED = "sifted"  # the same, kept if among the tickets an index finds for the filter


# A word in fewer tickets than this is looked up: reading those few tickets and sorting them
# is quick. One in more is walked (see `choose`).
COMMON_WORD = 2_000
# PostgreSQL: the newest tickets whose words are checked before the word index counts a
# word's tickets (see `common`).
SAMPLED = 5_000
# A page of a list of few tickets in an order of its own (by SLA, by priority) first checks
# this many of them, read in its order: words common among them fill the page there.
CHECKED_FIRST = 2_000
# Else it sorts the tickets a walk finds when there are no more than this; with more, the
# words are common among the filter's tickets and the whole list read in its order soon
# meets a page of them.
SORTED_HITS = 1_000
# Steps of SQLite's virtual machine that checking or walking may take (see `finding`): many
# more than a page or a capped count of common words needs, far fewer than checking a
# million tickets.
CHECK_STEPS = 1_000_000
_STEPS_PER_TICK = 10_000

T = TypeVar("T")


def choose(session: Session, f: TicketFilter) -> Way:
    """The way to find `f`'s words. On SQLite, words in many tickets are walked in the
    index's order: where the rest of the filter lets many tickets through, each of the
    words' tickets is looked up and checked against it (WALKED); where an index finds few
    (`few_tickets_pass`), those few are gathered once and the words' tickets between the
    first and the last of them are kept if among them (SIFTED; working tickets are the
    newest, so this skips most of a common word's tickets). PostgreSQL's planner chooses
    for itself among the ids of common words."""
    if f.search is None:
        return Way.LOOKED_UP
    phrases = f.search.indexed()
    if phrases is None or not common(session, phrases):
        return Way.LOOKED_UP
    if _dialect(session) != "sqlite" or not f.search.only_indexed():
        return Way.CHECKED
    return Way.SIFTED if few_tickets_pass(f) else Way.WALKED


def finding(
    session: Session, f: TicketFilter, run: Callable[[Way], T], way: Way | None = None
) -> T:
    """`run(way)` for the way `choose` picks, or the `way` a read of the same filter took
    (a page's, for its count: asking the index again how common the words are cost as much
    as the page's read itself on PostgreSQL). On SQLite a check or a walk gets CHECK_STEPS:
    words common in the index but rare among the filter's tickets may run out of them, and
    are looked up after all."""
    way = choose(session, f) if way is None else way
    if way is Way.LOOKED_UP:
        return run(way)
    return within_steps(session, lambda: run(way), lambda: run(Way.LOOKED_UP))


def within_steps(session: Session, run: Callable[[], T], instead: Callable[[], T]) -> T:
    """`run()`, stopped on SQLite after CHECK_STEPS steps of its statements, and then
    `instead()`."""
    driver = session.connection().connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        return run()
    ticks = 0

    def out_of_steps() -> int:
        # Counted here from the run's start: SQLite calls this each time the statement's
        # own count of steps passes a multiple of the interval, and a statement kept in the
        # driver's cache keeps counting from its runs before, so an interval of CHECK_STEPS
        # would stop a small check that happened to run many times.
        nonlocal ticks
        ticks += 1
        return int(ticks > CHECK_STEPS // _STEPS_PER_TICK)  # non-zero: "interrupted"

    driver.set_progress_handler(out_of_steps, _STEPS_PER_TICK)
    try:
        return run()
    except OperationalError:
        if ticks <= CHECK_STEPS // _STEPS_PER_TICK:
            raise  # interrupted from outside (Interrupter), or another error
    finally:
        driver.set_progress_handler(None, 0)
    return instead()


def common(session: Session, phrases: Phrases) -> bool:
    """Whether the words are in COMMON_WORD tickets or more, counted no further.

    PostgreSQL's word index finds a word's tickets all at once, as a bitmap of every one of
    them, before any count can stop: for a prefix found in a million tickets (one letter,
    the start of every customer id) that took 90 ms. So there the newest SAMPLED tickets'
    words are checked first, in the order of their ids: words in COMMON_WORD of them are
    common without that count. Only a count of that many decides: a word in many of the
    newest tickets may be in few others, and looked up is read at once where checked would
    walk a whole list."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        query = phrases.tsquery()
        sampled = connection.execute(_SAMPLE, {"q": query, "n": SAMPLED}).scalar_one()
        if sampled >= COMMON_WORD:
            return True
        found = "terms @@ CAST(:q AS tsquery)"
    else:
        found, query = f"{SEARCH_TABLE} MATCH :q", phrases.fts5()
    few = text(f"SELECT count(*) FROM (SELECT 1 FROM {SEARCH_TABLE} WHERE {found} LIMIT :n) s")
    return bool(connection.execute(few, {"q": query, "n": COMMON_WORD}).scalar_one() >= COMMON_WORD)


# The newest tickets' words, read in the order of the word index's key (a walk that no
# bitmap of the word's tickets can stand in for: the LIMIT comes first), checked for the words.
_SAMPLE = text(
    f"SELECT count(*) FROM (SELECT terms FROM {SEARCH_TABLE} ORDER BY ticket_id DESC LIMIT :n) s "
    "WHERE terms @@ CAST(:q AS tsquery)"
)


def matching(f: TicketFilter, way: Way) -> SelectOfScalar[Any]:
    """The ids of the tickets `f` lets through, its words found `way`, in no order (walked,
    in the index's). WALKED and SIFTED take words the index finds alone
    (`Search.only_indexed`)."""
    tickets = filtered(select(col(Ticket.id)), f)
    if f.search is None:
        return tickets
    if way in (Way.LOOKED_UP, Way.CHECKED):
        return f.search.apply_words(tickets, check=way is Way.CHECKED)
    phrases = f.search.indexed()
    if phrases is None or not f.search.only_indexed():
        raise ValueError(f"{way} needs words found by the index alone")
    walked = select(_INDEX.c.rowid).where(_InIndex(phrases))
    if way is Way.WALKED:
        return walked.where(tickets.where(_ticket(_INDEX.c.rowid)).exists())
    gathered, rest = split_by_index(f)
    passing = filtered(select(col(Ticket.id)), gathered)
    # The first and last passing ticket in a row of their own, found once (as scalar
    # subqueries, SQLite finds each twice), and handed to the index as the walk's bounds.
    ends = passing.subquery()
    bounds = select(func.min(ends.c.id).label("first"), func.max(ends.c.id).label("last"))
    within = bounds.subquery("bounds")
    sifted = walked.where(
        _INDEX.c.rowid.between(within.c.first, within.c.last),
        Unindexed(_INDEX.c.rowid).in_(passing),  # FTS5 would look each id up anew
    )
    if rest is None:
        return sifted
    checked = filtered(select(col(Ticket.id)), rest).where(_ticket(_INDEX.c.rowid))
    return sifted.where(checked.exists())


def page_ids_counted(
    session: Session, f: TicketFilter, way: Way, *, limit: int, offset: int, cap: int | None
) -> tuple[list[int], int | None]:
    """`page_ids`, and with `cap` the count capped at it (cap + 1: more) where the page's
    read finds it as well, else None. A list read whole to be put in order, for its page
    alone, holds every ticket the count would read again: the words' few tickets looked up,
    or on PostgreSQL a list of few tickets checked for common words. Those are read in order
    up to cap + 1, and the page taken from them."""
    postgresql = _dialect(session) == "postgresql"
    whole = way is Way.LOOKED_UP or (way is Way.CHECKED and postgresql and few_tickets_pass(f))
    if cap is None or not (f.search and f.search.words) or not whole or offset + limit > cap + 1:
        return page_ids(session, f, way, limit=limit, offset=offset), None
    ids = _ids(session, _ordered(session, f, way).limit(cap + 1))
    return ids[offset : offset + limit], len(ids)


def page_ids(session: Session, f: TicketFilter, way: Way, *, limit: int, offset: int) -> list[int]:
    """The ids of one page of `f`'s list, its words found `way`.

    Walked newest first, the index's tickets come in the order of a list by age. In another
    order, a list of many tickets is read in that order and checked: common words soon fill
    a page. A list of few (SIFTED) first has its first CHECKED_FIRST tickets checked, unless
    the filter thins them by what no index finds (a priority, a queue, …); else the walk
    gathers the first SORTED_HITS + 1 tickets it finds: no more than SORTED_HITS are all
    there are, and are sorted; more, and the whole list is read in its order and checked."""
    if way in (Way.WALKED, Way.SIFTED) and sort_of(f) is Sort.AGE:
        newest = matching(f, way).order_by(_INDEX.c.rowid.desc())
        return _ids(session, newest.limit(limit).offset(offset))
    if way is Way.SIFTED:
        if split_by_index(f)[1] is None:
            among_first = _ordered(session, f, Way.CHECKED, first=CHECKED_FIRST)
            ids = _ids(session, among_first.limit(limit).offset(offset))
            if len(ids) == limit:
                return ids
        found = _ids(session, matching(f, way).limit(SORTED_HITS + 1))
        if len(found) <= SORTED_HITS:
            in_order = select(col(Ticket.id)).where(col(Ticket.id).in_(found))
            return _ids(session, in_order.order_by(*order_of(f)).limit(limit).offset(offset))
    if way in (Way.WALKED, Way.SIFTED):
        way = Way.CHECKED
    return _ids(session, _ordered(session, f, way).limit(limit).offset(offset))


def _ordered(
    session: Session, f: TicketFilter, way: Way, *, first: int | None = None
) -> SelectOfScalar[Any]:
    """`f`'s list in its order, its words found `way`; checked on SQLite, among the first
    `first` tickets of the list without its words alone (None: all of them).

    Checked on SQLite, the tickets an index finds for the filter are put in order first and
    only then checked for the words and the rest of the filter, so that the check stops at
    the page's last ticket instead of checking each of them before sorting (a LIMIT keeps
    SQLite from merging the two, or moving the check before the sort; -1 is none)."""
    if way is not Way.CHECKED or f.search is None or _dialect(session) != "sqlite":
        return matching(f, way).order_by(*order_of(f))
    gathered, rest = split_by_index(f)
    listed = filtered(select(col(Ticket.id)), gathered).order_by(*order_of(f))
    listed_ids = listed.limit(-1 if first is None else first).subquery("listed")
    checked = f.search.apply_words(select(listed_ids.c.id), listed_ids.c.id, check=True)
    if rest is None:
        return checked
    others = filtered(select(col(Ticket.id)), rest).where(_ticket(listed_ids.c.id))
    return checked.where(others.exists())


def _ticket(ids: Any) -> Any:
    """The ticket whose id `ids` holds, as a range of one id: SQLite takes `id = ?` straight
    to the ticket's row, where a range lets it check the filter's terms in the narrower
    `ix_tickets_terms` (a ticket's row is a page of its own, read cold, for each one)."""
    return col(Ticket.id).between(ids, ids)


def _ids(session: Session, statement: SelectOfScalar[Any]) -> list[int]:
    return [i for i in session.exec(statement) if i is not None]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# The word index's FTS5 table on SQLite, whose rowid is the ticket's id.
_INDEX = table(SEARCH_TABLE, column("rowid", Integer))


class _InIndex(FunctionElement[bool]):
    """SQLite: the row of `_INDEX` holds every phrase of `phrases`."""

    inherit_cache = True
    name = "in_index"
    _is_implicitly_boolean = True

    def __init__(self, phrases: Phrases) -> None:
        super().__init__(literal(phrases.fts5()))


@compiles(_InIndex)
def _render_in_index(element: _InIndex, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SEARCH_TABLE} MATCH {compiler.process(element.clauses, **kw)}"
