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


def huge_integer_key(digits: int = 5000) -> dict[Any, Any]:
    """An applicant keyed by an integer too long for str() (Python 3.11+ limits it)."""
    return {10**digits: 1}


def tuple_key() -> dict[Any, Any]:
    """An applicant keyed by a tuple, whose str() would show its parts."""
    return {("Jane Doe", "HIV+"): 1}


def wide_ruleset(domains: int = 320, rules: int = 100, points: int = 1000) -> dict[str, Any]:
    """A valid ruleset of many domains whose scores range widely (about 1.96 MB as YAML for
    the defaults): compiling it once built a table with one entry per possible score."""
    inputs = {f"x{index}": {"type": "boolean", "label": f"X{index}"} for index in range(rules)}
    specs = {}
    for domain in range(domains):
        high = rules * points
        specs[f"d{domain}"] = {
            "title": f"Domain {domain}",
            "rules": [
                {"id": f"d{domain}-r{index}", "when": f"x{index}", "points": points,
                 "code": f"D{domain}_R{index}", "text": "A rule."}
                for index in range(rules)
            ],
            "bands": [
                {"name": "low", "min": 0, "max": high // 2},
                {"name": "high", "min": high // 2 + 1, "max": high},
            ],
        }  # fmt: skip
    return {"inputs": inputs, "domains": specs}


def schema_errors(count: int = 20_000) -> dict[str, Any]:
    """A ruleset with `count` schema errors (inputs of an unknown type)."""
    return {"inputs": {f"x{index}": {"type": "nothing", "label": "X"} for index in range(count)}}


def chained_domains(count: int = 1500, cycle: bool = False) -> dict[str, Any]:
    """Domains each reading the score of the next one, listed first to last (the last reads the
    first when `cycle`): ordering them once recursed once per domain, to a RecursionError."""
    specs = {}
    for index in range(count):
        if index < count - 1:
            reads = f"d{index + 1}.score >= 1"
        else:
            reads = "d0.score >= 1" if cycle else "x"
        specs[f"d{index}"] = {
            "title": f"Domain {index}",
            "rules": [{"id": f"d{index}-r", "when": reads, "points": 1, "code": f"D{index}",
                       "text": "A rule."}],
            "bands": [{"name": "none", "min": 0, "max": 0}, {"name": "some", "min": 1, "max": 1}],
        }  # fmt: skip
    return {"inputs": {"x": {"type": "boolean", "label": "X"}}, "domains": specs}


def deep_document(depth: int = 5000) -> dict[str, Any]:
    """A ruleset given as a dict nested far deeper than any file the reader accepts."""
    node: dict[str, Any] = {}
    for _ in range(depth):
        node = {"a": node}
    return {"inputs": node}


GENERATORS: dict[str, Callable[..., Any]] = {
    "escaped-quotes": escaped_quotes,
    "open-strings": open_strings,
    "backslashes": backslashes,
    "deep-brackets": deep_brackets,
    "deep-mappings": deep_mappings,
    "many-strings": many_strings,
    "shallow-strings": shallow_strings,
    "huge-integer-key": huge_integer_key,
    "tuple-key": tuple_key,
    "wide-ruleset": wide_ruleset,
    "schema-errors": schema_errors,
    "chained-domains": chained_domains,
    "deep-document": deep_document,
}


def generate(spec: dict[str, Any]) -> Any:
    """Build the input a case's `generate` names, with the case's keyword arguments."""
    arguments = dict(spec)
    return GENERATORS[arguments.pop("name")](**arguments)
