"""A statement over rows whose column is one of many keys (`KeyedQuery`): the same rows for
a few keys and for many, keys that JSON must escape found as they are, other bound values
given by name, and the statement built once for each form, not on each run."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Executable, bindparam, update
from sqlmodel import select

from cxdesk.db import Database, KeyedQuery, insert_rows
from cxdesk.db.bulk import FEW_KEYS
from cxdesk.models import Customer
from cxdesk.models.base import table_of

AT = datetime(2026, 3, 1, tzinfo=UTC)
ODD_IDS = ['C"1', "C\\2", "C'3", "王4", "C 5", "C%6", "C_7", "C\u202e8"]


def _store(db: Database, ids: list[str]) -> None:
    rows: list[dict[str, object]] = [
        {"id": i, "name": f"n{i}", "tier": "gold" if n % 2 else None, "attributes": {}}
        | {"created_at": AT, "updated_at": AT}
        for n, i in enumerate(ids)
    ]
    with db.write() as session:
        insert_rows(session.connection(), table_of(Customer), rows)


def test_few_and_many_keys_find_the_same_rows(db: Database) -> None:
    stored = ODD_IDS + [f"C{n}" for n in range(200)]
    _store(db, stored)
    built: list[ColumnElement[bool]] = []

    def build(keys_in: ColumnElement[bool]) -> Executable:
        built.append(keys_in)
        return select(Customer.id).where(keys_in)

    query = KeyedQuery(Customer.id, build)
    with db.session() as session:
        connection = session.connection()
        few = ["C1", "C1", 'C"1', "missing", "C\\2"]
        assert sorted(query.execute(connection, few).scalars()) == sorted(["C1", 'C"1', "C\\2"])
        many = [*stored[: FEW_KEYS * 3], "missing", *ODD_IDS]  # duplicates, one unknown
        assert len(set(many)) > FEW_KEYS
        assert sorted(query.execute(connection, many).scalars()) == sorted(set(stored[:96]))
        for _ in range(3):  # run again with other keys: nothing is built anew
            assert list(query.execute(connection, ["C7"]).scalars()) == ["C7"]
            assert len(list(query.execute(connection, stored[:100]).scalars())) == 100
    assert len(built) == 2  # one for a few keys, one for many


def test_other_values_are_bound_by_name(db: Database) -> None:
    stored = [f"C{n}" for n in range(50)]
    _store(db, stored)
    golden = KeyedQuery(
        Customer.id,
        lambda keys_in: select(Customer.id).where(keys_in, Customer.tier == bindparam("tier")),
    )
    renaming = KeyedQuery(
        Customer.id,
        lambda keys_in: update(Customer).where(keys_in).values(name=bindparam("name")),
    )
    with db.write() as session:
        connection = session.connection()
        gold = set(golden.execute(connection, stored, tier="gold").scalars())
        assert gold == {f"C{n}" for n in range(1, 50, 2)}
        assert set(golden.execute(connection, ["C1", "C2"], tier="gold").scalars()) == {"C1"}
        renaming.execute(connection, ["C3", "C4"], name="renamed")
        renaming.execute(connection, stored[10:], name="later")
    with db.session() as session:
        names = dict(session.exec(select(Customer.id, Customer.name)).all())
    assert names["C3"] == names["C4"] == "renamed"
    assert {names[i] for i in stored[10:]} == {"later"}
    assert names["C5"] == "nC5"


def test_rows_on_the_driver_are_the_rows_sqlalchemy_reads(db: Database) -> None:
    """`rows` reads on the driver what `execute` reads: no keys, a few (an IN list of as many
    values, one form for each number of them), exactly FEW_KEYS and more; keys JSON escapes,
    duplicates, other bound values, and each column made by its type (a JSON value)."""
    stored = ODD_IDS + [f"C{n}" for n in range(200)]
    _store(db, stored)
    query = KeyedQuery(
        Customer.id,
        lambda keys_in: select(Customer.id, Customer.tier, Customer.attributes).where(
            keys_in, Customer.name != bindparam("not_named")
        ),
    )
    with db.session() as session:
        connection = session.connection()
        for keys in (
            [],
            ["C1"],
            ["C1", "C1", 'C"1', "missing", "王4", "C\u202e8"],
            stored[:FEW_KEYS],
            [*stored[: FEW_KEYS * 3], "missing"],
        ):
            read = query.rows(connection, keys, not_named="nC3")
            expected = query.execute(connection, keys, not_named="nC3").all()
            assert sorted(read) == sorted(tuple(row) for row in expected)
            assert len(read) == len(set(keys) & set(stored) - {"C3"})
        assert query.rows(connection, ["C1"], not_named="x") == [("C1", "gold", {})]
