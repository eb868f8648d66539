"""Where a database's audit key is kept: one database, one key file, however its URL says it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from cxdesk.db import default_key_file


def server(port: str = "") -> str:
    """The same database's URL, with the port named or not."""
    return f"postgresql+psycopg://cx@db.example{':' + port if port else ''}/desk"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    folder = tmp_path / "cxdesk" / "audit-keys"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize(("made", "asked"), [("5432", ""), ("", "5432")])
def test_a_key_made_with_or_without_the_default_port_is_found_either_way(
    keys: Path, made: str, asked: str
) -> None:
    path = default_key_file(server(made))
    assert path is not None and path.parent == keys
    path.write_text("secret")
    assert default_key_file(server(asked)) == path


def test_without_a_key_each_spelling_makes_its_own_and_another_port_is_another_database(
    keys: Path,
) -> None:
    bare = default_key_file(server())
    explicit = default_key_file(server("5432"))
    assert bare == keys / "db.example-default-desk.key"
    assert explicit == keys / "db.example-5432-desk.key"
    explicit.write_text("secret")
    assert default_key_file(server("6432")) == keys / "db.example-6432-desk.key"


def test_where_both_spellings_hold_a_key_the_urls_own_is_taken(keys: Path) -> None:
    for name in ("db.example-default-desk.key", "db.example-5432-desk.key"):
        (keys / name).write_text(name)
    assert default_key_file(server("5432")) == keys / "db.example-5432-desk.key"
    assert default_key_file(server()) == keys / "db.example-default-desk.key"


@pytest.mark.parametrize("name", ["a%2F..%2F..%2Fx", "..%2F..%2Fx", "a%25b", "a%252Fb", "x%00y"])
def test_every_database_name_keeps_its_key_in_the_keys_folder(keys: Path, name: str) -> None:
    """Found by an attack: a database named `a/../../x` put its key two folders up."""
    path = default_key_file(f"postgresql+psycopg://cx@db.example/{name}")
    assert path is not None and path.parent == keys and "\x00" not in path.name


def test_names_that_differ_keep_keys_that_differ(keys: Path) -> None:
    names = ["a/b", "a%2Fb", "a%b", "a%25b"]
    paths = {
        default_key_file(f"postgresql+psycopg://cx@db.example/{quote(n, safe='')}") for n in names
    }
    assert len(paths) == len(names)
    assert default_key_file(server("5432")) == keys / "db.example-5432-desk.key"


def test_an_sqlite_file_keeps_its_key_beside_it(tmp_path: Path) -> None:
    assert default_key_file(f"sqlite:///{tmp_path}/cx.db") == tmp_path / "cx.db.key"
    assert default_key_file("sqlite://") is None
