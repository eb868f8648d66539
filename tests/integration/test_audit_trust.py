"""What the audit log catches: rows removed from its end (with an anchor), rows rewritten
without the key, tickets and timeline entries edited behind cxdesk's back; and what keeping
the key outside the database asks of its owner."""

from __future__ import annotations

import json
import os
import pwd
import signal
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from cxdesk.db import default_key_file, resolve_url
from cxdesk.workflow.audit.chain import KEY_ACTION, Head, entry_digest, parse_anchor
from tests.conftest import DEMO_ADMIN, Run, engine_for

ME = pwd.getpwuid(os.getuid()).pw_name


def sql(target: str, statement: str, **values: object) -> list[tuple]:
    """Run SQL on the database behind cxdesk's back, as whoever can edit it could."""
    engine = engine_for(target)
    with engine.begin() as connection:
        result = connection.execute(sa.text(statement), values)
        rows = [tuple(row) for row in result] if result.returns_rows else []
    engine.dispose()
    return rows


def key_path(target: str) -> Path:
    path = default_key_file(resolve_url(target))
    assert path is not None
    return path


def verify(
    run: Run, target: str, *options: str, as_user: str | None = DEMO_ADMIN
) -> tuple[int, str]:
    """`audit verify` as an admin (the demo's, unless `as_user` is None: the one who ran init)."""
    code, out, err = run(
        "--db", target, *(("--as", as_user) if as_user else ()), "audit", "verify", *options
    )
    return code, out + err


def a_ticket(target: str) -> int:
    return sql(target, "SELECT id FROM tickets ORDER BY id LIMIT 1 OFFSET 5")[0][0]


def test_an_intact_demo_verifies_deeply(demo_copy: str, run: Run) -> None:
    code, said = verify(run, demo_copy, "--deep")
    assert code == 0, said
    assert "chain intact" in said and "timeline entries match" in said
    tickets = sql(demo_copy, "SELECT count(*) FROM tickets")[0][0]
    agents = sql(demo_copy, "SELECT count(*) FROM agents")[0][0]
    assert f"OK: {tickets:,} tickets and {agents} agents as the audit log left them" in said


def a_desk_with_one_case(run: Run, new_db: str, tmp_path: Path) -> None:
    """A new desk (its maker its one agent) where one complaint opened a case."""
    assert run("--db", new_db, "init")[0] == 0
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"event_id": "e1", "kind": "complaint", "occurred_at": "2026-03-02T10:00:00+08:00", '
        '"customer": {"id": "c1"}, "comment": "charged twice"}\n',
        encoding="utf-8",
    )
    assert run("--db", new_db, "ingest", str(feed))[0] == 0


def test_a_deep_check_counts_one_of_each_in_the_singular(
    new_db: str, run: Run, tmp_path: Path
) -> None:
    a_desk_with_one_case(run, new_db, tmp_path)
    code, said = verify(run, new_db, "--deep", as_user=None)
    assert code == 0 and "OK: 1 ticket and 1 agent as the audit log left them" in said, said


def admin(target: str) -> str:
    return sql(target, "SELECT login FROM agents WHERE role = 'admin' LIMIT 1")[0][0]


def test_rows_removed_from_the_end_are_caught_by_an_anchor(demo_copy: str, run: Run) -> None:
    number = a_ticket(demo_copy)
    note = ("--db", demo_copy, "--as", admin(demo_copy), "ticket", "note", str(number))
    assert run(*note, "--message", "called the customer")[0] == 0
    code, head, _ = run("--db", demo_copy, "--as", DEMO_ADMIN, "audit", "head")
    assert code == 0
    count = int(head.split(":")[0])
    # the last command removed whole: its audit row and the timeline entry it recorded
    sql(demo_copy, "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
    sql(demo_copy, "DELETE FROM timeline_entries WHERE id = (SELECT max(id) FROM timeline_entries)")
    assert verify(run, demo_copy, "--deep")[0] == 0  # a shortened chain is still a chain
    code, said = verify(run, demo_copy, "--anchor", head.strip())
    assert code == 1
    assert f"the chain has {count - 1:,} rows, fewer than the anchor's {count:,}" in said


def test_an_anchor_the_chain_does_not_hold_fails(demo_copy: str, run: Run) -> None:
    count = run("--db", demo_copy, "--as", DEMO_ADMIN, "audit", "head", "--format", "json")[1]
    rows = int(__import__("json").loads(count)["rows"])
    code, said = verify(run, demo_copy, "--anchor", f"{rows // 2}:{'0' * 64}")
    assert code == 1 and "does not have the anchor's digest" in said
    code, _, err = run(
        "--db", demo_copy, "--as", DEMO_ADMIN, "audit", "verify", "--anchor", "12:abc"
    )
    assert code == 2 and "COUNT:DIGEST" in err


@given(st.text(max_size=80))
def test_any_anchor_text_is_read_or_refused_with_a_reason(text: str) -> None:
    try:
        head = parse_anchor(text)
    except ValueError as exc:
        assert "COUNT:DIGEST" in str(exc)
    else:
        assert parse_anchor(str(head)) == head


@given(st.integers(min_value=1, max_value=10**12), st.binary(min_size=32, max_size=32))
def test_a_head_reads_back_as_printed(rows: int, digest: bytes) -> None:
    head = Head(rows, digest.hex())
    assert parse_anchor(str(head)) == head


def test_an_edited_ticket_is_found_by_deep_verify(demo_copy: str, run: Run) -> None:
    number = a_ticket(demo_copy)
    sql(demo_copy, "UPDATE tickets SET escalation_level = 2 WHERE id = :n", n=number)
    assert verify(run, demo_copy)[0] == 0  # the chain itself is untouched
    code, said = verify(run, demo_copy, "--deep")
    assert code == 1
    assert f"CX-{number:06d}: level is 2 in tickets" in said


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE timeline_entries SET body = body || ' (edited)' WHERE id = :e",
        "DELETE FROM timeline_entries WHERE id = :e",
    ],
    ids=["edited", "deleted"],
)
def test_an_edited_or_deleted_timeline_entry_is_caught(demo_copy: str, run: Run, edit: str) -> None:
    number = a_ticket(demo_copy)
    entry = sql(demo_copy, "SELECT max(id) FROM timeline_entries WHERE ticket_id = :n", n=number)
    sql(demo_copy, edit, e=entry[0][0])
    code, said = verify(run, demo_copy)
    assert code == 1 and "timeline entries do not match" in said
    code, said = verify(run, demo_copy, "--deep")  # names the ticket, as the plain one says
    assert code == 1 and f"CX-{number:06d}: its timeline does not match" in said
    assert verify_deep_names(demo_copy) == number


def verify_deep_names(target: str) -> int | None:
    """The ticket `verify_deep` reports, on a chain that may already be known to be bad."""
    from cxdesk.db import Database
    from cxdesk.workflow.audit.verify import verify_deep

    db = Database.open(target)
    with db.session() as session:
        problem = verify_deep(session).problem
    db.dispose()
    return int(problem.split(":")[0].removeprefix("CX-")) if problem else None


def test_a_row_rewritten_and_rehashed_without_the_key_is_caught(demo_copy: str, run: Run) -> None:
    rows = sql(demo_copy, "SELECT id FROM audit_log ORDER BY id")
    middle = rows[len(rows) // 2][0]
    sql(demo_copy, "UPDATE audit_log SET actor = 'mallory' WHERE id = :i", i=middle)
    rehash_from(demo_copy, middle)
    code, said = verify(run, demo_copy)
    assert code == 1
    assert f"audit row {middle} does not match the chain" in said


def rehash_from(target: str, first: int) -> None:
    """Recompute every digest from row `first` on with plain SHA-256, as the chain's own
    function did before it was keyed."""
    from sqlmodel import col, select

    from cxdesk.db import Database
    from cxdesk.models import AuditEntry

    db = Database.open(target)
    with db.session() as session:
        rows = session.exec(select(AuditEntry).order_by(col(AuditEntry.id))).all()
        previous = ""
        for row in rows:
            if row.id >= first:
                row.digest = entry_digest(
                    previous, row.at, row.actor, row.action, row.ticket_id, row.detail
                )
            previous = row.digest
    db.dispose()


def test_without_its_key_nothing_is_written_or_verified(demo_copy: str, run: Run) -> None:
    number = a_ticket(demo_copy)
    key = key_path(demo_copy)
    key.unlink()
    note = ("--db", demo_copy, "--as", admin(demo_copy), "ticket", "note", str(number))
    code, _, err = run(*note, "--message", "x")
    assert code == 2 and f"no audit key at {key}" in err
    assert verify(run, demo_copy)[0] == 2
    code, _, err = run(
        "--db", demo_copy, "--as", DEMO_ADMIN, "db", "upgrade"
    )  # no new key over a keyed chain
    assert code == 2 and f"no audit key at {key}" in err
    assert not key.exists()


def test_the_key_is_the_owners_alone_unless_the_directory_is_the_teams(
    tmp_path: Path, run: Run
) -> None:
    private = tmp_path / "private.db"
    assert run("--db", str(private), "init")[0] == 0
    assert stat.S_IMODE(Path(f"{private}.key").stat().st_mode) == 0o600
    team = tmp_path / "team"
    team.mkdir()
    team.chmod(0o2770)  # setgid: what is made here belongs to the team's group
    code, out, _ = run("--db", str(team / "cxdesk.db"), "init")
    assert code == 0 and "audit key created" in out
    assert stat.S_IMODE((team / "cxdesk.db.key").stat().st_mode) == 0o640


def test_the_key_file_is_where_the_config_says(new_db: str, tmp_path: Path, run: Run) -> None:
    keys = tmp_path / "keys"
    config = tmp_path / "cxdesk.toml"
    config.write_text(f'[audit]\nkey_file = "{keys}/cxdesk.key"\n', encoding="utf-8")
    code, out, err = run("--config", str(config), "--db", new_db, "init")
    assert code == 0, err
    assert f"audit key created: {keys}/cxdesk.key" in out
    assert stat.S_IMODE((keys / "cxdesk.key").stat().st_mode) == 0o600
    assert run("--config", str(config), "--db", new_db, "audit", "verify")[0] == 0


def test_an_old_chain_is_keyed_by_db_upgrade_and_stays_verifiable(
    new_db: str, run: Run, tmp_path: Path
) -> None:
    """A database from before the key: its rows stay checked with SHA-256, later ones keyed."""
    a_desk_with_one_case(run, new_db, tmp_path)
    key_path(new_db).unlink()
    sql(new_db, "DELETE FROM audit_log WHERE action = :a", a=KEY_ACTION)
    rehash_from(new_db, 0)
    before = sql(new_db, "SELECT count(*) FROM audit_log")[0][0]
    code, out, _ = run("--db", new_db, "db", "upgrade")
    assert code == 0 and "audit key created" in out
    code, said = verify(run, new_db, as_user=None)
    assert code == 0
    assert before > 0 and f"{before:,} written before the chain was keyed" in said
    code, _, err = run("--db", new_db, "ticket", "escalate", "1", "--reason", "late")
    assert verify(run, new_db, "--deep", as_user=None)[0] == 0, err


def wipe(target: str) -> None:
    """The database dropped and made again under its name (its key file left where it was)."""
    if target.startswith("postgresql"):
        sql(target, "DROP SCHEMA public CASCADE")
        sql(target, "CREATE SCHEMA public")
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)


def test_a_database_made_anew_under_an_old_ones_name_is_keyed_by_its_key(
    new_db: str, run: Run, tmp_path: Path
) -> None:
    """The key under the name was found, but the new chain was never marked as keyed from
    it: every row written with it then failed `verify`."""
    a_desk_with_one_case(run, new_db, tmp_path)
    key = key_path(new_db).read_text()
    wipe(new_db)
    a_desk_with_one_case(run, new_db, tmp_path)
    assert key_path(new_db).read_text() == key  # kept: a backup of the old one may need it
    code, said = verify(run, new_db, "--deep", as_user=None)
    assert code == 0, said


@pytest.mark.parametrize("left", ["keyed rows", "plain rows", "no rows"])
def test_a_chain_without_its_mark_beside_its_key_stops_the_upgrade(
    new_db: str, run: Run, tmp_path: Path, left: str
) -> None:
    """The mark removed, and every row after it, or the whole chain (or, plain rows left, a
    keying killed before its commit, which looks the same): marked anew, the removal would
    pass `verify`."""
    a_desk_with_one_case(run, new_db, tmp_path)
    sql(new_db, "DELETE FROM audit_log WHERE action = :a", a=KEY_ACTION)
    if left == "plain rows":
        rehash_from(new_db, 0)
    elif left == "no rows":
        sql(new_db, "DELETE FROM audit_log")
    code, _, err = run("--db", new_db, "db", "upgrade")
    assert code == 2 and f"{key_path(new_db)} is an audit key" in err
    assert sql(new_db, "SELECT count(*) FROM audit_log WHERE action = :a", a=KEY_ACTION) == [(0,)]
    assert verify(run, new_db, as_user=None)[0] == 1


def test_watch_writes_the_head_to_syslog(
    new_db: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import syslog

    assert run("--db", new_db, "init")[0] == 0
    head = run("--db", new_db, "audit", "head")[1].strip()
    logged: list[tuple[int, str]] = []

    def log(priority: int, message: str) -> None:
        logged.append((priority, message))
        os.kill(os.getpid(), signal.SIGTERM)  # one pass is enough

    monkeypatch.setattr(syslog, "syslog", log)
    monkeypatch.setattr(syslog, "openlog", lambda *args: logged.append((-1, args[0])))
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        code, _, err = run("--db", new_db, "watch", "--interval", "1")
    finally:
        signal.signal(signal.SIGTERM, handlers[0])
        signal.signal(signal.SIGINT, handlers[1])
    assert code == 0 and "watch stopped" in err
    assert logged == [(-1, "cxdesk"), (syslog.LOG_INFO, f"audit head {head}")]


def test_db_copy_carries_the_key_and_refuses_another(
    demo_sqlite: Path, pg_url: str, run: Run
) -> None:
    target_key = key_path(pg_url)
    target_key.parent.mkdir(parents=True, exist_ok=True)
    target_key.write_text("ab" * 32 + "\n", encoding="ascii")  # someone else's key there
    code, _, err = run("--db", str(demo_sqlite), "--as", DEMO_ADMIN, "db", "copy", "--to", pg_url)
    assert code == 2 and "holds another audit key" in err
    assert target_key.read_text() == "ab" * 32 + "\n"  # refused before touching anything
    target_key.unlink()
    code, out, err = run("--db", str(demo_sqlite), "--as", DEMO_ADMIN, "db", "copy", "--to", pg_url)
    assert code == 0, err
    assert f"its audit key: {target_key}" in out
    assert target_key.read_text() == key_path(str(demo_sqlite)).read_text()
    code, said = verify(run, pg_url, "--deep")
    assert code == 0, said
    number = a_ticket(pg_url)
    note = ("--db", pg_url, "--as", admin(pg_url), "ticket", "note", str(number))
    assert run(*note, "--message", "after the move")[0] == 0  # the chain goes on, keyed
    assert verify(run, pg_url, "--deep")[0] == 0


def test_another_databases_key_is_named_as_the_likely_cause(demo_copy: str, run: Run) -> None:
    key_path(demo_copy).write_text("cd" * 32 + "\n", encoding="ascii")
    code, said = verify(run, demo_copy)
    assert code == 1
    assert f"is {key_path(demo_copy)} this database's key?" in said


def test_a_timeline_entry_slipped_in_below_the_mark_is_caught(demo_copy: str, run: Run) -> None:
    """Entries numbered before the chain's key row are counted, not digested: one more is seen."""
    number = a_ticket(demo_copy)
    sql(
        demo_copy,
        "INSERT INTO timeline_entries (id, ticket_id, at, actor, kind, body, data) "
        "VALUES (-1, :n, '2026-03-01 10:00:00', 'ann', 'response', 'FAKE: refund granted', '{}')",
        n=number,
    )
    code, said = verify(run, demo_copy)
    assert code == 1 and "there were when the chain was keyed" in said


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        ("UPDATE tickets SET queue_id = 'vip' WHERE id = :n AND queue_id != 'vip'", "queue is"),
        (
            "INSERT INTO tickets",
            "is in tickets but not in the audit log",
        ),
        (
            "UPDATE agents SET role = 'admin' WHERE login = 'zhang.wei'",
            "agent 'zhang.wei' is admin",
        ),
        (
            "INSERT INTO agents (login, display_name, role, skills, away, active, created_at) "
            "VALUES ('eve', 'Eve', 'admin', '[]', false, true, '2026-03-01 10:00:00')",
            "agent 'eve' is in the agents table but not in the audit log",
        ),
    ],
    ids=["queue", "forged ticket", "promoted agent", "forged admin"],
)
def test_deep_verify_names_what_was_edited_behind_its_back(
    demo_copy: str, run: Run, edit: str, names: str
) -> None:
    number = sql(demo_copy, "SELECT max(id) FROM tickets WHERE queue_id != 'vip'")[0][0]
    if edit.startswith("INSERT INTO tickets"):  # a copy of a ticket, under a new number
        engine = engine_for(demo_copy)
        columns = [c["name"] for c in sa.inspect(engine).get_columns("tickets")]
        engine.dispose()
        chosen = ", ".join(":new" if c == "id" else c for c in columns)
        edit = (
            f"INSERT INTO tickets ({', '.join(columns)}) SELECT {chosen} FROM tickets WHERE id = :n"
        )
        sql(demo_copy, edit, n=number, new=number + 1000)
    else:
        sql(demo_copy, edit, n=number)
    code, said = verify(run, demo_copy, "--deep")
    assert code == 1 and names in said, said


def test_the_person_behind_as_is_in_the_audit_row(new_db: str, run: Run) -> None:
    assert run("--db", new_db, "init")[0] == 0
    assert run("--db", new_db, "user", "add", "ann", "--team", "care")[0] == 0
    assert run("--db", new_db, "--as", "ann", "user", "away", "ann")[0] == 0
    [(actor, detail)] = sql(
        new_db, "SELECT actor, detail FROM audit_log WHERE action = 'user' ORDER BY id DESC LIMIT 1"
    )
    detail = json.loads(detail) if isinstance(detail, str) else detail
    assert actor == "ann" and detail["by"] == ME
    assert verify(run, new_db, "--deep", as_user=None)[0] == 0
