"""Who is acting: the real uid, never the environment; sudo's word only for the service account."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from cxdesk.errors import WorkflowError
from cxdesk.workflow.access import identity
from cxdesk.workflow.access.identity import SERVICE_ACCOUNT, ProcessUser, process_user
from tests.conftest import Run, engine_for

ME = pwd.getpwuid(os.getuid()).pw_name
NOW = "2026-03-02T10:00:00+08:00"
LOGINS = {0: "root", 500: SERVICE_ACCOUNT, 1001: "alice", 1002: "bob"}


def lookup(uid: int) -> str:
    if uid not in LOGINS:
        raise WorkflowError(f"uid {uid} has no login name on this machine")
    return LOGINS[uid]


def test_the_login_is_the_real_uid_whatever_the_environment() -> None:
    spoofed = {"LOGNAME": "root", "USER": "root", "USERNAME": "root", "SUDO_UID": "0"}
    assert process_user(1001, spoofed, lookup) == ProcessUser("alice", enforced=False)


def test_sudo_uid_is_believed_only_under_the_service_account() -> None:
    assert process_user(500, {"SUDO_UID": "1002"}, lookup) == ProcessUser("bob", enforced=True)
    assert process_user(1001, {"SUDO_UID": "1002"}, lookup).login == "alice"  # forged: ignored


def test_the_service_account_on_its_own_is_the_system() -> None:
    alone = process_user(500, {}, lookup)
    assert alone.is_service and not alone.enforced
    assert process_user(500, {"SUDO_UID": "500"}, lookup).is_service  # sudo to itself


@pytest.mark.parametrize("sudo_uid", ["abc", "99999", "-1"])
def test_a_sudo_uid_that_names_nobody_is_refused(sudo_uid: str) -> None:
    with pytest.raises(WorkflowError, match=r"SUDO_UID|no login name"):
        process_user(500, {"SUDO_UID": sudo_uid}, lookup)


def test_logname_games_change_nothing_in_a_real_process(tmp_path: Path) -> None:
    """`LOGNAME=root cxdesk user add me --role admin` as a real command: the row is written
    by (and audited as) the real login, and a login that is not an agent gets nowhere."""
    db = str(tmp_path / "x.db")
    env = {**os.environ, "CXDESK_DB": db}
    cxdesk = [sys.executable, "-m", "cxdesk"]
    subprocess.run([*cxdesk, "init"], env=env, check=True, capture_output=True)
    forged = {**env, "LOGNAME": "vera", "USER": "vera", "SUDO_UID": "4242"}
    subprocess.run(
        [*cxdesk, "user", "add", "me", "--role", "admin"],
        env=forged,
        check=True,
        capture_output=True,
    )
    engine = engine_for(db)
    with engine.connect() as connection:
        actors = connection.execute(
            sa.text("SELECT actor FROM audit_log WHERE action = 'user' ORDER BY id")
        ).scalars()
        assert list(actors) == [ME, ME]
    engine.dispose()


@pytest.fixture
def staffed(initialised: str, run: Run) -> tuple[str, ...]:
    db = ("--db", initialised)
    run(*db, "user", "add", "ann", "--team", "care")
    return db


def as_unix_user(monkeypatch: pytest.MonkeyPatch, login: str, enforced: bool = False) -> None:
    """Run the in-process CLI as if `login` had started it."""
    monkeypatch.setattr(identity, "process_user", lambda: ProcessUser(login, enforced))


def test_a_login_that_is_not_an_agent_reads_and_writes_nothing(
    staffed: tuple[str, ...], run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "f.jsonl"
    feed.write_text('{"event_id": "x"}\n', encoding="utf-8")
    assert run(*staffed, "ingest", str(feed))[0] == 1  # quarantined by the admin
    as_unix_user(monkeypatch, "mallory")
    for command in (
        ("ingest", str(feed)),
        ("ingest", "quarantine", "list"),
        ("ingest", "quarantine", "show", "1"),
        ("ingest", "quarantine", "retry", "1"),
        ("rules", "test", str(feed)),
        ("rules", "backtest"),
        ("ticket", "list"),
        ("report", "nps"),
        ("user", "list"),
        ("template", "list"),
        ("audit", "verify"),
        ("sweep",),
        ("init",),
        ("db", "upgrade"),
    ):
        code, out, err = run(*staffed, *command)
        assert (code, out) == (2, ""), command
        assert "'mallory' is not an active cxdesk agent" in err, command


def test_ingest_and_the_quarantine_are_for_the_ingest_roles(
    staffed: tuple[str, ...], run: Run, tmp_path: Path
) -> None:
    feed = tmp_path / "f.jsonl"
    feed.write_text('{"event_id": "x", "customer": {"phone": "13812340000"}}\n', "utf-8")
    assert run(*staffed, "ingest", str(feed))[0] == 1
    ann = (*staffed, "--as", "ann")
    for command in (
        ("ingest", str(feed)),
        ("ingest", "quarantine", "show", "1"),
        ("ingest", "quarantine", "retry", "1"),
        ("rules", "backtest"),
    ):
        code, out, err = run(*ann, *command)
        assert code == 2 and "13812340000" not in out + err
        assert "ann (agent) may not" in err and "ingest roles" in err
    run(*staffed, "user", "add", "feed", "--role", "ingest")
    feeder = (*staffed, "--as", "feed")
    assert run(*feeder, "ingest", "quarantine", "show", "1")[0] == 0
    assert run(*feeder, "rules", "backtest")[0] == 0
    code, _, err = run(*feeder, "ticket", "list")
    assert code == 0  # an ingest account with no team sees no ticket …
    code, _, err = run(*feeder, "ticket", "note", "1", "--message", "x")
    assert code == 2 and "no ticket CX-000001" in err  # … and works none


def test_the_system_name_is_reserved(
    staffed: tuple[str, ...], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(*staffed, "user", "add", SERVICE_ACCOUNT, "--role", "admin")
    assert code == 2 and "reserved" in err
    engine = engine_for(staffed[1])
    with engine.begin() as connection:  # a row written behind cxdesk's back changes nothing
        connection.execute(
            sa.text(
                "INSERT INTO agents (login, display_name, role, skills, away, active, created_at)"
                " VALUES ('cxdesk', 'x', 'agent', '[]', false, true, '2026-01-01T00:00:00Z')"
            )
        )
        connection.execute(sa.text("UPDATE meta SET value = 'true' WHERE key = 'demo'"))
        connection.execute(
            sa.text(
                "INSERT INTO meta (key, value) SELECT 'demo', 'true' WHERE NOT EXISTS "
                "(SELECT 1 FROM meta WHERE key = 'demo')"
            )
        )
    engine.dispose()
    code, _, err = run(*staffed, "--as", SERVICE_ACCOUNT, "ticket", "list")
    assert code == 2 and "no one acts as it" in err
    as_unix_user(monkeypatch, "ann")  # on a demo database anyone may use --as, but not as it
    code, _, err = run(*staffed, "--as", SERVICE_ACCOUNT, "user", "add", "eve", "--role", "admin")
    assert code == 2 and "no one acts as it" in err


def test_now_is_for_admins(staffed: tuple[str, ...], run: Run, monkeypatch: pytest.MonkeyPatch):
    """An agent who could set the clock could resolve "within SLA" after the fact."""
    assert run(*staffed, "--now", NOW, "ticket", "list")[0] == 0
    assert run(*staffed, "--as", "ann", "--now", NOW, "ticket", "list")[0] == 0  # the admin's
    as_unix_user(monkeypatch, "ann")
    code, _, err = run(*staffed, "--now", NOW, "ticket", "list")
    assert code == 2 and "ann (agent) may not use --now" in err


def test_only_admins_reshape_a_staffed_database(
    staffed: tuple[str, ...], run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`init` with a config of one's own would rename supervisors (where escalations go)."""
    evil = tmp_path / "evil.toml"
    evil.write_text('[teams.care]\nname = "x"\nsupervisor = "ann"\n', encoding="utf-8")
    as_unix_user(monkeypatch, "ann")
    for command in (("init",), ("db", "upgrade"), ("sweep",), ("backup", str(tmp_path / "b"))):
        code, _, err = run(*staffed, "--config", str(evil), *command)
        assert code == 2 and "ann (agent) may not" in err, command


# -- the enforced deployment ---------------------------------------------------------------


@pytest.fixture
def service_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> Path:
    """The service account's home with its database, entered as `sudo -u cxdesk` would."""
    home = tmp_path / "srv"
    home.mkdir()
    assert run("--db", str(home / "cxdesk.db"), "init")[0] == 0
    real_getpwnam = pwd.getpwnam
    monkeypatch.setattr(
        pwd,
        "getpwnam",
        lambda name: (
            SimpleNamespace(pw_dir=str(home)) if name == SERVICE_ACCOUNT else real_getpwnam(name)
        ),
    )
    as_unix_user(monkeypatch, ME, enforced=True)
    umask = os.umask(0o022)
    os.umask(umask)
    yield home
    os.umask(umask)


def test_under_sudo_the_service_database_is_the_only_one(
    service_home: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run("user", "list", "--format", "json")
    assert code == 0 and [a["login"] for a in json.loads(out)] == [ME]
    assert Path.cwd() == service_home
    mine = tmp_path / "mine.db"
    for args in (
        ("--db", str(mine), "user", "list"),
        ("--config", str(tmp_path / "c.toml"), "user", "list"),
    ):
        code, _, err = run(*args)
        assert code == 2 and "service account's database and config only" in err
    monkeypatch.setenv("CXDESK_DB", str(mine))
    code, _, err = run("user", "list")
    assert code == 2 and "CXDESK_DB" in err


def test_under_sudo_no_file_is_opened_for_the_person(
    service_home: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service account may read its own secrets and overwrite its database: a path a
    person names must not make it do either."""
    secret = service_home / "cxdesk.db"
    for args in (
        ("ingest", str(secret)),
        ("rules", "test", str(secret)),
        ("rules", "backtest", "--rules", str(secret)),
        ("backup", str(secret)),
        ("db", "copy", "--to", f"sqlite:///{secret}"),
        ("ingest", "quarantine", "retry", "--all", "--from-source"),
    ):
        code, out, err = run(*args)
        assert code == 2 and out == "", args
        assert "service account" in err, args
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115
    assert run("ingest", "-")[0] == 0  # what the person's shell opened for them


def test_the_config_beside_the_default_database_may_name_another(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How the enforced deployment names a PostgreSQL database without `--db`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cxdesk.toml").write_text('[database]\nurl = "elsewhere.db"\n', "utf-8")
    assert run("init")[0] == 0
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "cxdesk.db").exists()


def test_demo_builds_only_into_nothing_or_a_demo(new_db: str, run: Run, tmp_path: Path) -> None:
    """`demo --force` replaced whatever file it was pointed at; on PostgreSQL it filled a
    live database with made-up tickets and marked it a demo (where anyone may `--as`)."""
    assert run("--db", new_db, "init")[0] == 0
    code, _, err = run("--db", new_db, "demo", "--no-tui", "--force")
    assert code == 2 and ("not a demo database" in err or "already holds a database" in err)
    assert run("--db", new_db, "user", "list")[0] == 0  # untouched
    stranger = tmp_path / "notes.txt"
    stranger.write_text("not a database", encoding="utf-8")
    code, _, err = run("--db", str(stranger), "demo", "--no-tui", "--force")
    assert code == 2 and stranger.read_text(encoding="utf-8") == "not a database"


def test_under_sudo_there_is_no_demo(service_home: Path, run: Run) -> None:
    code, _, err = run("demo", "--no-tui", "--force")
    assert code == 2 and "service account" in err
    assert (service_home / "cxdesk.db").exists()


@pytest.mark.parametrize(
    "login",
    [
        "CXDESK",
        "Cxdesk",
        "cxd\u0435sk",
        "cx-desk",
        "cxdesk.",
        "cx_desk",
        "a" * 33,
        "-rf",
        ".hidden",
        "ann\x1b[2J",
        "王",
    ],
)
def test_a_login_is_a_portable_unix_name_and_never_the_systems(
    staffed: tuple[str, ...], run: Run, login: str
) -> None:
    code, _, err = run(*staffed, "user", "add", "--", login)
    assert code == 2 and ("reserved" in err or "must be the agent's Unix login" in err)
