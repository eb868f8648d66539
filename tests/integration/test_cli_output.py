"""Every CLI output path, run against a database holding hostile text: nothing reaches the
terminal raw, and no CSV cell starts a formula.

The hostile records arrive the way they would in life: through `init`, `ingest` (from a file
whose name holds ESC), `ticket note`, `template add`, `user add`, and, for text stored before
cleaning existed, as raw rows written with SQL. The command tree is walked, so a new command
that prints fails here until it is exercised (or listed as printing no data).
"""

from __future__ import annotations

import csv
import io
import json
import re
import select
import signal
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import sqlalchemy as sa

from cxdesk.cli import cli
from tests.conftest import Run, engine_for

# OSC (retitles the terminal), CSI (clears it), BEL, CR (overwrites the line), backspace, DEL,
# an 8-bit CSI, bidi override and isolate, Rich markup, Chinese and an emoji. (No NUL:
# PostgreSQL refuses it in text; the sanitizer's own tests cover it.)
HOSTILE = (
    "\x1b]2;PWNED\x07 \x1b[2J\x1b[31mred\r over\x08\x7f \x9b31m \u202eevil\u202c "
    "\u2066iso\u2069 [bold]x[/bold] 中文 😀"
)
FORMULA = "=cmd|' /C calc'!A0"
# Every character that must never be printed raw (newline and tab are fine).
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
FORMULA_START = ("=", "+", "-", "@")
NOW = "2026-03-02T10:00:00+08:00"
LATER = "2026-06-01T10:00:00+08:00"  # the follow-ups are due

RESOLVED = ("--action", HOSTILE, "--remedy", FORMULA)
SEND_AGAIN = "UPDATE followups SET status = 'scheduled'"
# A delivery whose receiver answered with hostile text, kept from before errors were cleaned.
FAILED_DELIVERY = (
    "INSERT INTO webhook_outbox (event_id, endpoint, kind, ticket_id, created_at, payload,"
    " status, attempts, next_at, last_error) VALUES ('e1', 'crm', 'ticket.opened', 1,"
    f" '2026-03-02 01:00:00', '{{}}', 'failed', 8, '2026-03-02 01:00:00', 'HTTP 500: {HOSTILE}')"
)
REASON = "UPDATE followups SET reason = (SELECT name FROM customers), status = 'failed'"
# Commands that print no stored or input text (and are costly or endless to run here).
PRINTS_NO_DATA = {
    "demo": "builds its own data; prints counts and the path it was given",
    "wall": "a full-screen dashboard, tested on screen (tests/tui/test_wall.py)",
    "db rebuild-rollups": "counts the rollups' rows it found wrong; prints numbers alone",
    "serve token": "prints a random token and the login it was asked for, once an active agent",
}


@dataclass(frozen=True)
class Call:
    args: tuple[str, ...]
    fmt: str = "table"  # how stdout is checked: table/plain, json, jsonl or csv
    shows_data: bool = False  # the hostile text must appear (escaped) in the output
    before: str = ""  # SQL run first


def _record(event_id: str, **fields: object) -> str:
    event = {
        "event_id": event_id,
        "kind": "complaint",
        "occurred_at": "2026-03-02T09:15:00+08:00",
        "customer": {"id": "C1", "name": HOSTILE},
        "nps": 0,
        "comment": HOSTILE,
        **fields,
    }
    return json.dumps(event, ensure_ascii=False)


@pytest.fixture
def hostile(new_db: str, run: Run, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database of hostile text, built through the CLI and with raw SQL; the feed file."""
    db = ("--db", new_db, "--now", NOW)
    assert run(*db, "init")[0] == 0
    feed = tmp_path / "feed\x1b[2J\u202e.jsonl"
    feed.write_text(
        "\n".join(
            [
                _record("h-1"),
                _record("h-2" + HOSTILE, nps=11),  # quarantined: nps out of range
                HOSTILE,  # quarantined: not JSON
            ]
        )
        + "\n",
        encoding="utf-8",
        newline="",
    )
    assert run(*db, "ingest", str(feed))[0] == 1
    assert run(*db, "ticket", "note", "1", "--message", FORMULA + HOSTILE)[0] == 0
    assert run(*db, "template", "add", "evil", "--title", FORMULA, "--body", HOSTILE)[0] == 0
    assert run(*db, "user", "add", "ann", "--name", HOSTILE, "--team", "care")[0] == 0
    # Text stored before cleaning existed.
    _execute(new_db, "UPDATE tickets SET title = :t", FORMULA + HOSTILE)
    # Formulas behind blanks a spreadsheet trims, or in full-width signs it normalises.
    _execute(new_db, "UPDATE customers SET name = :t", "\u3000@SUM(A1)" + HOSTILE)
    _execute(new_db, "UPDATE timeline_entries SET body = :t", "\n+1" + HOSTILE)
    _execute(new_db, "UPDATE templates SET body = :t", "\u00a0-1" + HOSTILE)
    _execute(new_db, "UPDATE agents SET display_name = :t", "－" + HOSTILE)
    yield new_db, feed


def _execute(db: str, statement: str, text: str = "") -> None:
    engine = engine_for(db)
    with engine.begin() as connection:
        connection.execute(sa.text(statement), {"t": text})
    engine.dispose()


def calls(db: str, feed: Path, tmp_path: Path) -> dict[str, list[Call]]:
    """Per command, the invocations that exercise its outputs (errors included)."""
    tables = ("table", "json", "csv")
    config = tmp_path / "rules.toml"
    config.write_text(
        '[[rules]]\nname = "bad\\u001b]2;PWNED\\u0007"\ncondition = "nps <= \\u001b[2J"\n'
        'priority = "P1"\nqueue = "vip"\n',
        encoding="utf-8",
    )
    proposed = tmp_path / "proposed\x1b[2J.toml"
    proposed.write_text(
        '[[rules]]\nname = "evil\\u001b]2;PWNED\\u0007"\ncondition = "nps != null"\n'
        'priority = "P3"\nqueue = "aftersales"\n',
        encoding="utf-8",
    )
    records = tmp_path / "test\x1b[2J.jsonl"
    records.write_text(_record("t-1") + "\n" + HOSTILE + "\n", encoding="utf-8")
    escaped = str(tmp_path / "copy\x1b[2J.db")
    return {
        "init": [Call(("init",))],
        "db copy": [Call(("db", "copy", "--to", escaped))],
        "db upgrade": [Call(("db", "upgrade"))],
        "sweep": [Call(("sweep", "--format", f)) for f in ("table", "json")],
        "watch": [Call(("watch", "--interval", "1"))],
        "report": [
            Call(("report", kind, "--format", f), f)
            for kind in ("sla", "loop", "nps", "drivers", "backlog")
            for f in tables
        ],
        "audit verify": [Call(("audit", "verify")), Call(("audit", "verify", "--deep"))],
        "audit head": [Call(("audit", "head", "--format", f)) for f in ("text", "json")],
        "template list": [Call(("template", "list", "--format", f), f, True) for f in tables],
        "template add": [
            Call(("template", "add", "x", "--title", FORMULA, "--body", HOSTILE)),
            Call(("template", "add", "x\x1b[2J", "--body", HOSTILE), shows_data=True),
        ],
        # PostgreSQL: refused, with a hint to pg_dump that echoes nothing.
        "backup": [Call(("backup", escaped + ".bak"), shows_data=not db.startswith("postgres"))],
        "schema": [Call(("schema",), "json")],
        "ticket list": [Call(("ticket", "list", "--format", f), f, True) for f in tables],
        "ticket show": [
            *(Call(("ticket", "show", "1", "--format", f), f, True) for f in tables),
            Call(("ticket", "show", "x\x1b[2J"), shows_data=True),  # the error echoes it
        ],
        "ticket claim-next": [
            Call(("ticket", "claim-next", "--format", "json"), "json", True),
            Call(("ticket", "claim-next")),
        ],
        "ticket claim": [Call(("ticket", "claim", "1"))],
        "ticket assign": [
            Call(("ticket", "assign", "1", "ann", "--format", "json"), "json", True),
            Call(("ticket", "assign", "1", "\x1b[2Jbob"), shows_data=True),
        ],
        "ticket respond": [Call(("ticket", "respond", "1", "--message", HOSTILE))],
        "ticket note": [
            Call(("ticket", "note", "1", "--message", HOSTILE, "--format", "json"), "json", True)
        ],
        "ticket pend": [Call(("ticket", "pend", "1", "--reason", HOSTILE))],
        "ticket sla": [  # the pause's reason shows, escaped
            Call(("ticket", "sla", "1", "--format", f), f, True) for f in ("table", "json")
        ],
        "ticket resume": [Call(("ticket", "resume", "1"))],
        "customer show": [  # the customer's name and comments show, escaped
            Call(("customer", "show", "C1", "--format", f), f, True) for f in ("table", "json")
        ],
        "ticket analyze": [
            Call(("ticket", "analyze", "1", "--root-cause", HOSTILE, "--driver", HOSTILE))
        ],
        "ticket resolve": [
            Call(("ticket", "resolve", "1", "--code", "fix", "--root-cause", HOSTILE, *RESOLVED))
        ],
        "followups export": [
            Call(("--now", LATER, "followups", "export", "--format", f), f, True, SEND_AGAIN)
            for f in ("csv", "json", "jsonl")
        ],
        "followups list": [
            *(Call(("followups", "list", "--format", f), f, True, REASON) for f in tables),
            Call(("followups", "list", "--status", "\x1b[2Jsent"), shows_data=True),
        ],
        "ticket escalate": [Call(("ticket", "escalate", "1", "--reason", HOSTILE))],
        "ticket deescalate": [Call(("ticket", "deescalate", "1", "--reason", HOSTILE))],
        "ticket reopen": [Call(("ticket", "reopen", "1", "--reason", HOSTILE))],
        "ticket link": [Call(("ticket", "link", "1", "\x1b[2J"), shows_data=True)],
        "ticket close": [Call(("ticket", "close", "1", "--evidence", HOSTILE))],
        "ticket merge": [Call(("ticket", "merge", "1", "\x1b]2;PWNED\x07"), shows_data=True)],
        "ticket unlink": [Call(("ticket", "unlink", "1", "\x1b[2J"), shows_data=True)],
        "problem open": [
            Call(("problem", "open", "--driver", HOSTILE), shows_data=True),
            Call(("problem", "open", "--touchpoint", HOSTILE, "--format", "json"), "json"),
            Call(("problem", "open", "--driver", HOSTILE), shows_data=True),  # refused: open
        ],
        "problem apply": [
            *(Call(("problem", "apply", "2", "--format", f), f) for f in tables),
            Call(("problem", "apply", "\x1b[2J"), shows_data=True),
        ],
        "ingest run": [
            Call(("ingest", str(feed)), shows_data=False),
            Call(("ingest", str(feed), "--format", "json"), "json"),
            Call(("ingest", str(tmp_path / "missing\x1b[2J.jsonl")), shows_data=True),
        ],
        "ingest quarantine list": [
            Call(("ingest", "quarantine", "list", "--format", f), f, True) for f in tables
        ],
        "ingest quarantine show": [
            Call(("ingest", "quarantine", "show", str(n), "--format", f), f, True)
            for n in (1, 2)
            for f in tables
        ],
        "ingest quarantine retry": [
            Call(("ingest", "quarantine", "retry", "--all", "--format", f), f)
            for f in ("table", "json")
        ]
        + [Call(("ingest", "quarantine", "retry", "--all", "--from-source"))],
        "rules check": [Call(("--config", str(config), "rules", "check"), shows_data=True)],
        "rules test": [Call(("rules", "test", str(records), "--format", f), f) for f in tables],
        "rules backtest": [
            *(
                Call(("rules", "backtest", "--rules", str(proposed), "--format", f), f, True)
                for f in ("text", "json")
            ),
            Call(("rules", "backtest", "--rules", str(config)), shows_data=True),  # the error
        ],
        "user add": [
            Call(("user", "add", "bob", "--name", HOSTILE, "--team", "\x1b[2J"), "", True)
        ],
        "user away": [Call(("user", "away", "\x1b]2;PWNED\x07"), shows_data=True)],
        "user list": [Call(("user", "list", "--format", f), f, True) for f in tables],
        "webhooks list": [
            Call(
                ("webhooks", "list", "--format", f),
                f,
                True,
                FAILED_DELIVERY if f == "table" else "",
            )
            for f in tables
        ],
        "webhooks deliver": [
            Call(("webhooks", "deliver", "--format", f), f) for f in ("table", "json")
        ],
    }


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command's path; asking a group for each of its commands loads those it imports
    lazily."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield " ".join((*prefix, name))


def test_every_command_is_exercised_or_prints_no_data(tmp_path: Path) -> None:
    exercised = set(calls("db", tmp_path / "feed.jsonl", tmp_path))
    commands = set(command_paths(cli))
    assert commands - exercised - set(PRINTS_NO_DATA) == set(), "exercise it below"
    assert (exercised | set(PRINTS_NO_DATA)) - commands == set(), "no such command"


def test_no_output_path_prints_hostile_text_raw(
    hostile: tuple[str, Path], run: Run, tmp_path: Path
) -> None:
    db, feed = hostile
    shown, neutralised = [], set()
    for command, invocations in calls(db, feed, tmp_path).items():
        for call in invocations:
            if call.before:
                _execute(db, call.before)
            args = ("--db", db, "--now", NOW, *call.args)
            code, out, err = _watched(*args) if command == "watch" else run(*args)
            where = f"{command} {call.args!r} (exit {code}, stderr {err!r})"
            for stream in (out, err):
                assert not RAW.search(stream), f"raw {RAW.search(stream)!r} in {where}"
            if call.fmt == "json" and code in (0, 1):
                json.loads(out)
            elif call.fmt == "jsonl":
                [json.loads(line) for line in out.splitlines()]
            elif call.fmt == "csv" and code == 0:
                for row in csv.reader(io.StringIO(out)):
                    for cell in row:
                        assert not _lead(cell).startswith(FORMULA_START) or _number(cell), (
                            cell,
                            where,
                        )
                        neutralised |= {cell[:1] + _lead(cell[1:])} & {"'=", "'+", "'-", "'@"}
            if call.shows_data:
                assert "PWNED" in out + err or "\\x1b" in out + err or "u001b" in out, where
                shown.append(command)
    assert neutralised == {"'=", "'+", "'-", "'@"}  # the formulas were there, made text
    assert set(shown) >= {"ticket show", "ingest quarantine show", "rules check", "user list"}


def _lead(cell: str) -> str:
    """The first character a trimming spreadsheet reads in `cell`, normalised (NFKC)."""
    lead = next((c for c in cell if not (c.isspace() or unicodedata.category(c) == "Cf")), "")
    return unicodedata.normalize("NFKC", lead)


def _watched(*args: str) -> tuple[int, str, str]:
    """`watch` as a user runs it, stopped by SIGTERM after its first sweeps."""
    watch = subprocess.Popen(
        [sys.executable, "-m", "cxdesk", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    # Its first line on stderr says the signals are handled: a SIGTERM before would just kill
    # it, and how long a start takes depends on the machine's load.
    assert watch.stderr is not None
    ready, _, _ = select.select([watch.stderr], [], [], 120)
    first = watch.stderr.readline() if ready else ""
    assert first.startswith("watching: "), first
    watch.send_signal(signal.SIGTERM)
    out, err = watch.communicate(timeout=60)
    assert "watch stopped" in err
    return watch.returncode, out, err


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
