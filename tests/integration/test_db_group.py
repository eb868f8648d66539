"""The SQLite file and its -wal/-shm are given to a configured Unix group (`[database] group`
or CXDESK_GROUP); an unknown group is a one-line error naming it. Giving a file to a group one
is not in needs root, so these run as root only."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from cxdesk.db import Database
from cxdesk.workflow.ops.schema import upgrade_database
from tests.conftest import Run

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving a file to another group needs root here",
)


@pytest.fixture
def gid() -> int:
    try:
        return grp.getgrnam("daemon").gr_gid
    except KeyError:
        pytest.skip("no group daemon on this machine")


def files(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def test_the_configured_group_gets_the_database_files(tmp_path: Path, run: Run, gid: int) -> None:
    (tmp_path / "cxdesk.toml").write_text('[database]\ngroup = "daemon"\n', encoding="utf-8")
    path = tmp_path / "team.db"
    code, _, err = run("--db", str(path), "init")
    assert code == 0, err
    key = Path(f"{path}.key")  # the audit key: the team reads it, nobody else
    assert (key.stat().st_gid, stat.S_IMODE(key.stat().st_mode)) == (gid, 0o640)
    db = Database.open(str(path), group="daemon")
    with db.engine.connect() as connection:  # while it is open, the -wal and -shm exist
        connection.exec_driver_sql("SELECT count(*) FROM tickets").scalar()
        for name in files(path):
            info = name.stat()
            assert info.st_gid == gid, name.name
            assert stat.S_IMODE(info.st_mode) == 0o660, name.name
    db.dispose()


def test_files_made_afresh_in_another_group_are_given_back(tmp_path: Path, gid: int) -> None:
    """Whoever opens the database first after everyone closed it makes new -wal/-shm files in
    their own group; the next connection of a cxdesk configured with the group mends that."""
    path = tmp_path / "team.db"
    db = Database.open(str(path), must_exist=False, group="daemon")
    upgrade_database(db)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")
        for name in files(path):
            os.chown(name, -1, 0)  # as if made by someone in group 0
        other = Database.open(str(path), group="daemon")
        with other.engine.connect() as again:
            again.exec_driver_sql("SELECT 1")
            assert [name.stat().st_gid for name in files(path)] == [gid] * 3
        other.dispose()
    db.dispose()


def test_the_environment_wins_over_the_config(tmp_path: Path, run: Run, gid: int, monkeypatch):
    (tmp_path / "cxdesk.toml").write_text('[database]\ngroup = "nonesuch"\n', encoding="utf-8")
    monkeypatch.setenv("CXDESK_GROUP", str(gid))  # a number works too
    path = tmp_path / "env.db"
    assert run("--db", str(path), "init")[0] == 0
    assert path.stat().st_gid == gid


def test_an_unknown_group_is_one_line_naming_it(tmp_path: Path, run: Run) -> None:
    (tmp_path / "cxdesk.toml").write_text('[database]\ngroup = "no-such-team"\n', encoding="utf-8")
    path = tmp_path / "x.db"
    code, out, err = run("--db", str(path), "init")
    assert code == 2 and out == ""
    assert err.startswith("cxdesk: error: unknown group 'no-such-team'") and err.count("\n") == 1
    assert not path.exists()  # refused before anything was made
