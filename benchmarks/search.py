"""The queue's filter on a million tickets: the word index against the substring scan it
replaced, in the same run.

    python benchmarks/search.py --db large.db [--rounds 15] [--views all,unassigned]

`--db` is an SQLite file or a PostgreSQL URL holding `cxdesk demo --size large` (on
PostgreSQL: its `cxdesk db copy`); one behind the current schema is migrated first, and the
seconds that took (the index's backfill) are reported. Each filter is read as the queue
screen reads it, one page of 50 (`read_counted_page`) and the status line's count capped at
1,000 (`read_ticket_count`, unless the page's read found it), in each view; every round
reads it once through the index and once through the old way, a LIKE of each word on the
title, the customer id and the customer's name, so both run under the same load. The old way
had two plans on SQLite (the customers joined, stopping early on a common word; or their
names matched first, quick for a rare one) and tried the first within a budget of steps:
here the index's count of the words picks which to try first, sparing it the steps it spent
on a rare word, so its figures are if anything flattered. Prints p50/p95 of a read (page +
count) per filter and view, for both, with the ratio, as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from sqlalchemy import Boolean, func, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from cxdesk.db import Database, current_revision, head_revision
from cxdesk.errors import NotFound
from cxdesk.models import Customer, Ticket
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.ops.schema import upgrade_database
from cxdesk.workflow.reads.queries import (
    Search,
    TicketFilter,
    View,
    read_counted_page,
    read_ticket_count,
)
from cxdesk.workflow.reads.ticket_filter import filtered, order_of
from cxdesk.workflow.reads.word_ways import common, within_steps

FILTERS = {
    "no match": "zzqx",
    "王": "王",
    "快递": "快递",
    "common latin word": "parcel",
    "one letter": "c",
    "customer id": "C100123",
    "ticket ref": "CX-000777",
    "two words": "app 登录",
    "快递 + priority:P1": "快递 priority:P1",
    "parcel + priority:P1": "parcel priority:P1",
    "no match + priority:P1": "zzqx priority:P1",
    "王 + queue:vip": "王 queue:vip",
}
PAGE, CAP = 50, 1000

_T = TypeVar("_T")


class _Like(FunctionElement[bool]):
    """The old matcher: `column LIKE '%word%'` (ILIKE on PostgreSQL), the word as data."""

    type = Boolean()
    inherit_cache = True
    name = "old_like"

    def __init__(self, column: Any, word: str) -> None:
        escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
        super().__init__(column, literal(f"%{escaped}%"))


def _render(operator: str) -> Any:
    def render(element: _Like, compiler: Any, **kw: Any) -> str:
        column, pattern = (compiler.process(c, **kw) for c in element.clauses)
        return f"{column} {operator} {pattern} ESCAPE '/'"

    return render


compiles(_Like)(_render("LIKE"))
compiles(_Like, "postgresql")(_render("ILIKE"))


def _old_words(search: Search, statement: Any, *, check: bool) -> Any:
    """The filter's words as they were found: each a LIKE on the title, the customer id and
    name, in one of the old two ways: `check`, the customers joined (SQLite stops early on
    a common word); else the customers' names matched first (quick for a rare one)."""
    if search.words and check:
        statement = statement.join(Customer, isouter=True)
    for word in search.words:
        name = _Like(Customer.name, word)
        matches = [
            _Like(Ticket.title, word),
            _Like(Ticket.customer_id, word),
            name if check else col(Ticket.customer_id).in_(select(Customer.id).where(name)),
        ]
        with contextlib.suppress(NotFound):
            matches.append(col(Ticket.id) == parse_ref(word))
        statement = statement.where(or_(*matches))
    return statement


def _old_ids(f: TicketFilter, *, check: bool) -> Any:
    assert f.search is not None
    plain = replace(f, search=Search(f.search.terms, ()))
    return _old_words(f.search, filtered(select(col(Ticket.id)), plain), check=check)


def _old_way(session: Session, f: TicketFilter, run: Callable[[bool], _T]) -> _T:
    """`run(check)` as the old read chose: the names matched first for words in few tickets
    (the index's count picks, sparing the old way the steps it spent on a rare word), else
    the customers joined within the steps a check gets, and the names first if it runs out."""
    assert f.search is not None
    phrases = f.search.indexed()
    if phrases is None or not common(session, phrases):
        return run(False)
    return within_steps(session, lambda: run(True), lambda: run(False))


def _old_page(session: Session, f: TicketFilter) -> int:
    def page(check: bool) -> int:
        chosen = _old_ids(f, check=check).order_by(*order_of(f)).limit(PAGE)
        statement = (
            select(col(Ticket.id), col(Customer.name))
            .join(Customer, isouter=True)
            .where(col(Ticket.id).in_(chosen.scalar_subquery()))
            .order_by(*order_of(f))
        )
        return len(session.exec(statement).all())

    return _old_way(session, f, page)


def _old_count(session: Session, f: TicketFilter) -> int:
    def count(check: bool) -> int:
        found = _old_ids(f, check=check).limit(CAP + 1).subquery()
        return session.exec(select(func.count()).select_from(found)).one()

    return _old_way(session, f, count)


def read(db: Database, f: TicketFilter) -> tuple[float, int, int]:
    """The page, and its count apart unless the page's read found it, as the screen reads."""
    started = time.perf_counter()
    page = read_counted_page(db, f, limit=PAGE, cap=CAP)
    count = page.total
    if count is None:
        count = read_ticket_count(db, f, cap=CAP, way=page.way)
    return time.perf_counter() - started, len(page.rows), count or 0


def old_read(db: Database, f: TicketFilter) -> tuple[float, int, int]:
    """The same page and count as `read`, each in a session of its own, the old way."""
    started = time.perf_counter()
    with db.session() as session:
        rows = _old_page(session, f)
    with db.session() as session:
        count = _old_count(session, f)
    return time.perf_counter() - started, rows, count


def _quantiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p95_ms": round(p95 * 1000, 1)}


def run(url: str, rounds: int, views: list[View]) -> dict[str, Any]:
    db = Database.open(url, must_exist=False)  # migrated below, not refused
    migrated = None
    if current_revision(db.engine) != head_revision():
        started = time.perf_counter()
        upgrade_database(db)
        migrated = round(time.perf_counter() - started, 1)
    me = "zhou.min"
    results: dict[str, Any] = {}
    for name, text in FILTERS.items():
        for view in views:
            search = Search.parse(text)
            f = TicketFilter(view=view, me=me, search=search)
            read(db, f)  # warm both: the first read of a filter pays for the cache
            old_read(db, f)
            new_t, old_t = [], []
            for _ in range(rounds):
                seconds, rows, count = read(db, f)
                new_t.append(seconds)
                seconds, old_rows, old_count = old_read(db, f)
                old_t.append(seconds)
            new_q, old_q = _quantiles(new_t), _quantiles(old_t)
            results[f"{name} ({view.value})"] = {
                "filter": text,
                "rows": rows,
                "count": count,
                "old_rows": old_rows,
                "old_count": old_count,
                "index": new_q,
                "like": old_q,
                "ratio_p95": round(old_q["p95_ms"] / max(new_q["p95_ms"], 0.01), 1),
            }
    db.dispose()
    worst = max(r["index"]["p95_ms"] for r in results.values())
    return {
        "backend": "postgresql" if url.startswith("postgresql") else "sqlite",
        "rounds": rounds,
        "migrated_seconds": migrated,
        "worst_index_p95_ms": worst,
        "worst_like_p95_ms": max(r["like"]["p95_ms"] for r in results.values()),
        "filters": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLite file or PostgreSQL URL")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--views", default="all,unassigned")
    args = parser.parse_args()
    views = [View(v) for v in args.views.split(",")]
    print(json.dumps(run(args.db, args.rounds, views), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
