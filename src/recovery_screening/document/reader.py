"""Read JSON and YAML safely: bounded size and depth, no aliases, no duplicate keys, no NaN.

Everything a user hands us (rulesets, applicants, cohorts, records) goes through here, so the
errors name the file and the place, never the content.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from recovery_screening.errors import DocumentError, Problem

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 30


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _StrictSafeLoader(_BaseLoader):  # type: ignore[misc]
    """A safe loader (libyaml's where present) with YAML 1.2-like scalars and no aliases.

    Only true/false are booleans, dates stay strings, and a node met twice (an alias) is refused:
    aliases are how "billion laughs" documents blow up, and rulesets have no need of them.
    """

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases are not supported", node.start_mark
            )
        return super().construct_object(node, deep=deep)


_DROPPED_RESOLVERS = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"}
_StrictSafeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictSafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be strings", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{_safe_key(key)}'", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise yaml.constructor.ConstructorError(
            None, None, "NaN and infinite numbers are not allowed", node.start_mark
        )
    return value


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    if len(str(node.value)) > MAX_INTEGER_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"integers may have at most {MAX_INTEGER_DIGITS} digits", node.start_mark
        )
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _safe_key(key: str) -> str:
    """Keys are field names, not values; still keep them short and printable in messages."""
    printable = "".join(ch if ch.isprintable() else "?" for ch in key)
    return printable if len(printable) <= 60 else printable[:57] + "..."


def _reject_constant(name: str) -> Any:
    raise ValueError("NaN and infinite numbers are not allowed")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"integers may have at most {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for key, value in pairs:
        if key in mapping:
            raise ValueError(f"duplicate key '{_safe_key(key)}'")
        mapping[key] = value
    return mapping


def _depth_exceeded(document: Any, limit: int = MAX_DEPTH) -> bool:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False


_ESCAPE = re.compile(r"\\.", re.S)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _bracket_depth_exceeded(text: str, limit: int = MAX_DEPTH) -> bool:
    """A cheap pre-scan: a document nested thousands deep never reaches a recursive parser.

    Linear in the text: escape pairs go first, so a string is then a quote, no quote, a quote
    (a pattern that cannot backtrack); what is left of an unclosed string still counts, and a
    closing bracket never lowers the depth below zero, so neither can hide deep nesting.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for char in _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text))):
        if char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif depth:
            depth -= 1
    return False


def _indent_depth_exceeded(text: str, limit: int = MAX_DEPTH) -> bool:
    indents = (len(line) - len(line.lstrip(" ")) for line in text.splitlines())
    return max(indents, default=0) > limit * 8


def parse_json_text(text: str, source: str) -> Any:
    """Parse one JSON value strictly (no NaN, no duplicate keys, bounded integers and depth)."""
    if _bracket_depth_exceeded(text):
        raise DocumentError(
            source, [Problem("$", "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            object_pairs_hook=_unique_object,
        )
    except json.JSONDecodeError as error:
        raise DocumentError(
            source,
            [Problem("$", "syntax", f"invalid JSON at line {error.lineno} column {error.colno}")],
        ) from None
    except (ValueError, RecursionError) as error:
        message = str(error) if not isinstance(error, RecursionError) else "nesting too deep"
        raise DocumentError(source, [Problem("$", "syntax", f"invalid JSON: {message}")]) from None
    return value


def parse_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document with the strict safe loader."""
    if _bracket_depth_exceeded(text) or _indent_depth_exceeded(text):
        raise DocumentError(
            source, [Problem("$", "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    try:
        value = yaml.load(text, Loader=_StrictSafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = error.problem or "invalid YAML"
        raise DocumentError(source, [Problem("$", "syntax", f"{problem}{where}")]) from None
    except (yaml.YAMLError, RecursionError, ValueError):
        raise DocumentError(source, [Problem("$", "syntax", "invalid YAML")]) from None
    if _depth_exceeded(value):
        raise DocumentError(
            source, [Problem("$", "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    return value


def decode_bytes(data: bytes, source: str, *, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """Check size and decode UTF-8 strictly."""
    if len(data) > limit:
        raise DocumentError(
            source, [Problem("$", "too-large", f"larger than the {limit // 1024} KiB limit")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(
            source, [Problem("$", "encoding", f"not valid UTF-8 (byte offset {error.start})")]
        ) from None
    return text.removeprefix("\ufeff")


def read_document(path: str | Path, *, limit: int = MAX_DOCUMENT_BYTES) -> Any:
    """Read a .json, .yaml or .yml file with every limit applied (YAML by suffix, else JSON)."""
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise DocumentError(
            source, [Problem("$", "unreadable", error.strerror or "cannot open file")]
        ) from None
    return parse_document_bytes(data, source, yaml_syntax=path.suffix.lower() in (".yaml", ".yml"))


def parse_document_bytes(
    data: bytes, source: str, *, yaml_syntax: bool, limit: int = MAX_DOCUMENT_BYTES
) -> Any:
    """Parse bytes as YAML or JSON, with every limit applied."""
    text = decode_bytes(data, source, limit=limit)
    return parse_yaml_text(text, source) if yaml_syntax else parse_json_text(text, source)


def iter_json_lines(lines: Iterator[bytes], source: str) -> Iterator[tuple[int, Any]]:
    """Yield (line number, value) for each non-blank JSON line; errors name the line."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        yield number, parse_document_bytes(raw, f"{source}, line {number}", yaml_syntax=False)
