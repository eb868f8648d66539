"""CI checks the code before it tests it: lint, formatting, types, then import contracts."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKS = ["ruff check .", "ruff format --check .", "mypy --cache-dir=/dev/null", "lint-imports"]


def test_ci_runs_the_checks_in_order_before_the_tests() -> None:
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text("utf-8").splitlines()]
    checks = [lines.index(check) for check in CHECKS]
    tests = next(i for i, line in enumerate(lines) if line.endswith("&& pytest"))
    assert checks == sorted(checks)
    assert checks[-1] < tests
