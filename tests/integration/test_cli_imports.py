"""`cxdesk ticket list` imports what listing needs: the database layer and the clocks, but
not the TUI, Alembic (the schema check reads the stored revision), the holiday calendars
of every country (the demo's queues run on China's), PostgreSQL's dialect and drivers on an
SQLite database (the models' partial indexes hand their conditions to the dialects only when
migrations run), the desk's commands (built when one is named), rules, ingest, webhooks,
the HTTP server or Rich's console (a table is laid out by `cxdesk.output` itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEMO_ADMIN

NOT_FOR_LISTING = (
    "textual",
    "cxdesk.app",
    "cxdesk.screens",
    "alembic",
    "holidays.countries",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "asyncpg",
    "cxdesk.workflow.loop",
    "cxdesk.workflow.intake",
    "rule_engine",
    "httpx",
    "cxdesk.web",
    "starlette",
    "uvicorn",
    "rich.console",
)


def test_ticket_list_loads_one_country_and_nothing_it_does_not_use(demo_sqlite: Path) -> None:
    args = ["--db", str(demo_sqlite), "--as", DEMO_ADMIN, "ticket", "list", "--limit", "5"]
    code = (
        "import json, sys\n"
        "from cxdesk.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "CX-" in result.stdout
    modules = json.loads(result.stderr.splitlines()[-1])
    assert "holidays.countries.china" in modules  # the clocks were read
    loaded = [m for m in modules if any(m == p or m.startswith(p + ".") for p in NOT_FOR_LISTING)]
    assert loaded == ["holidays.countries.china"]
