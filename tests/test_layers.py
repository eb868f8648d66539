"""The architecture holds: the domain never pulls in the UI, the screens never write SQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cxdesk"
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


def test_import_contracts_hold() -> None:
    """The layers and the wings of workflow/ (pyproject's [tool.importlinter]) hold, and no
    package's modules import each other in a cycle."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent
    )
    assert result.returncode == 0, result.stdout[-3000:]
