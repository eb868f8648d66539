"""rule-engine's parser tables, shipped with cxdesk (`cxdesk.workflow.intake.rule_tables`):
they must be the ones its grammar builds, and a process must read them instead of building
its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cxdesk.workflow.intake.rule_tables import TABLES, built_tables

_REWRITE = "python -m cxdesk.workflow.intake.rule_tables"


def test_the_shipped_tables_are_the_ones_rule_engines_grammar_builds() -> None:
    shipped = json.loads(TABLES.read_text(encoding="utf-8"))
    assert shipped == built_tables(), f"this rule-engine's grammar differs: run `{_REWRITE}`"


def test_a_process_reading_rules_takes_the_shipped_tables() -> None:
    """PLY keeps its own `Production`s for tables it builds, `MiniProduction`s for tables it
    reads; and a rule parsed with them means what it says."""
    probe = (
        "import cxdesk.workflow.intake.rules, rule_engine\n"
        "print(type(rule_engine.Rule.parser._parser.productions[1]).__name__)\n"
        "rule = rule_engine.Rule('nps <= 6 and comment =~ \"快递\" ? true : false')\n"
        "print(rule.matches({'nps': 3, 'comment': '快递晚了'}), "
        "rule.matches({'nps': 9, 'comment': '快递'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["MiniProduction", "True", "False"], run.stderr
    assert "Generating LALR tables" not in run.stderr


def test_damaged_tables_leave_rule_engine_to_build_its_own(tmp_path: Path) -> None:
    """Found by a review: a truncated file stopped every process that reads a rule."""
    damaged = tmp_path / "rule_tables.json"
    damaged.write_text(TABLES.read_text(encoding="utf-8")[:1000], encoding="utf-8")
    probe = (
        "import sys, pathlib\n"
        "from cxdesk.workflow.intake import rule_tables\n"
        "sys.modules.pop(rule_tables.MODULE, None)\n"
        f"rule_tables.TABLES = pathlib.Path({str(damaged)!r})\n"
        "rule_tables.install()\n"
        "print(rule_tables.MODULE in sys.modules)\n"
        "import rule_engine\n"
        "print(rule_engine.Rule('nps <= 6').matches({'nps': 3}))\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["False", "True"]
