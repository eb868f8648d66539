"""The architecture holds: the domain never pulls in the UI, the screens never write SQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "cxdesk"
HEADLESS = [
    "cxdesk.models",
    "cxdesk.db",
    "cxdesk.config",
    "cxdesk.workflow.loop.service",
    "cxdesk.workflow.demo.small",
    "cxdesk.workflow.reads.queries",
    "cxdesk.workflow.intake.ingest",
    "cxdesk.workflow.ops.changes",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_modules_do_not_import_textual(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = [m for m in ('textual', 'cxdesk.screens', 'cxdesk.app') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, f"{module} imports {result.stdout.strip()}"


def test_screens_do_not_touch_sql() -> None:
    forbidden = {"sqlalchemy", "sqlmodel", "cxdesk.models"}
    for path in (PACKAGE / "screens").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not any(name == f or name.startswith(f + ".") for f in forbidden), (
                    f"{path.name} imports {name}"
                )


DATABASE_CALLS = {"session", "write", "bulk_writes"}  # Database's ways to open a session
DATABASE_MODULES = ("cxdesk.db", "sqlmodel", "sqlalchemy")
# Code above workflow/ allowed to open sessions, by file and qualified name: none.
SESSIONS_ALLOWED: set[tuple[str, str]] = set()


def database_uses(source: str, path: str) -> list[str]:
    """Where `source` opens a session or imports the database's modules, outside
    SESSIONS_ALLOWED. Imports for the type checker only (`if TYPE_CHECKING:`) do not run and
    are let be: the Desk's annotations name the Database it hands to the read functions."""
    found: list[str] = []

    def visit(node: ast.AST, scope: tuple[str, ...]) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child, scope)
            return
        where = ".".join(scope)
        allowed = (path, where) in SESSIONS_ALLOWED
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            if not allowed and any(name == m or name.startswith(m + ".") for m in DATABASE_MODULES):
                found.append(f"{path}:{node.lineno} ({where or 'module'}) imports {name}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DATABASE_CALLS
            and not allowed
        ):
            call = ast.unparse(node.func)
            found.append(f"{path}:{node.lineno} ({where or 'module'}) calls {call}()")
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = (*scope, node.name)
        for child in ast.iter_child_nodes(node):
            visit(child, scope)

    visit(ast.parse(source), ())
    return found


def test_screens_and_the_app_open_no_sessions() -> None:
    """They ask the read functions of workflow/ (which open their own short sessions) and
    write through the service."""
    paths = [PACKAGE / "app.py", *sorted((PACKAGE / "screens").glob("*.py"))]
    found = [
        use
        for path in paths
        for use in database_uses(
            path.read_text(encoding="utf-8"), path.relative_to(PACKAGE).as_posix()
        )
    ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("class S:\n    def load(self):\n        with self.desk.db.session() as s: pass", True),
        ("def poll(db):\n    def mark():\n        db.write()\n    mark()", True),
        ("from cxdesk.db import Database", True),
        ("import sqlalchemy as sa", True),
        ("from sqlmodel import select", True),
        ("if TYPE_CHECKING:\n    from cxdesk.db import Database", False),
        ("class TicketScreen:\n    def _form(self):\n        self.desk.db.session()", True),
        ("class TicketScreen:\n    def load(self):\n        self.desk.db.session()", True),
        ("rows = read_ticket_page(desk.db, flt, limit=100)", False),
    ],
)
def test_a_session_in_a_screen_is_caught(source: str, caught: bool) -> None:
    assert bool(database_uses(source, "screens/ticket.py")) is caught


def test_import_contracts_hold() -> None:
    """The layers and the wings of workflow/ (pyproject's [tool.importlinter]) hold, and no
    package's modules import each other in a cycle."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent
    )
    assert result.returncode == 0, result.stdout[-3000:]
