"""The tickets' word index, which the queue's free-text filter reads instead of scanning.

Each ticket's title, customer id and customer name are kept as search text: lower-cased
words of letters and digits, and every CJK character a word of its own (Chinese has no
spaces, and people look for 王 or 快递 inside longer text). SQLite indexes the text with
FTS5, PostgreSQL as a `tsvector` under a GIN index (which holds each two CJK characters in a
row as well: see `Phrase.tsquery`); a CJK word is looked up as the phrase of its
characters, anything else as a phrase whose last word may be the start of a longer one.
PostgreSQL's also holds the ticket's priority, queue and kind as tags (`tags_of`), so that
the index answers `parcel priority:P1` alone, where checking each ticket holding the word for
the rest would read tens of thousands; a trigger keeps them as the ticket changes.

The writers keep it in bulk: ingest with its batch, a command with its ticket, the large
demo and `db copy` by the chunk, and the migration that made it over every ticket.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from cxdesk.db.driver import copy_on_driver, run_on_driver

SEARCH_TABLE = "ticket_search"
# FTS5 keeps its index in shadow tables named after the virtual table.
SEARCH_TABLES = frozenset(
    {SEARCH_TABLE} | {f"{SEARCH_TABLE}_{part}" for part in ("data", "idx", "content", "config")}
)


def not_search_table(name: str | None, kind: str, _parents: object) -> bool:
    """For Alembic's comparison of the schema with the models: the index's tables are made
    by its migration, not from a model."""
    return not (kind == "table" and name in SEARCH_TABLES)


_CJK = (
    "\u3040-\u30ff"  # kana
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs
    "\uac00-\ud7af"  # hangul syllables
    "\U00020000-\U0003134f"  # ideographs beyond the basic plane
)
_CJK_CHARACTER = re.compile(f"[{_CJK}]")
_WORD = re.compile(r"[^\W_]+")  # letters and digits; spaces, punctuation and symbols part them
_LONGEST = 200  # characters a word is indexed by (PostgreSQL takes at most 2047 bytes)
# A word of more pieces than the longest text holds (a title's 500 characters) matches none.
MAX_PIECES = 500
_CHUNK = 20_000


def words_of(text: str | None) -> list[str]:
    """`text`'s words as indexed: lower-cased runs of letters and digits, a CJK character
    each. Everything else only parts them."""
    if not text:
        return []
    spaced = _CJK_CHARACTER.sub(r" \g<0> ", text.lower())
    return [word[:_LONGEST] for word in _WORD.findall(spaced)]


@dataclass(frozen=True)
class Phrase:
    """A filter word as the index looks it up: its pieces in a row, the last one possibly
    the start of a longer word (never for a CJK character, which is a word of its own)."""

    pieces: tuple[str, ...]
    prefix: bool

    @classmethod
    def of(cls, word: str) -> Phrase | None:
        """None for a word with no letters or digits, which the index cannot look up."""
        pieces = tuple(words_of(word))
        if not pieces:
            return None
        return cls(pieces, not _CJK_CHARACTER.fullmatch(pieces[-1]))

    def fts5(self) -> str:
        """An FTS5 query: one quoted phrase, so that nothing in the word is query syntax."""
        quoted = '"' + " ".join(self.pieces).replace('"', '""') + '"'
        return quoted + " *" if self.prefix else quoted

    def like(self) -> str:
        """A LIKE pattern with `/` as its escape, for the stored words of one field with a
        space added on either side: the same phrase, looked for in one ticket's words."""
        text = " ".join(self.pieces).replace("/", "//").replace("%", "/%").replace("_", "/_")
        return f"% {text}%" if self.prefix else f"% {text} %"

    def tsquery(self) -> str:
        """A `tsquery` in its text form: quoted lexemes, each at its distance from the one
        before. CJK characters in a row are asked for as the pairs the `tsvector` holds
        (`_tsvector`): 快递 is one lexeme, which the GIN index answers alone, where the
        phrase 快 <-> 递 has every ticket holding both characters read to check it."""
        terms = list(_paired(self.pieces))
        lexemes = [_quoted(piece) for piece, _at in terms]
        if self.prefix:
            lexemes[-1] += ":*"
        query = lexemes[0]
        for (_, before), (_, at), lexeme in zip(terms, terms[1:], lexemes[1:], strict=False):
            query += f" <{at - before}> {lexeme}"
        return query


@dataclass(frozen=True)
class Phrases:
    """Words that must all be found in a ticket, asked of the index at once; on PostgreSQL
    with the tags (`tags_of`) of the filter's terms the index holds as well."""

    phrases: tuple[Phrase, ...]
    tags: tuple[str, ...] = ()

    def fts5(self) -> str:
        return " AND ".join(phrase.fts5() for phrase in self.phrases)

    def tsquery(self) -> str:
        asked = [f"({phrase.tsquery()})" for phrase in self.phrases]
        return " & ".join([*asked, *map(_quoted, self.tags)])

    def likes(self) -> list[str]:
        return [phrase.like() for phrase in self.phrases]


def _paired(words: Sequence[str], *, every: bool = False) -> Iterator[tuple[str, int]]:
    """`words` with each CJK character that the next one follows as the pair of them, at
    the first one's place (0 onwards). A character last in its run is left out, being the
    second of the pair before it, unless `every` (a ticket's words: each character is
    indexed as well, to be found alone)."""
    cjk = [_CJK_CHARACTER.fullmatch(word) is not None for word in words] + [False]
    for at, word in enumerate(words):
        if cjk[at] and cjk[at + 1]:
            yield word + words[at + 1], at
            if every:
                yield word, at
        elif every or not (cjk[at] and at and cjk[at - 1]):
            yield word, at


def _quoted(lexeme: str) -> str:
    """A lexeme of a `tsvector` or `tsquery` literal: quotes and backslashes escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


# The ticket's columns PostgreSQL's index holds as tags, each by the filter's key for it. A
# tag begins with punctuation, which parts words: no word typed, nor its start, is one.
TAGGED = {"priority": "priority", "queue": "queue_id", "kind": "kind"}


def tags_of(values: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The tags of these (filter key, value) pairs (`TAGGED`): `:priority:P1`, `:queue:vip`.
    A value no ticket holds (a typed one longer than any stored, or with a NUL) has none:
    PostgreSQL refuses such a lexeme, and the term finds no ticket without it."""
    return tuple(
        f":{key}:{value}" for key, value in values if len(value) <= _LONGEST and "\0" not in value
    )


@dataclass(frozen=True)
class Indexed:
    """What the index holds of one ticket."""

    ticket_id: int
    title: str | None
    customer_id: str | None
    customer_name: str | None
    priority: str
    queue_id: str
    kind: str

    def tags(self) -> tuple[str, ...]:
        return tags_of((key, getattr(self, column)) for key, column in TAGGED.items())


def _tsvector(ticket: Indexed) -> str:
    """The ticket's words as a `tsvector` literal, written out here rather than parsed by
    PostgreSQL so that its words are exactly `words_of`'s, with each two CJK characters in
    a row as well (`_paired`). The fields' positions leave a gap between them, so that no
    phrase runs from one field into the next."""
    positions: dict[str, list[int]] = {}
    at = 0
    for field in (ticket.title, ticket.customer_id, ticket.customer_name):
        words = words_of(field)
        for word, offset in _paired(words, every=True):
            positions.setdefault(word, []).append(min(at + 1 + offset, 16383))
        at += len(words) + 1
    lexemes = [f"{_quoted(word)}:{','.join(map(str, p[:256]))}" for word, p in positions.items()]
    return " ".join([*lexemes, *map(_quoted, ticket.tags())])


def index_tickets(connection: Connection, tickets: Sequence[Indexed]) -> None:
    """Add these tickets, none of them indexed yet, to the index."""
    if not tickets:
        return
    if connection.dialect.name == "postgresql":
        copy_on_driver(
            connection,
            f"COPY {SEARCH_TABLE} (ticket_id, terms) FROM STDIN",
            ((ticket.ticket_id, _tsvector(ticket)) for ticket in tickets),
        )
        return
    run_on_driver(
        connection,
        f"INSERT INTO {SEARCH_TABLE} (rowid, title, customer, name) VALUES (?, ?, ?, ?)",
        [
            (
                t.ticket_id,
                " ".join(words_of(t.title)),
                " ".join(words_of(t.customer_id)),
                " ".join(words_of(t.customer_name)),
            )
            for t in tickets
        ],
    )


_TICKETS = (
    "SELECT t.id, t.title, t.customer_id, c.name, t.priority, t.queue_id, t.kind FROM tickets t "
    "LEFT JOIN customers c ON c.id = t.customer_id"
)


def reindex_customers(connection: Connection, customer_ids: Iterable[str]) -> None:
    """Index again the tickets of these customers, whose names changed. On PostgreSQL their
    rows are locked as they are read (in order): a priority raised meanwhile by another
    transaction is read once it commits, or waits for this one and retags the new row,
    instead of the old priority being written back over the row its trigger retagged."""
    ids = sorted(set(customer_ids))
    postgresql = connection.dialect.name == "postgresql"
    locked = " ORDER BY t.id FOR UPDATE OF t" if postgresql else ""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join(["%s" if postgresql else "?"] * len(chunk))
        rows = connection.exec_driver_sql(
            f"{_TICKETS} WHERE t.customer_id IN ({marks}){locked}", tuple(chunk)
        ).all()
        tickets = [Indexed(*row) for row in rows]
        _forget(connection, [t.ticket_id for t in tickets])
        index_tickets(connection, tickets)


def _forget(connection: Connection, ticket_ids: list[int]) -> None:
    if not ticket_ids:
        return
    key = "ticket_id" if connection.dialect.name == "postgresql" else "rowid"
    mark = "%s" if connection.dialect.name == "postgresql" else "?"
    connection.exec_driver_sql(
        f"DELETE FROM {SEARCH_TABLE} WHERE {key} = {mark}", [(i,) for i in ticket_ids]
    )


def rebuild_index(connection: Connection) -> int:
    """Index every ticket afresh (after a migration or a copy); returns how many."""
    postgresql = connection.dialect.name == "postgresql"
    if postgresql:
        # Emptied at once: deleted row by row, the old rows would stay in the table as dead
        # ones, and double it. A GIN index is built far faster over the rows than row by row.
        connection.exec_driver_sql(f"TRUNCATE {SEARCH_TABLE}")
        connection.exec_driver_sql(f"DROP INDEX {_GIN}")
    else:
        connection.exec_driver_sql(f"DELETE FROM {SEARCH_TABLE}")
    count = 0
    result = connection.exec_driver_sql(_TICKETS, execution_options={"yield_per": _CHUNK})
    for rows in result.partitions(_CHUNK):
        index_tickets(connection, [Indexed(*row) for row in rows])
        count += len(rows)
    if postgresql:
        _create_gin(connection)
        # The planner's figures for the new rows, before the first filter asks (see
        # `reads.word_ways.common`), rather than whenever autovacuum comes by.
        connection.exec_driver_sql(f"ANALYZE {SEARCH_TABLE}")
    else:  # one b-tree of the index, not many pieces
        connection.exec_driver_sql(
            f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('optimize')"
        )
    return count


def create_index(connection: Connection) -> None:
    """The index's table, empty (the migration fills it)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"CREATE TABLE {SEARCH_TABLE} (ticket_id integer PRIMARY KEY "
            "REFERENCES tickets (id), terms tsvector NOT NULL)"
        )
        _create_gin(connection)
        return
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(title, customer, name, "
        "tokenize = 'unicode61 remove_diacritics 0', prefix = '1 2 3', columnsize = 0)"
    )


_GIN = f"ix_{SEARCH_TABLE}_terms"


def _create_gin(connection: Connection) -> None:
    connection.exec_driver_sql(f"CREATE INDEX {_GIN} ON {SEARCH_TABLE} USING gin (terms)")


def drop_index(connection: Connection) -> None:
    connection.exec_driver_sql(f"DROP TABLE {SEARCH_TABLE}")


def _tags_sql(row: str) -> str:
    """`Indexed.tags` in SQL, of the ticket `row` (OLD or NEW in a trigger)."""
    parts = [f"':{key}:' || {row}.{column}" for key, column in TAGGED.items()]
    return f"ARRAY[{', '.join(parts)}]"


_RETAG = "cxdesk_retag_search"


def create_retagging(connection: Connection) -> None:
    """PostgreSQL: a trigger that puts a ticket's new tags in its row of the index whenever
    its priority, queue or kind changes, by whatever writes it (a command, ingest, a
    supervisor's SQL), so that a tag the filter asks for never names a ticket's old value."""
    columns = ", ".join(TAGGED.values())
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in TAGGED.values())
    connection.exec_driver_sql(
        f"""
        CREATE FUNCTION {_RETAG}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE {SEARCH_TABLE}
            SET terms = ts_delete(terms, {_tags_sql("OLD")})
                || array_to_tsvector({_tags_sql("NEW")})
            WHERE ticket_id = NEW.id;
            RETURN NULL;
        END $$
        """
    )
    connection.exec_driver_sql(
        f"CREATE TRIGGER tickets_retag_search AFTER UPDATE OF {columns} ON tickets "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {_RETAG}()"
    )


def drop_retagging(connection: Connection) -> None:
    connection.exec_driver_sql("DROP TRIGGER IF EXISTS tickets_retag_search ON tickets")
    connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {_RETAG}()")
