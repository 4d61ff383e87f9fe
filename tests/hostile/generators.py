"""Hostile inputs too large or too odd to write in a case file, built by name from a case's
`generate: {name: ..., ...}`. Each returns what the case's feed takes (text, a document, an
applicant)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

MIB = 1024 * 1024


def escaped_quotes(size: int = MIB, opening: int = 65) -> str:
    """Deep brackets, then one string of escaped quotes: quadratic for a backtracking regex."""
    return "[" * opening + '"' + '\\"' * ((size - opening - 1) // 2)


def open_strings(size: int = MIB, opening: int = 65) -> str:
    """Deep brackets, then many quotes that never close a string."""
    return "[" * opening + '"' * (size - opening)


def backslashes(size: int = MIB, opening: int = 65) -> str:
    """Deep brackets, then a string of backslashes."""
    return "[" * opening + '"' + "\\" * (size - opening - 1)


def deep_brackets(size: int = MIB) -> str:
    """Brackets nested as deep as the size allows."""
    return "[" * (size // 2) + "]" * (size // 2)


def deep_mappings(size: int = MIB) -> str:
    """Flow mappings nested as deep as the size allows."""
    return '{"a":' * (size // 6) + "1" + "}" * (size // 6)


def many_strings(size: int = MIB, opening: int = 65) -> str:
    """Deep brackets, then many short strings separated by commas."""
    return "[" * opening + '"a",' * ((size - opening) // 4)


def shallow_strings(size: int = MIB) -> str:
    """A flat JSON list of strings full of escaped quotes and brackets: nothing deep, all read."""
    item = '"\\"[{\\\\",'
    return "[" + item * ((size - 8) // len(item)) + '""]'


GENERATORS: dict[str, Callable[..., Any]] = {
    "escaped-quotes": escaped_quotes,
    "open-strings": open_strings,
    "backslashes": backslashes,
    "deep-brackets": deep_brackets,
    "deep-mappings": deep_mappings,
    "many-strings": many_strings,
    "shallow-strings": shallow_strings,
}


def generate(spec: dict[str, Any]) -> Any:
    """Build the input a case's `generate` names, with the case's keyword arguments."""
    arguments = dict(spec)
    return GENERATORS[arguments.pop("name")](**arguments)
