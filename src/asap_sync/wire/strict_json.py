"""Strict RFC 8259 JSON for request bodies: no duplicate keys, no ``NaN``/``Infinity``, numbers
that fit, nesting bounded before the parser recurses.

The standard library parser is kept (it is what the SDK and the stored raw bodies were
checked with) but told to refuse what RFC 8259 leaves out or what this platform cannot hold:
Python's parser would accept ``NaN``, turn ``1e400`` into infinity and raise ``RecursionError``
on a body nested a thousand levels deep.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 64  # arrays and objects, counted from the outermost
MAX_NUMBER_CHARS = 40  # longer numbers are refused even in ignored fields

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class StrictJsonError(ValueError):
    """The text is not JSON this platform accepts; ``rule`` says why, in a merchant's words."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StrictJsonError(f"duplicate key {key[:64]!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not a JSON number (RFC 8259)")


def _finite_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise StrictJsonError(f"a number longer than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise StrictJsonError("a number out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise StrictJsonError(f"a number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted."""
    depth = deepest = 0
    for bracket in _BRACKET.findall(_STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def loads_strict(text: str) -> Any:
    """Parse ``text``; raises :class:`StrictJsonError` for anything but strict, bounded JSON."""
    # Counting brackets is cheap; only a body that could be too deep is scanned properly.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        raise StrictJsonError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(
            text,
            object_pairs_hook=_reject_duplicates,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except StrictJsonError:
        raise
    except RecursionError as exc:  # the depth scan makes this unreachable; kept as a guard
        raise StrictJsonError(f"nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:
        raise StrictJsonError("must be valid JSON") from exc
