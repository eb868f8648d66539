"""The command line as a user meets it: output formats, filters, exit codes, one-line errors."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from cxdesk.db import Database
from cxdesk.models import Stage
from tests.conftest import Run, engine_for

ME = getpass.getuser()

LIST_KEYS = {
    "id",
    "kind",
    "stage",
    "priority",
    "queue",
    "assignee",
    "customer_id",
    "opened_at",
    "first_response_due",
    "resolution_due",
}


@pytest.fixture(scope="session")
def full_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `demo` command at its default size, run as a user would (`python -m`)."""
    path = tmp_path_factory.mktemp("full") / "x.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cxdesk",
            "--db",
            str(path),
            "--now",
            "2026-03-02T10:00:00+08:00",
            "demo",
            "--no-tui",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CXDESK_DB": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "tickets" in result.stderr
    return path


def test_demo_lists_500_tickets_in_every_stage(full_demo: Path, run: Run) -> None:
    code, out, _ = run(
        "--db", str(full_demo), "ticket", "list", "--format", "json", "--limit", "100000"
    )
    assert code == 0
    tickets = json.loads(out)
    assert len(tickets) >= 500
    assert {t["stage"] for t in tickets} == {s.value for s in Stage}
    assert set(tickets[0]) >= LIST_KEYS
    assert {t["kind"] for t in tickets} == {"case", "problem"}
    assert {t["queue"] for t in tickets} >= {"aftersales", "vip", "billing"}
    engine = sa.create_engine(f"sqlite:///{full_demo}")
    with engine.connect() as connection:
        events = connection.execute(sa.text("SELECT count(*) FROM feedback_events")).scalar()
        chinese = connection.execute(
            sa.text("SELECT count(*) FROM feedback_events WHERE comment LIKE '%快递%'")
        ).scalar()
        english = connection.execute(
            sa.text("SELECT count(*) FROM feedback_events WHERE comment LIKE '%refund%'")
        ).scalar()
        agents = dict(
            connection.execute(sa.text("SELECT role, count(*) FROM agents GROUP BY role")).all()
        )
        links = connection.execute(sa.text("SELECT count(*) FROM ticket_links")).scalar()
    engine.dispose()
    assert events >= 3000 and chinese > 0 and english > 0
    assert sum(agents.values()) >= 12 and set(agents) == {"agent", "supervisor", "admin"}
    assert links > 0
    for view in ("breached", "at_risk", "escalated", "verifying"):
        code, out, _ = run(
            "--db",
            str(full_demo),
            "--now",
            "2026-03-02T10:00:00+08:00",
            "ticket",
            "list",
            "--view",
            view,
            "--format",
            "json",
        )
        assert code == 0 and len(json.loads(out)) > 0, view


def test_the_readme_counts_the_demo_as_it_is(full_demo: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    said = " ".join(readme[readme.index("`cxdesk demo` replays") :].split("\n\n")[0].split())

    def number(pattern: str) -> int:
        match = re.search(pattern, said)
        assert match is not None, pattern
        return int(match.group(1).replace(",", ""))

    engine = engine_for(str(full_demo))

    def count(where: str) -> int:
        with engine.connect() as connection:
            return int(connection.execute(sa.text(f"SELECT count(*) FROM {where}")).scalar_one())

    events, tickets = count("feedback_events"), count("tickets")
    problems = count("tickets WHERE kind = 'problem'")
    agents, teams = count("agents"), count("teams")
    engine.dispose()
    assert abs(number(r"about ([\d,]+) feedback events") - events) <= events * 0.05
    assert abs(number(r"([\d,]+) tickets in every stage") - tickets) <= tickets * 0.05
    assert abs(number(r"some (\d+) of them problem tickets") - problems) <= problems * 0.2
    assert (number(r"(\d+) agents in two teams"), teams) == (agents, 2)


def test_demo_refuses_to_overwrite_without_force(full_demo: Path, run: Run) -> None:
    code, _, err = run("--db", str(full_demo), "demo", "--no-tui")
    assert code == 2 and f"already exists: open it with `cxdesk --db {full_demo}`" in err
    assert "use --force to replace it" in err


def test_list_filters_and_formats(demo_copy: str, run: Run) -> None:
    db = ("--db", str(demo_copy))
    _, out, _ = run(*db, "ticket", "list", "--format", "json", "--limit", "100000")
    everything = json.loads(out)
    _, out, _ = run(
        *db, "ticket", "list", "--format", "json", "--stage", "closed", "--limit", "100000"
    )
    closed = json.loads(out)
    assert closed and {t["stage"] for t in closed} == {"closed"}
    assert len(closed) == sum(t["stage"] == "closed" for t in everything)
    _, out, _ = run(*db, "ticket", "list", "--format", "json", "--queue", "vip", "--limit", "3")
    assert [t["queue"] for t in json.loads(out)] == ["vip"] * 3
    assignee = next(t["assignee"] for t in everything if t["assignee"])
    _, out, _ = run(
        *db, "ticket", "list", "--format", "json", "--assignee", assignee, "--limit", "100000"
    )
    assert {t["assignee"] for t in json.loads(out)} == {assignee}
    _, out, _ = run(*db, "ticket", "list", "--format", "csv", "--limit", "5")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5 and rows[0]["id"].startswith("CX-")
    code, out, _ = run(*db, "ticket", "list", "--limit", "5")
    assert code == 0 and out.splitlines()[0].split()[:3] == ["id", "priority", "stage"]


def test_show_includes_the_timeline_and_masks_contacts(demo_copy: str, run: Run) -> None:
    code, out, _ = run("--db", str(demo_copy), "ticket", "show", "CX-000001", "--format", "json")
    assert code == 0
    shown = json.loads(out)
    assert shown["id"] == "CX-000001" and shown["timeline"]
    assert shown["timeline"][0]["kind"] == "alert"
    assert "*" not in shown["customer"]["phone"]  # a supervisor holds the pii permission
    as_agent = ("--db", str(demo_copy), "--as", "zhang.wei")
    _, out, _ = run(*as_agent, "ticket", "list", "--format", "json", "--limit", "100000")
    visible = json.loads(out)
    assert visible and {t["queue"] for t in visible} <= {"aftersales", "billing"}
    case = next(t["id"] for t in visible if t["kind"] == "case")
    _, out, _ = run(*as_agent, "ticket", "show", case, "--format", "json")
    customer = json.loads(out)["customer"]
    assert "****" in customer["phone"] and "***@" in customer["email"]
    _, out, _ = run("--db", str(demo_copy), "ticket", "list", "--queue", "vip", "--format", "json")
    vip = json.loads(out)[0]["id"]
    code, _, err = run(*as_agent, "ticket", "show", vip)
    assert code == 2 and f"no ticket {vip}" in err  # outside the agent's teams
    code, out, _ = run("--db", str(demo_copy), "ticket", "show", "1")
    assert code == 0 and "CX-000001" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ticket", "show", "CX-999999"), "no ticket CX-999999"),
        (("ticket", "show", "banana"), "not a ticket id: 'banana'"),
        (("ticket", "list", "--bogus"), "No such option '--bogus'"),
        (("ticket", "list", "--limit", "0"), "Invalid value for '--limit'"),
        (("ticket", "list", "--stage", "limbo"), "'limbo' is not one of new"),
        (("--now", "yesterday", "ticket", "list"), "not an ISO 8601 time"),
        (("frobnicate",), "No such command 'frobnicate'"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    demo_copy: str, run: Run, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run("--db", str(demo_copy), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cxdesk: error: ") and message in err


def test_a_missing_database_is_one_line(tmp_path: Path, run: Run) -> None:
    code, _, err = run("--db", str(tmp_path / "none.db"), "ticket", "list")
    assert code == 2 and err == (
        f"cxdesk: error: no database at {tmp_path / 'none.db'}: run "
        "`cxdesk init` or `cxdesk demo` to create one\n"
    )
    assert not (tmp_path / "none.db").exists()


def test_a_newer_database_is_one_line(demo_copy: str, run: Run) -> None:
    engine = engine_for(demo_copy)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    engine.dispose()
    code, _, err = run("--db", str(demo_copy), "ticket", "list")
    assert code == 2 and "newer than this cxdesk" in err and err.count("\n") == 1


def test_init_and_upgrade_are_idempotent(new_db: str, run: Run) -> None:
    path = new_db
    assert run("--db", path, "init")[0] == 0
    assert run("--db", path, "init")[0] == 0
    code, out, _ = run("--db", path, "db", "upgrade")
    assert code == 0 and "already at" in out
    code, out, _ = run("--db", path, "ticket", "list", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_a_command_leaves_no_connection_open(
    new_db: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Connections left to the interpreter's exit are reported as unclosed (Python 3.13)."""
    opened: list[Database] = []
    open_database = Database.open

    def recording_open(*args: object, **kwargs: object) -> Database:
        db = open_database(*args, **kwargs)  # type: ignore[arg-type]
        opened.append(db)
        return db

    monkeypatch.setattr(Database, "open", recording_open)
    for command in (["init"], ["ticket", "list"]):
        assert run("--db", new_db, *command)[0] == 0
    assert len(opened) == 2
    assert [db.engine.pool.checkedin() for db in opened] == [0, 0]


def test_init_makes_me_the_first_admin(new_db: str, run: Run) -> None:
    code, out, _ = run("--db", new_db, "init")
    assert code == 0 and f"{ME} is its first agent, an admin" in out
    assert run("--db", new_db, "user", "add", "ann", "--team", "care")[0] == 0
    code, out, _ = run("--db", new_db, "user", "list", "--format", "json")
    assert code == 0 and [a["login"] for a in json.loads(out)] == sorted(["ann", ME])


def test_user_add_and_list(new_db: str, run: Run) -> None:
    db = ("--db", new_db)
    run(*db, "init")
    code, _, _ = run(
        *db,
        "user",
        "add",
        "ann",
        "--name",
        "Ann 李",
        "--role",
        "supervisor",
        "--team",
        "care",
        "--team",
        "vip",
        "--skill",
        "zh",
    )
    assert code == 0
    code, out, _ = run(*db, "user", "list", "--format", "json")
    agents = {a["login"]: a for a in json.loads(out)}
    assert agents["ann"] == {
        "login": "ann",
        "display_name": "Ann 李",
        "role": "supervisor",
        "teams": ["care", "vip"],
        "skills": ["zh"],
        "away": False,
        "active": True,
    }
    assert agents[ME]["role"] == "admin"
    code, _, err = run(*db, "user", "add", "bob", "--team", "nope")
    assert code == 2 and "no team 'nope'" in err
    code, _, err = run(*db, "user", "add", "bob", "--role", "boss")
    assert code == 2 and "'boss' is not one of" in err
    code, _, err = run(*db, "--as", "ann", "user", "add", "eve")
    assert code == 2 and "ann (supervisor) may not manage agents; only admins may" in err


def test_as_is_honoured_for_admins_only(new_db: str, run: Run) -> None:
    db = ("--db", new_db)
    run(*db, "init")  # you are its admin
    run(*db, "user", "add", "ann", "--team", "care")
    code, out, _ = run(*db, "--as", "ann", "ticket", "list", "--view", "mine", "--format", "json")
    assert code == 0 and json.loads(out) == []
    run(*db, "user", "add", ME, "--role", "agent", "--team", "care")
    code, _, err = run(*db, "--as", "ann", "ticket", "list", "--view", "mine")
    assert code == 2 and "--as is only honoured for admins or on a demo database" in err


def test_someone_who_is_not_an_agent_is_told_how_to_get_in(new_db: str, run: Run) -> None:
    db = ("--db", new_db)
    run(*db, "init")
    run(*db, "user", "add", "ann", "--role", "admin")
    run(*db, "--as", "ann", "user", "add", ME, "--role", "agent")
    engine = engine_for(new_db)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE agents SET active = false WHERE login = :me"), {"me": ME}
        )
    engine.dispose()
    code, _, err = run(*db, "ticket", "list")
    assert code == 2 and f"cxdesk user add {ME}" in err


def test_schema_is_the_event_json_schema(run: Run) -> None:
    code, out, _ = run("schema")
    schema = json.loads(out)
    assert code == 0
    assert set(schema["required"]) == {"event_id", "kind", "occurred_at", "customer"}
    assert schema["properties"]["nps"]["anyOf"][0]["maximum"] == 10


@pytest.mark.parametrize("group", ["ticket", "ingest", "audit", "db"])
def test_a_bare_group_shows_what_it_offers(run: Run, group: str) -> None:
    code, out, err = run(group)
    assert (code, err) == (0, "")
    assert out.startswith(f"Usage: cxdesk {group} ") and "Commands:" in out


def test_ingest_help_shows_how_to_ingest_and_its_options_may_come_first(
    run: Run, new_db: str, tmp_path: Path
) -> None:
    code, out, _ = run("ingest", "--help")
    assert code == 0 and "cxdesk ingest [OPTIONS] FILE|-" in out
    assert "--batch" in out and "--format" in out and "quarantine" in out
    assert run("--db", new_db, "init")[0] == 0
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"event_id": "b1", "kind": "survey", "occurred_at": "2026-03-02T08:00:00+08:00", '
        '"customer": {"id": "Z1"}, "nps": 9}\n',
        encoding="utf-8",
    )
    code, out, err = run(
        "--db",
        new_db,
        "--now",
        "2026-03-02T10:00:00+08:00",
        "ingest",
        "--batch",
        "10",
        "--format",
        "json",
        str(feed),
    )
    assert code == 0, err
    assert json.loads(out)["accepted"] == 1
