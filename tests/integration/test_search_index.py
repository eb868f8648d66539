"""The word index the queue's filter reads: the same answers as its definition (and, for
Chinese, as the substring match it replaced) whichever way a word is found, kept by every
writer, and deaf to query syntax, on SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from cxdesk.db import Database
from cxdesk.db.search_index import Phrase, rebuild_index, reindex_customers, words_of
from cxdesk.errors import NotFound
from cxdesk.models import Customer, Ticket, TicketKind
from cxdesk.workflow.basics.refs import parse_ref
from cxdesk.workflow.intake.events import CustomerIn, FeedbackEventIn
from cxdesk.workflow.loop.commands import OpenTicket
from cxdesk.workflow.loop.service import TicketService
from cxdesk.workflow.reads import word_ways
from cxdesk.workflow.reads.queries import (
    Search,
    TicketFilter,
    View,
    count_tickets,
    list_tickets,
)
from cxdesk.workflow.reads.tickets import list_counted
from cxdesk.workflow.reads.word_ways import Way, matching
from tests.integration.test_sweep import SETTINGS, T0, feed, survey

CJK = "快递王李张晚了三天没到登录失败退款"
LATIN = ["parcel", "Parcel", "PARCELS", "app", "App", "down", "o'neil", "e-mail", "x1", "12"]
PUNCTUATION = [*"，。！!?-_%\"*():/'", " ", "  ", "\t"]
PIECES = [*CJK, *LATIN, *PUNCTUATION, "CX-000012", "123", "Ωmega", "ÉCLAIR"]
CORPUS_SIZE = 120


def _text(rng: random.Random, most: int) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, most)))


@pytest.fixture
def corpus(db: Database) -> list[tuple[int, str, str, str | None]]:
    """Tickets with titles, customer ids and names mixing scripts, digits and punctuation,
    written in bulk and indexed as a migration or a copy indexes them."""
    rng = random.Random(7)
    at = datetime(2026, 3, 2, tzinfo=UTC)
    customers = [
        Customer(
            id=f"{rng.choice(['C', 'cust_', 'K-'])}{1000 + i}",
            name=_text(rng, 4) or None,
            created_at=at,
            updated_at=at,
        )
        for i in range(40)
    ]
    rows = [
        Ticket(
            id=number,
            queue_id="aftersales",
            customer_id=rng.choice(customers).id,
            title=_text(rng, 8),
            opened_at=at,
            updated_at=at,
        )
        for number in range(1, CORPUS_SIZE + 1)
    ]
    names = {c.id: c.name for c in customers}
    corpus = [(r.id or 0, r.title, r.customer_id or "", names[r.customer_id or ""]) for r in rows]
    with db.write() as session:
        session.add_all(customers)
        session.flush()
        session.add_all(rows)
        session.flush()
        rebuild_index(session.connection())
    return corpus


def defined(word: str, fields: tuple[str, ...]) -> bool:
    """A ticket matches `word` as documented: its phrase's words in a row in one field, the
    last one as the start of a word unless it is a CJK character."""
    phrase = Phrase.of(word)
    if phrase is None:
        return True  # punctuation alone narrows nothing
    n = len(phrase.pieces)
    for field in fields:
        have = words_of(field)
        for i in range(len(have) - n + 1):
            *whole, last = have[i : i + n]
            if tuple(whole) == phrase.pieces[:-1] and (
                last.startswith(phrase.pieces[-1]) if phrase.prefix else last == phrase.pieces[-1]
            ):
                return True
    return False


def wanted(corpus: list[tuple[int, str, str, str | None]], word: str) -> list[int]:
    """What a word should find: what `defined` says, and the ticket it names, if it exists."""
    want = {i for i, *fields in corpus if defined(word, tuple(f or "" for f in fields))}
    with contextlib.suppress(NotFound):
        named = parse_ref(word)
        if any(i == named for i, *_ in corpus):
            want.add(named)
    return sorted(want)


def ways(session: Session, text: str) -> list[Way]:
    """The ways a filter's words can be found: looked up and checked always; walked and
    sifted on SQLite, for words the index finds alone."""
    search = Search.parse(text)
    walkable = session.get_bind().dialect.name == "sqlite" and search.only_indexed()
    return [Way.LOOKED_UP, Way.CHECKED, *([Way.WALKED, Way.SIFTED] if walkable else [])]


def found(session: Session, text: str, way: Way = Way.LOOKED_UP) -> list[int]:
    f = TicketFilter(search=Search.parse(text))
    ids = session.exec(matching(f, way)).all()
    return sorted(i for i in ids if i is not None)


def _words(corpus: list[tuple[int, str, str, str | None]]) -> st.SearchStrategy[str]:
    texts = [t for row in corpus for t in row[1:] if t]
    pieces = st.sampled_from(texts).flatmap(
        lambda t: st.tuples(st.integers(0, len(t)), st.integers(1, 6)).map(
            lambda ij: t[ij[0] : ij[0] + ij[1]]
        )
    )
    typed = st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join)
    return (
        st.one_of(pieces, typed)
        .map(lambda w: w.strip())
        .filter(lambda w: bool(w) and " " not in w and "\t" not in w and ":" not in w)
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_word_finds_the_tickets_its_definition_names_every_way(
    db: Database, corpus: list[tuple[int, str, str, str | None]], data: st.DataObject
) -> None:
    word = data.draw(_words(corpus))
    want = wanted(corpus, word)
    with db.session() as session:
        for way in ways(session, word):
            assert found(session, word, way) == want, way
    if all(c in CJK for c in word):  # Chinese: the substring match it replaced, but for
        # spaces and punctuation, which part no characters (晚败 finds 晚)败张 and 晚 败)
        squeezed = [[re.sub(r"[\W_]+", "", f or "") for f in fields] for _, *fields in corpus]
        substring = [
            i
            for (i, *_), fields in zip(corpus, squeezed, strict=True)
            if any(word in f for f in fields)
        ]
        assert want == substring


def test_a_number_past_the_last_ticket_finds_only_its_words(
    db: Database, corpus: list[tuple[int, str, str, str | None]]
) -> None:
    """ "123" with 120 tickets names no ticket: it finds the titles holding it, nothing else."""
    want = sorted(i for i, title, *_ in corpus if any(w.startswith("123") for w in words_of(title)))
    assert want and max(want) <= CORPUS_SIZE
    with db.session() as session:
        for way in ways(session, "123"):
            assert found(session, "123", way) == want, way


def test_words_of_latin_match_at_their_start_in_any_case(
    db: Database, corpus: list[tuple[int, str, str, str | None]]
) -> None:
    with db.session() as session:
        parcel = found(session, "parcel")
        assert parcel and found(session, "PARC") == parcel
        assert found(session, "arcel") == []  # not inside a word (documented)
        assert found(session, "快递") == sorted(
            i for i, *fields in corpus if any("快递" in (f or "") for f in fields)
        )
        everything = list(range(1, CORPUS_SIZE + 1))
        assert found(session, "%") == everything  # punctuation narrows nothing


HOSTILE = [
    '"',
    '"快递',
    "*",
    "a*",
    "NEAR(a b)",
    "a NEAR b",
    "-parcel",
    "parcel-",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    "((x",
    "^app",
    "{title}",
    "title:x",
    "c0:parcel",
    "'",
    "''",
    "\\",
    "a'b\\c",
    "&",
    "|",
    "!",
    "<->",
    "x:*",
    "\x1b[31m",
    "\x00",
    "x\x00y",
    "%_/",
    "快" * 600,
    "a" * 5000,
    "a " * 300,
    "cx-000001",
    "CX-999999999999",
]


def test_query_syntax_typed_is_only_data(
    db: Database, corpus: list[tuple[int, str, str, str | None]]
) -> None:
    with db.session() as session:
        for word in HOSTILE:
            text = word
            for part in text.split():
                if ":" in part and part.split(":")[0].isalpha():
                    continue  # an unknown filter: refused before any query
                for way in ways(session, part):
                    assert found(session, part, way) == wanted(corpus, part), (part, way)
            f = TicketFilter(search=Search.parse("快递 priority:P3 " + text.replace(":", "")))
            list_tickets(session, f, limit=5)
            count_tickets(session, f, cap=10)


@pytest.mark.parametrize("common", [False, True], ids=["rare", "common"])
def test_a_page_read_whole_tells_the_count_of_its_list(
    db: Database,
    corpus: list[tuple[int, str, str, str | None]],
    monkeypatch: pytest.MonkeyPatch,
    common: bool,
) -> None:
    """A page read whole to be put in order (words in few tickets; on PostgreSQL, common
    words in a view of few tickets) gives the list's count as `count_tickets` caps it, and
    the same page as `list_tickets`, at every offset and either side of the cap."""
    postgresql = db.engine.dialect.name == "postgresql"
    monkeypatch.setattr(word_ways, "COMMON_WORD", 3 if common else word_ways.COMMON_WORD)
    texts = ("快", "parcel", "app 快", "快 priority:P3", "zzqx", "快 stage:new")
    told = set()
    with db.session() as session:
        for text in texts:
            for view in (View.ALL, View.UNASSIGNED):
                f = TicketFilter(view=view, search=Search.parse(text))
                for cap, offset in ((4, 0), (4, 2), (4, 3), (1000, 0), (1000, 6)):
                    page = list_counted(session, f, limit=3, offset=offset, cap=cap)
                    assert page.rows == list_tickets(session, f, limit=3, offset=offset)
                    if page.total is not None:
                        assert page.total == count_tickets(session, f, cap=cap), (text, view)
                        told.add((text, view))
    if not common:  # every word in few tickets: looked up, and read whole
        assert told == {(text, view) for text in texts for view in (View.ALL, View.UNASSIGNED)}
    else:  # checked: read whole in a view of few tickets, on PostgreSQL (SQLite walks)
        assert (("快", View.UNASSIGNED) in told) is postgresql
        assert ("快", View.ALL) not in told


def test_a_count_takes_its_page_s_way_without_asking_the_index_again(
    db: Database, corpus: list[tuple[int, str, str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the words are common decides the way; the page asked the index, and its count
    (read apart when the page could not tell it) takes the same way without asking."""
    monkeypatch.setattr(word_ways, "COMMON_WORD", 3)
    f = TicketFilter(search=Search.parse("快"))
    with db.session() as session:
        page = list_counted(session, f, limit=3, offset=0, cap=4)
        assert page.total is None and page.way is not Way.LOOKED_UP  # common: counted apart
        counted = count_tickets(session, f, cap=4)

        def asked(*_: object) -> bool:
            raise AssertionError("asked the index again how common the words are")

        monkeypatch.setattr(word_ways, "common", asked)
        assert count_tickets(session, f, cap=4, way=page.way) == counted == 5


def _search(db: Database, text: str) -> list[int]:
    with db.session() as session:
        return [r.number for r in list_tickets(session, TicketFilter(search=Search.parse(text)))]


def test_writers_keep_the_index(db: Database) -> None:
    """Ingest's new cases and renamed customers, and a ticket opened by command."""
    (bulk,) = feed(db, survey("e1", "c1", T0, nps=2, comment="快递三天没到 the parcel is late"))
    assert bulk is not None
    assert _search(db, "快递") == _search(db, "parcel") == _search(db, "c1") == [bulk]
    renamed = FeedbackEventIn(
        event_id="e2",
        kind="survey",
        occurred_at=T0,
        customer=CustomerIn(id="c1", name="王小明"),
        nps=10,
    )
    feed(db, renamed)
    assert _search(db, "小明") == [bulk]
    feed(
        db,
        renamed.model_copy(
            update={"event_id": "e3", "customer": CustomerIn(id="c1", name="Grace")}
        ),
    )
    assert _search(db, "小明") == [] and _search(db, "grace") == [bulk]
    with db.write() as session:
        opened = TicketService(db, SETTINGS).handle(
            OpenTicket(
                kind=TicketKind.CASE,
                queue_id="aftersales",
                priority="P2",
                title="登录失败 cannot log in",
                at=T0,
                customer_id="c1",
            ),
            session,
        )
    assert _search(db, "登录") == _search(db, "log") == [opened.id]
    assert _search(db, "grace") == [opened.id, bulk]  # the newest first


def test_a_term_asked_with_words_finds_the_tickets_as_they_are_now(db: Database) -> None:
    """A word with a priority, queue or kind finds the tickets whose values are so now
    (PostgreSQL asks its index for their tags with the words), whoever changed them: ingest
    raising a priority, or SQL typed by hand."""
    raised, kept, moved = feed(
        db, *(survey(f"e{i}", f"c{i}", T0, nps=2, comment="parcel 快递") for i in range(3))
    )
    queue = _ticket_column(db, kept, "queue_id")
    assert _search(db, "parcel priority:P2") == [moved, kept, raised]  # the newest first
    feed(db, survey("e9", "c0", T0 + timedelta(hours=1), tier="gold", nps=0))  # to P1
    with db.write() as session:
        session.execute(
            sa.text("UPDATE tickets SET queue_id = 'vip', kind = 'problem' WHERE id = :id"),
            {"id": moved},
        )
    assert _ticket_column(db, raised, "priority") == "P1"
    assert _search(db, "parcel priority:P1") == _search(db, "快递 priority:p1") == [raised]
    assert _search(db, "parcel priority:P2") == [moved, kept]
    assert _search(db, "快递 queue:vip kind:problem") == [moved]
    assert _search(db, f"parcel queue:{queue} kind:case") == [kept, raised]
    assert _search(db, "parcel queue:vip kind:case") == []
    assert _search(db, "prio") == _search(db, "queue") == _search(db, "case") == []  # no tag
    assert _search(db, "parcel queue:" + "x" * 3000) == []  # longer than a lexeme may be
    assert _search(db, "parcel queue:vip\0") == _search(db, "queue:\0") == []  # as typed


def test_a_customer_reindexed_beside_a_change_of_priority_keeps_the_new_tag(
    db: Database,
) -> None:
    """PostgreSQL: ingest indexing a renamed customer's tickets again while another
    transaction raises one's priority (its trigger retagging the row) leaves the new tag, in
    whichever order they commit. Read before the raise committed, the ticket's old priority
    was written back over the row the trigger had retagged."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    (number,) = feed(db, survey("e1", "c1", T0, nps=2, comment="parcel"))
    with db.engine.connect() as raising:
        raising.execute(
            sa.text("UPDATE tickets SET priority = 'P1' WHERE id = :id"), {"id": number}
        )

        def reindex() -> None:
            with db.engine.begin() as connection:
                reindex_customers(connection, ["c1"])

        worker = threading.Thread(target=reindex)
        worker.start()
        with db.engine.connect() as watching:  # until the reindex waits on a lock
            waiting = sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            for _ in range(100):
                if watching.execute(waiting).scalar_one():
                    break
                time.sleep(0.05)
        raising.commit()
        worker.join(10)
    assert _search(db, "parcel priority:P1") == [number]


def _ticket_column(db: Database, number: int | None, column: str) -> str:
    with db.engine.connect() as connection:
        query = sa.text(f"SELECT {column} FROM tickets WHERE id = :id")
        return str(connection.execute(query, {"id": number}).scalar_one())


def test_the_index_holds_every_ticket_once(db: Database) -> None:
    feed(db, *(survey(f"e{i}", f"c{i}", T0, nps=1, comment=f"坏了 {i}") for i in range(30)))
    with db.engine.connect() as connection:
        key = "ticket_id" if db.engine.dialect.name == "postgresql" else "rowid"
        indexed = connection.execute(sa.text(f"SELECT {key} FROM ticket_search")).scalars()
        numbers = connection.execute(sa.text("SELECT id FROM tickets")).scalars()
        assert sorted(indexed) == sorted(numbers) and len(_search(db, "坏")) == 30


def test_two_cjk_characters_are_one_lexeme_for_postgresql() -> None:
    """PostgreSQL's GIN index answers a lexeme alone but must check a phrase on each ticket
    holding its lexemes: CJK characters in a row are asked for as the pairs it holds."""
    asked = {w: p.tsquery() for w in ("快递", "快递晚了", "app登录x", "王") if (p := Phrase.of(w))}
    assert asked == {
        "快递": "'快递'",
        "快递晚了": "'快递' <1> '递晚' <1> '晚了'",
        "app登录x": "'app' <1> '登录' <2> 'x':*",
        "王": "'王'",
    }


def test_the_terms_the_index_holds_are_asked_with_the_words() -> None:
    """PostgreSQL's index answers a word with a priority, queue or kind alone, as tags that
    no word typed can be or begin (see `tags_of`); the other terms are checked on the
    tickets it finds."""
    phrases = Search.parse("快递 priority:p1 queue:vip kind:case stage:new").indexed()
    assert phrases is not None
    assert phrases.tsquery() == "('快递') & ':priority:P1' & ':queue:vip' & ':kind:case'"
    assert phrases.fts5() == '"快 递"'  # SQLite's FTS5 index holds no tags
    assert Search.parse("priority:P1").indexed() is None
