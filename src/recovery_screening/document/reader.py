"""Read JSON and YAML safely: bounded size and depth, no aliases, no duplicate keys, no NaN.

Rulesets, case files, applicants, cohort lines, replay inputs and service requests are read
here, so the errors name the file and the place, never the content. Decision record lines are
parsed by `records.replay` with the same limits but without the nesting pre-scan (for speed).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recovery_screening.document.names import host_key, quoted_name
from recovery_screening.errors import DocumentError, Location, Problem

if TYPE_CHECKING:
    import yaml

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_INTEGER_DIGITS = 30
_WITHHELD_KEY = "(its name withheld)"


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> dict[Any, Any]:
    import yaml

    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            raise yaml.constructor.ConstructorError(None, None, _MERGE_MESSAGE, key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "mapping keys must be strings", key_node.start_mark
            )
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {quoted_name(key, _WITHHELD_KEY)}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_float(loader: Any, node: yaml.ScalarNode) -> float:
    import yaml

    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    if not math.isfinite(value):
        raise yaml.constructor.ConstructorError(
            None, None, "NaN and infinite numbers are not allowed", node.start_mark
        )
    return value


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    import yaml

    if len(str(node.value)) > MAX_INTEGER_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"integers may have at most {MAX_INTEGER_DIGITS} digits", node.start_mark
        )
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))


def _construct_undefined(loader: Any, node: yaml.Node) -> Any:
    import yaml

    raise yaml.constructor.ConstructorError(None, None, _TAG_MESSAGE, node.start_mark)


_MERGE_TAG = "tag:yaml.org,2002:merge"
_TAG_MESSAGE = (
    "explicit YAML tags (such as !!bool or !name) are not allowed: write the value plainly"
)
_MERGE_MESSAGE = "YAML merge keys (<<) are not allowed: write the entries out"


@functools.cache
def strict_loader() -> Any:
    """The strict safe loader class (libyaml's where present), built on first use: PyYAML is
    imported only when a YAML document is read, so JSON-only work and `--help` never load it.

    Only true/false are booleans, dates stay strings, and a node met twice (an alias) is refused:
    aliases are how "billion laughs" documents blow up, and rulesets have no need of them. Tags
    and merge keys have no constructor.
    """
    import yaml

    base = _safe_loader()

    class StrictSafeLoader(base):  # type: ignore[misc,valid-type]
        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            if node in self.constructed_objects or node in self.recursive_objects:
                raise yaml.constructor.ConstructorError(
                    None, None, "anchors and aliases are not supported", node.start_mark
                )
            return super().construct_object(node, deep=deep)

    StrictSafeLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    StrictSafeLoader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    StrictSafeLoader.yaml_constructors = {
        tag: yaml.SafeLoader.yaml_constructors[tag]
        for tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq")
    }
    StrictSafeLoader.add_constructor("tag:yaml.org,2002:bool", yaml.SafeLoader.construct_yaml_bool)
    StrictSafeLoader.add_constructor(None, _construct_undefined)
    StrictSafeLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    StrictSafeLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)
    StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    return StrictSafeLoader


def _safe_loader() -> Any:
    """PyYAML's safe loader, libyaml's (C) where it is installed."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_DROPPED_RESOLVERS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:value",
}


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
            raise ValueError(f"duplicate key {quoted_name(key, _WITHHELD_KEY)}")
        mapping[key] = value
    return mapping


def depth_exceeded(document: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed value nests deeper than `limit` (checked without recursion)."""
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


_TAG_OR_MERGE = re.compile(r"(?:\A|[\s\[{,:?-])(?:!|<<)")


class _Container:
    """Where the event scan is inside one mapping or sequence."""

    def __init__(self, mapping: bool) -> None:
        self.mapping = mapping
        self.count = 0
        self.expecting_key = mapping
        self.step: Location = ()

    def child(self) -> Location:
        """The location step of the next node (none for a key: it is placed at its object)."""
        if not self.mapping:
            return (self.count,)
        return () if self.expecting_key else self.step

    def advance(self, key: object) -> None:
        if not self.mapping:
            self.count += 1
        elif self.expecting_key:
            self.count += 1
            self.step = (host_key(key, self.count),)
            self.expecting_key = False
        else:
            self.expecting_key = True


def _is_merge_key(event: yaml.ScalarEvent) -> bool:
    """A plain `<<` (quoted, it is only text)."""
    implicit: Any = event.implicit
    return event.value == "<<" and bool(implicit[0])


def _tag_or_merge(text: str) -> Problem | None:
    """The first explicit tag or merge key of a YAML text, as a problem at its path.

    Both are refused: a tag picks a constructor (timestamps, sets, binary, or a lookup that
    fails on the value), and merge keys were exponential before PyYAML 6.0.4. A regular
    expression rules most texts out; the others are scanned as parser events, which keep tags.
    """
    if not _TAG_OR_MERGE.search(text):
        return None
    import yaml

    starts = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    node_events = (yaml.ScalarEvent, yaml.AliasEvent, *starts)
    end_events = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    containers: list[_Container] = []
    steps: list[Location] = []
    try:
        for event in yaml.parse(text, Loader=_safe_loader()):
            if isinstance(event, end_events):
                containers.pop()
                steps.pop()
                if containers:
                    containers[-1].advance(None)
                continue
            if not isinstance(event, node_events):
                continue
            parent = containers[-1] if containers else None
            child = parent.child() if parent is not None else ()
            path = tuple(part for step in (*steps, child) for part in step)
            is_key = parent is not None and parent.mapping and parent.expecting_key
            if getattr(event, "tag", None) is not None:
                return Problem(path, "yaml-tag", _TAG_MESSAGE)
            if is_key and isinstance(event, yaml.ScalarEvent) and _is_merge_key(event):
                return Problem(path, "yaml-merge", _MERGE_MESSAGE)
            if isinstance(event, starts):
                containers.append(_Container(isinstance(event, yaml.MappingStartEvent)))
                steps.append(child)
            elif parent is not None:
                parent.advance(event.value if isinstance(event, yaml.ScalarEvent) else None)
    except yaml.YAMLError:
        return None
    return None


def _indent_depth_exceeded(text: str, limit: int = MAX_DEPTH) -> bool:
    indents = (len(line) - len(line.lstrip(" ")) for line in text.splitlines())
    return max(indents, default=0) > limit * 8


def parse_json_text(text: str, source: str) -> Any:
    """Parse one JSON value strictly (no NaN, no duplicate keys, bounded integers and depth)."""
    if _bracket_depth_exceeded(text):
        raise DocumentError(
            source, [Problem((), "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
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
            [Problem((), "syntax", f"invalid JSON at line {error.lineno} column {error.colno}")],
        ) from None
    except (ValueError, RecursionError) as error:
        message = str(error) if not isinstance(error, RecursionError) else "nesting too deep"
        raise DocumentError(source, [Problem((), "syntax", f"invalid JSON: {message}")]) from None
    return value


def parse_yaml_text(text: str, source: str) -> Any:
    """Parse one YAML document with the strict safe loader."""
    if _bracket_depth_exceeded(text) or _indent_depth_exceeded(text):
        raise DocumentError(
            source, [Problem((), "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    refused = _tag_or_merge(text)
    if refused is not None:
        raise DocumentError(source, [refused])
    import yaml

    try:
        value = yaml.load(text, Loader=strict_loader())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = error.problem or "invalid YAML"
        raise DocumentError(source, [Problem((), "syntax", f"{problem}{where}")]) from None
    except (yaml.YAMLError, RecursionError, ValueError):
        raise DocumentError(source, [Problem((), "syntax", "invalid YAML")]) from None
    if depth_exceeded(value):
        raise DocumentError(
            source, [Problem((), "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    return value


def decode_bytes(data: bytes, source: str, *, limit: int = MAX_DOCUMENT_BYTES) -> str:
    """Check size and decode UTF-8 strictly."""
    if len(data) > limit:
        raise DocumentError(
            source, [Problem((), "too-large", f"larger than the {limit // 1024} KiB limit")]
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DocumentError(
            source, [Problem((), "encoding", f"not valid UTF-8 (byte offset {error.start})")]
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
            source, [Problem((), "unreadable", error.strerror or "cannot open file")]
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
