"""Validate a ruleset document against schemas/ruleset.schema.json; every error has its path."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

from recovery_screening.document._paths import data_directory
from recovery_screening.errors import MAX_PROBLEMS, Location, Problem, more_problems

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError


@cache
def ruleset_schema() -> dict[str, Any]:
    """The JSON Schema of a ruleset document (screening or instrument)."""
    path = data_directory("schemas") / "ruleset.schema.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # here, not at import: loading it costs more than the rest of the package

    return jsonschema.Draft202012Validator(ruleset_schema())


def _describe(error: ValidationError) -> tuple[str, str]:
    """A code and a message naming the rule broken, without echoing the document's value."""
    keyword = str(error.validator)
    expected: Any = error.validator_value
    if keyword == "additionalProperties":
        return _unknown_fields(error)
    if keyword == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in expected if name not in instance]
        names = ", ".join(f"'{name}'" for name in missing)
        return "missing-field", f"missing required field {names}"
    if keyword == "not":
        return _not_allowed(error)
    if keyword == "type":
        return "wrong-type", f"must be of type {_as_list(expected)}"
    if keyword == "enum":
        return "not-allowed", f"must be one of {_as_list(expected)}"
    if keyword == "const":
        return "not-allowed", f"must be {json.dumps(expected)}"
    if keyword == "pattern":
        return "bad-format", f"must match the pattern {expected}"
    if keyword in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[keyword]
    if keyword in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return "out-of-range", f"breaks {keyword} {expected}"
    if keyword in {"minLength", "maxLength", "minItems", "maxItems"}:
        return "bad-size", f"breaks {keyword} {expected}"
    return "invalid", f"breaks the schema rule '{keyword}'"


_FIXED_MESSAGES = {
    "propertyNames": ("bad-name", "a key here does not follow the naming rule for this section"),
    "uniqueItems": ("duplicate", "items must be unique"),
}


def _unknown_fields(error: ValidationError) -> tuple[str, str]:
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance = error.instance if isinstance(error.instance, dict) else {}
    extra = sorted(set(instance) - set(schema.get("properties", {})))
    names = ", ".join(f"'{name}'" for name in extra) or "a field"
    return "unknown-field", f"unknown field {names}: not part of the ruleset format"


def _not_allowed(error: ValidationError) -> tuple[str, str]:
    if isinstance(error.schema, dict) and error.schema.get("x-v2-only"):
        name = str(error.path[-1]) if error.path else "this field"
        return "needs-v2", (
            f"'{name}' is part of format recovery-screening/v2; "
            "this document declares recovery-screening/v1"
        )
    return "not-allowed", "has a field that this type of entry does not take"


def _as_list(expected: Any) -> str:
    if isinstance(expected, list | tuple):
        return ", ".join(json.dumps(item) for item in expected)
    return json.dumps(expected)


def _leaves(errors: Sequence[ValidationError]) -> Iterable[ValidationError]:
    from jsonschema.exceptions import best_match

    for error in errors:
        if error.context:
            best = best_match(error.context)
            yield from _leaves([best]) if best is not None else [error]
        else:
            yield error


def schema_problems(document: Any, limit: int = MAX_PROBLEMS) -> list[Problem]:
    """Schema errors in `document` in path order, each with its JSON path and a value-free
    message: the first `limit`, then one `more-problems` entry counting the rest. Only `limit`
    validation errors are held at a time, however many the document has."""
    problems: list[Problem] = []
    seen: set[tuple[Location, str]] = set()
    total = 0

    def counted(errors: Iterable[ValidationError]) -> Iterator[ValidationError]:
        nonlocal total
        for error in errors:
            total += 1
            yield error

    first = heapq.nsmallest(
        limit, counted(_validator().iter_errors(document)), key=lambda e: list(map(str, e.path))
    )
    for error in _leaves(first):
        location: Location = tuple(error.absolute_path)
        code, message = _describe(error)
        if (location, message) not in seen:
            seen.add((location, message))
            problems.append(Problem(location, code, message))
    if total > len(first):
        problems.append(more_problems(total - len(first)))
    return problems
