"""Free-text search over tickets: `key:value` terms and words, matched the same on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Boolean, ColumnElement, Select, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col, select

from cxdesk.errors import NotFound, WorkflowError
from cxdesk.i18n import say
from cxdesk.models import Customer, Ticket
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

    Free text matches the ticket id, the customer's id or name, or the title (the start of
    the comment), as a substring in any language; it is always data, never a pattern.
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

    def apply(self, statement: _Statement, *, customers_joined: bool = True) -> _Statement:
        """Narrow `statement` to matching tickets. With `customers_joined` the statement joins
        each ticket's customer and a word is looked for in the joined name; without, in the
        names of all customers first (see `_word_scan`). Both select the same tickets."""
        for key, value in self.terms:
            column = col(FILTER_KEYS[key])
            value = value.upper() if key == "priority" else value
            statement = statement.where(column == value)
        for word in self.words:
            number = _ticket_number(word)
            name = ContainsText(Customer.name, word)
            matches: list[ColumnElement[bool]] = [
                ContainsText(Ticket.title, word),
                ContainsText(Ticket.customer_id, word),
                name
                if customers_joined
                else col(Ticket.customer_id).in_(select(Customer.id).where(name)),
            ]
            if number is not None:
                matches.append(col(Ticket.id) == number)
            statement = statement.where(or_(*matches))
        return statement


class ContainsText(FunctionElement[bool]):
    """`column` holds `word` anywhere, ignoring the case of ASCII letters on every backend
    (SQLite's LIKE does; PostgreSQL's does not, so it gets ILIKE). `word` is data: `%`, `_`
    and the escape character in it match themselves."""

    type = Boolean()
    inherit_cache = True
    name = "contains_text"

    def __init__(self, column: Any, word: str) -> None:
        escaped = word.replace("/", "//").replace("%", "/%").replace("_", "/_")
        super().__init__(column, literal(f"%{escaped}%"))


def _compile_contains(operator: str) -> Callable[..., str]:
    def render(element: ContainsText, compiler: SQLCompiler, **kw: Any) -> str:
        column, pattern = (compiler.process(c, **kw) for c in element.clauses)
        return f"{column} {operator} {pattern} ESCAPE '/'"

    return render


compiles(ContainsText)(_compile_contains("LIKE"))
compiles(ContainsText, "postgresql")(_compile_contains("ILIKE"))


def _ticket_number(word: str) -> int | None:
    try:
        return parse_ref(word)
    except NotFound:
        return None
