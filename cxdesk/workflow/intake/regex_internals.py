"""Whether a pattern can backtrack exponentially, read off the parse of Python's `re`.

The standard library has no public parser for patterns, so this uses the private
`re._parser` and `re._constants`: the tree `re` itself compiles from (common prefixes of
alternatives factored out, so `(a|ab)*` is `(a(|b))*`), which is what decides how it
backtracks. `tests/unit/test_regex_internals.py` pins the shapes read here; should a Python come
without the module, `backtracks` says no rather than fail (the time limit on each search
still holds, see `timed_patterns`).
"""

from __future__ import annotations

try:
    import re._constants as sre
    import re._parser as sre_parse
except ImportError:  # a Python whose `re` is built otherwise
    sre_parse = None
else:
    _REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)

Items = list[tuple[object, object]]  # a parsed pattern: (opcode, argument) pairs


def backtracks(pattern: str) -> bool:
    """Whether `pattern` repeats (more than once) a body that can match the same text in more
    than one way: a repetition inside it, or alternatives of which one is empty or two begin
    alike. False where this Python's parser is not there to tell."""
    if sre_parse is None:
        return False
    return _backtracks(sre_parse.parse(pattern).data)


def _subpatterns(op: object, av: object) -> list[Items]:
    """The parts of one parsed item that are patterns themselves."""
    if op in _REPEATS:
        return [av[2]]  # type: ignore[index]
    if op is sre.SUBPATTERN:
        return [av[3]]  # type: ignore[index]
    if op is sre.BRANCH:
        return list(av[1])  # type: ignore[index]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [av[1]]  # type: ignore[index]
    return []


def _ambiguous(items: Items) -> bool:
    """Whether a repeated body can match the same text in more than one way."""
    for op, av in items:
        if op in _REPEATS and av[1] > 1:  # type: ignore[index]
            return True
        if op is sre.BRANCH:
            alternatives = av[1]  # type: ignore[index]
            firsts = [alt[0] if alt else None for alt in alternatives]
            if None in firsts or len(set(map(repr, firsts))) < len(firsts):
                return True
        if any(_ambiguous(part) for part in _subpatterns(op, av)):
            return True
    return False


def _backtracks(items: Items) -> bool:
    for op, av in items:
        if op in _REPEATS and av[1] > 1 and _ambiguous(av[2]):  # type: ignore[index]
            return True
        if any(_backtracks(part) for part in _subpatterns(op, av)):
            return True
    return False
