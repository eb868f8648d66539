"""Free-text search over tickets: `key:value` terms and words, matched the same on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Boolean, Select, false, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from cxdesk.db.search_index import MAX_PIECES, SEARCH_TABLE, TAGGED, Phrase, Phrases, tags_of
from cxdesk.errors import NotFound, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Ticket
from cxdesk.workflow.basics.refs import parse_ref

FILTER_KEYS = {
    "priority": Ticket.priority,
    "queue": Ticket.queue_id,
    "stage": Ticket.stage,
    "assignee": Ticket.assignee,
    "kind": Ticket.kind,
    "rule": Ticket.rule,
    "customer": Ticket.customer_id,
}

# Any select of tickets: `apply` narrows it and hands back the same kind of statement.
_Statement = TypeVar("_Statement", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class Search:
    """`priority:P1 queue:vip 快递`: exact `key:value` terms and free text, all of them to match.

    A word matches the ticket id, or is found in the customer's id or name or the title (the
    start of the comment): in Chinese and Japanese anywhere, as a run of characters; in
    other scripts at the start of a word (`deliv` finds "delivery", `ivery` does not), the
    case of any letter ignored. It is always data, never a pattern or query syntax.
    """

    terms: tuple[tuple[str, str], ...]
    words: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Search:
        terms, words = [], []
        for token in text.split():
            key, sep, value = token.partition(":")
            if sep and key.lower() in FILTER_KEYS and value:
                terms.append((key.lower(), value))
            elif sep and key.isascii() and key.isalpha() and value:
                known = ", ".join(FILTER_KEYS)
                raise WorkflowError(
                    say(
                        "unknown filter {key}; use {known}, or plain words",
                        key=repr(key),
                        known=known,
                    )
                )
            else:
                words.append(token)
        return cls(tuple(terms), tuple(words))

    def indexed(self) -> Phrases | None:
        """The words the word index is asked about all at once (see `apply`), with the tags
        of the terms it holds too; None if there are no words."""
        words = self._words()
        phrases = tuple(phrase for phrase, number in words if phrase and number is None)
        if not phrases:
            return None
        tagged = [(key, self._value(key, value)) for key, value in self.terms if key in TAGGED]
        return Phrases(tuple(dict.fromkeys(phrases)), tags_of(tagged))

    def only_indexed(self) -> bool:
        """Whether every word that narrows is found through the index alone: none also names
        a ticket or is too long for the index. Only then can the index's tickets for the
        words be walked (see `reads.word_ways`)."""
        words = self._words()
        return bool(words) and all(phrase and number is None for phrase, number in words)

    def apply_terms(self, statement: _Statement) -> _Statement:
        """Narrow `statement`, a select of tickets, by the `key:value` terms."""
        for key, value in self.terms:
            if "\0" in value:  # in no stored value, and refused by PostgreSQL as text
                return statement.where(false())
            statement = statement.where(col(FILTER_KEYS[key]) == self._value(key, value))
        return statement

    @staticmethod
    def _value(key: str, value: str) -> str:
        """A term's value as stored: priorities in capitals, whatever is typed."""
        return value.upper() if key == "priority" else value

    def apply_words(
        self, statement: _Statement, ids: Any = Ticket.id, *, check: bool = False
    ) -> _Statement:
        """Narrow `statement` to the tickets whose id (the column `ids`) its words match:
        found through the word index (`cxdesk.db.search_index`), looked up or, with `check`,
        checked on each ticket read (see `CheckedWords`), never by matching the tickets' own
        text. A word that is also a ticket reference matches that ticket too. A word of
        punctuation alone narrows nothing: the index holds letters and digits only."""
        words = self._words()
        if any(phrase is None and number is None for phrase, number in words):
            return statement.where(false())
        found = CheckedWords if check else LookedUpWords
        indexed = self.indexed()
        if indexed is not None:
            statement = statement.where(found(ids, indexed))
        for phrase, number in words:
            if number is not None:  # a reference, or a word
                either = ids == number
                if phrase is not None:
                    either = or_(either, found(ids, Phrases((phrase,))))
                statement = statement.where(either)
        return statement

    def _words(self) -> list[tuple[Phrase | None, int | None]]:
        """Each word that narrows: its phrase (None: longer than any text the index holds,
        so found in no ticket), and the ticket it names (None: none)."""
        found: list[tuple[Phrase | None, int | None]] = []
        for word in self.words:
            phrase, number = Phrase.of(word), _ticket_number(word)
            if phrase is None and number is None:
                continue  # punctuation alone
            if phrase is not None and len(phrase.pieces) > MAX_PIECES:
                phrase = None
            found.append((phrase, number))
        return found


class LookedUpWords(FunctionElement[bool]):
    """`column` is the id of a ticket in which the word index finds every phrase of
    `phrases`: an IN of the ids the index finds, for words in few tickets. The phrases are
    bound as values in the index's own query language (see `Phrase`), so nothing typed is
    ever syntax."""

    type = Boolean()
    inherit_cache = True
    name = "looked_up_words"
    # A condition as it stands: SQLite would otherwise get `… = 1`, which no index serves.
    _is_implicitly_boolean = True

    def __init__(self, column: Any, phrases: Phrases) -> None:
        # Each phrase has a LIKE pattern of its own: their number is the statement's shape,
        # which SQLAlchemy's cache of compiled statements tells apart.
        fts5, tsquery, likes = phrases.fts5(), phrases.tsquery(), phrases.likes()
        super().__init__(column, literal(fts5), literal(tsquery), *map(literal, likes))


class CheckedWords(LookedUpWords):
    """The same condition as `LookedUpWords`, checked ticket by ticket on SQLite against
    the index's stored words (FTS5's content table, by the ticket's id), for words in many
    tickets: a list read in its order then stops at its page, where looking up every
    ticket the words are in would read them all. PostgreSQL gets an IN of the ids the
    index finds, and its planner chooses how to read them."""

    inherit_cache = True
    name = "checked_words"


def _render(phrase_ids: str) -> Callable[..., str]:
    """How a dialect renders `LookedUpWords`: the column IN the ids `phrase_ids` selects."""

    def render(element: LookedUpWords, compiler: SQLCompiler, **kw: Any) -> str:
        column, fts5, tsquery, *_ = (compiler.process(c, **kw) for c in element.clauses)
        return f"{column} IN ({phrase_ids.format(fts5=fts5, tsquery=tsquery)})"

    return render


def _render_checked(element: CheckedWords, compiler: SQLCompiler, **kw: Any) -> str:
    column, _, _, *likes = (compiler.process(c, **kw) for c in element.clauses)
    # FTS5's content table holds the title, customer id and name as c0, c1, c2: joined by
    # two spaces, no phrase of a pattern's (words parted by one) runs across two of them.
    text = "' ' || s.c0 || '  ' || s.c1 || '  ' || s.c2 || ' '"
    found = " AND ".join(f"{text} LIKE {like} ESCAPE '/'" for like in likes)
    return f"EXISTS (SELECT 1 FROM {SEARCH_TABLE}_content s WHERE s.id = {column} AND {found})"


_POSTGRESQL_IDS = (
    f"SELECT ticket_id FROM {SEARCH_TABLE} WHERE terms @@ CAST({{tsquery}} AS tsquery)"
)


def _render_postgresql_ids(element: LookedUpWords, compiler: SQLCompiler, **kw: Any) -> str:
    """PostgreSQL, for words in few tickets: the ids found first, once, as an array, and
    the tickets read by them. As an IN its planner misjudges a rare word's share of the
    tickets and reads the list's order until it has a page, that is all of it."""
    column, _, tsquery, *_ = (compiler.process(c, **kw) for c in element.clauses)
    return f"{column} = ANY(ARRAY({_POSTGRESQL_IDS.format(tsquery=tsquery)}))"


compiles(LookedUpWords)(
    _render(f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH {{fts5}}")
)
compiles(LookedUpWords, "postgresql")(_render_postgresql_ids)
compiles(CheckedWords)(_render_checked)
compiles(CheckedWords, "postgresql")(_render(_POSTGRESQL_IDS))


def _ticket_number(word: str) -> int | None:
    try:
        return parse_ref(word)
    except NotFound:
        return None
