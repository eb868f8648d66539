"""Walking the expression tree of a compiled rule-engine condition."""

from __future__ import annotations

from collections.abc import Iterator

import rule_engine.ast


def ast_children(node: object) -> Iterator[rule_engine.ast.ExpressionBase]:
    """The expressions directly inside a rule-engine node, wherever it keeps them: in its
    attributes or slots (a comprehension's condition), alone or in tuples (an array's items)."""
    names = set(getattr(node, "__dict__", ()))
    for cls in type(node).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names.update((slots,) if isinstance(slots, str) else slots)
    for name in sorted(names):
        yield from _expressions(getattr(node, name, None))


def _expressions(value: object) -> Iterator[rule_engine.ast.ExpressionBase]:
    if isinstance(value, rule_engine.ast.ExpressionBase):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _expressions(item)
