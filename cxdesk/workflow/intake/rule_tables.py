"""rule-engine's parser tables, shipped with cxdesk so that no process builds them.

rule-engine builds the LALR tables of its grammar when it is imported (it writes them to a
file only in its debug mode): 0.3 to 0.6 s in every process that reads a rule, `cxdesk
ingest` of one event, `serve`, `demo` and the `rules` commands. Its parser generator (PLY)
first looks for them in the module `rule_engine.parser.parsetab` and takes them when their
signature is its grammar's; `install` puts them there from `rule_tables.json`. For a
rule-engine whose grammar differs, the signature does not match and PLY builds them as
before; `python -m cxdesk.workflow.intake.rule_tables` writes the file anew.
"""

from __future__ import annotations

import json
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

TABLES = Path(__file__).with_name("rule_tables.json")
MODULE = "rule_engine.parser.parsetab"  # where PLY looks for the Parser's tables


def install() -> None:
    """Offer the shipped tables to rule-engine's parser; a no-op once rule-engine is loaded
    (it built or found them then) or when the file is missing or damaged."""
    if "rule_engine" in sys.modules or MODULE in sys.modules:
        return
    try:
        module = _tables_module(json.loads(TABLES.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return  # missing or damaged: rule-engine builds its own
    sys.modules[MODULE] = module


def _tables_module(stored: dict[str, Any]) -> types.ModuleType:
    module = types.ModuleType(MODULE)
    module._tabversion = stored["version"]  # type: ignore[attr-defined]
    module._lr_method = stored["method"]  # type: ignore[attr-defined]
    module._lr_signature = stored["signature"]  # type: ignore[attr-defined]
    module._lr_action = _by_state(stored["action"])  # type: ignore[attr-defined]
    module._lr_goto = _by_state(stored["goto"])  # type: ignore[attr-defined]
    module._lr_productions = [tuple(p) for p in stored["productions"]]  # type: ignore[attr-defined]
    return module


def _by_state(items: dict[str, list[list[int]]]) -> dict[int, dict[str, int]]:
    """PLY's table (state -> symbol -> action) from its stored form, by symbol."""
    table: dict[int, dict[str, int]] = {}
    for symbol, (states, actions) in items.items():
        for state, action in zip(states, actions, strict=True):
            table.setdefault(state, {})[symbol] = action
    return table


def _by_symbol(table: dict[int, dict[str, int]]) -> dict[str, list[list[int]]]:
    items: dict[str, list[list[int]]] = {}
    for state, actions in table.items():
        for symbol, action in actions.items():
            states, taken = items.setdefault(symbol, [[], []])
            states.append(state)
            taken.append(action)
    return items


def built_tables() -> dict[str, Any]:
    """The tables rule-engine's parser builds for its grammar, in the stored form."""
    from rule_engine import parser as rule_parser
    from rule_engine._vendor.ply import lex, yacc

    grammar = rule_parser.Parser.__new__(rule_parser.Parser)
    grammar.debug = False
    grammar.context = None
    grammar._lexer = lex.lex(module=grammar)
    with tempfile.TemporaryDirectory() as where:
        yacc.yacc(module=grammar, tabmodule="built", outputdir=where, write_tables=True)
        sys.path.insert(0, where)
        try:
            import built  # type: ignore[import-not-found]
        finally:
            sys.path.remove(where)
            sys.modules.pop("built", None)
    return {
        "version": built._tabversion,
        "method": built._lr_method,
        "signature": built._lr_signature,
        "action": _by_symbol(built._lr_action),
        "goto": _by_symbol(built._lr_goto),
        "productions": [list(p) for p in built._lr_productions],
    }


if __name__ == "__main__":
    TABLES.write_text(json.dumps(built_tables(), separators=(",", ":")) + "\n", encoding="utf-8")
