"""A real `cxdesk serve` for tests: uvicorn on a free localhost port, in a thread of the test
process, over a database with a few agents and their tokens; and events to send it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cxdesk.config import ServeConfig, ServeToken, Settings
from cxdesk.db import Database
from cxdesk.web.app import build_app
from cxdesk.web.callers import token_hash
from cxdesk.web.server import server
from cxdesk.workflow.access.org import sync_org
from cxdesk.workflow.access.staff import add_agent
from cxdesk.workflow.intake.ingest import Ingestor
from cxdesk.workflow.intake.request_pipeline import RequestPipeline
from cxdesk.workflow.ops.schema import upgrade_database
from tests.conftest import _pg_database

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# login: (role, teams); "ghost" has a token but is no agent, "gone" was switched off, and
# "cxdesk" is the system's own name, which no token acts as.
AGENTS = {
    "feed": ("ingest", []),
    "li": ("agent", ["care"]),
    "wang": ("agent", ["vip"]),
    "zhou": ("supervisor", ["care"]),
    "gone": ("ingest", []),
}
TOKENS = {login: f"cxd_test-token-of-{login}" for login in [*AGENTS, "ghost", "cxdesk"]}
MAX_RECORDS = 500


def settings(**serve: Any) -> Settings:
    tokens = [ServeToken(login=login, sha256=token_hash(t)) for login, t in TOKENS.items()]
    config = {
        "max_records": MAX_RECORDS,
        **dict.fromkeys(["rate", "burst", "reply_rate", "reply_burst"], 1000),
        **dict.fromkeys(["reply_token_attempts", "reply_misses"], 1000),
        **serve,
    }
    return Settings(serve=ServeConfig(tokens=tokens, **config))


def auth(login: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[login]}"}


@contextmanager
def served(db: Database, config: Settings, checked_apart: bool = True) -> Iterator[str]:
    """The server on a free port until the block ends; its base URL. Posted events are
    checked in a process of their own and written in another, as `cxdesk serve` does, unless
    `checked_apart` is false; and its other writes are a bulk run's, as there."""
    intake = Ingestor(db, config, source="serve", clock=lambda: NOW)
    pipeline = RequestPipeline(intake, in_processes=checked_apart)
    app = build_app(db, config, lambda: NOW, pipeline)
    running = server(app, "127.0.0.1:0", config.serve, stopping=app.state.desk.stop)
    with db.bulk_writes():
        thread = threading.Thread(target=running.run, daemon=True, name="cxdesk-serve")
        thread.start()
        deadline = time.monotonic() + 30
        while not running.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        port = running.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            running.should_exit = True
            thread.join(30)
            pipeline.close()


def beside(db: Database, config: Settings) -> AbstractContextManager[str]:
    """A second server over the database of a running one, in this process, with no process
    forked: SQLite's connections must not cross a fork, and the running server's are open.
    (What such a test tests is not where the records are checked and written.)"""
    return served(db, config, checked_apart=False)


def logged(log: Path, lines: int) -> str:
    """The access log once it holds `lines` lines. A request's line is written just after its
    answer is sent, so a caller that has the answer may look before the line is there (and
    must not stop the log before it is)."""
    deadline = time.monotonic() + 30
    while True:
        text = log.read_text(encoding="utf-8") if log.exists() else ""
        if text.count("\n") >= lines or time.monotonic() > deadline:
            return text
        time.sleep(0.01)


@dataclass
class Desk:
    url: str
    db: Database

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.db.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()


def prepared(url: str) -> Database:
    """A database at the head schema, its org, and the agents of `AGENTS`."""
    db = Database.open(url, must_exist=False)
    upgrade_database(db)
    with db.write() as session:
        sync_org(session, Settings())
        for login, (role, teams) in AGENTS.items():
            add_agent(
                session, login=login, display_name=login, role=role, teams=teams, skills=[], at=NOW
            )
    with db.write() as session:
        session.execute(sa.text("UPDATE agents SET active = false WHERE login = 'gone'"))
    return db


@contextmanager
def desk_on(backend: str, directory: Path, checked_apart: bool = True) -> Iterator[Desk]:
    """A prepared database on `backend` and the server over it."""
    where = nullcontext(str(directory / "cx.db")) if backend == "sqlite" else _pg_database()
    with where as url:
        db = prepared(url)
        try:
            with served(db, settings(), checked_apart) as base:
                yield Desk(base, db)
        finally:
            db.dispose()


def event(event_id: str, customer: str, **fields: Any) -> dict[str, Any]:
    """A survey answer; a detractor (nps 2) unless `fields` say otherwise."""
    return {
        "event_id": event_id,
        "kind": "survey",
        "occurred_at": "2026-03-01T09:00:00+08:00",
        "customer": {"id": customer},
        "nps": 2,
        **fields,
    }
