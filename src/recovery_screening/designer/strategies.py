"""Hypothesis strategies for applicants that meet a ruleset's input contract (needs `hypothesis`).

Used by the property checks (`recovery-screening check`) and by tests: answers are drawn from
each input's declared type, values and range, and any answer may be missing.
"""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import strategies as st

from recovery_screening.fields import InputField
from recovery_screening.ruleset import Ruleset

_EARLIEST = datetime.date(1990, 1, 1)
_LATEST = datetime.date(2040, 12, 31)


def answers(field: InputField) -> st.SearchStrategy[Any]:
    """Valid answers to one field."""
    if field.kind == "boolean":
        return st.booleans()
    if field.kind == "enum" or field.values:
        return st.sampled_from(field.values)
    if field.kind == "integer":
        low = int(field.minimum) if field.minimum is not None else -1000
        high = int(field.maximum) if field.maximum is not None else 1000
        return st.integers(low, high)
    if field.kind == "number":
        floor = float(field.minimum) if field.minimum is not None else -1000.0
        ceiling = float(field.maximum) if field.maximum is not None else 1000.0
        return st.one_of(
            st.integers(int(-(-floor // 1)), int(ceiling // 1)),
            st.floats(floor, ceiling, allow_nan=False, allow_infinity=False),
        )
    if field.kind == "string":
        return st.text(
            alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
            max_size=field.max_length or 0,
        )
    return st.dates(_EARLIEST, _LATEST).map(datetime.date.isoformat)


def applicants(
    ruleset: Ruleset, *, missing: float = 0.1, complete: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Applicants for `ruleset`: each answer missing with roughly probability `missing`."""

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        applicant: dict[str, Any] = {}
        for field in ruleset.inputs:
            if not complete and draw(st.floats(0, 1)) < missing:
                continue
            value = draw(answers(field))
            if field.instrument:
                item = field.item
                applicant.setdefault(field.instrument, {})[item] = value
            else:
                applicant[field.name] = value
        return applicant

    return build()


def without(applicant: dict[str, Any], paths: set[str]) -> dict[str, Any]:
    """A copy of `applicant` with the answers at `paths` (`name` or `alias.item`) removed."""
    copy: dict[str, Any] = {}
    for key, value in applicant.items():
        if isinstance(value, dict):
            kept = {item: answer for item, answer in value.items() if f"{key}.{item}" not in paths}
            copy[key] = kept
        elif key not in paths:
            copy[key] = value
    return copy


def answered_paths(applicant: dict[str, Any]) -> list[str]:
    """Every answered path in `applicant`, in a stable order."""
    paths: list[str] = []
    for key, value in applicant.items():
        if isinstance(value, dict):
            paths.extend(f"{key}.{item}" for item in value)
        else:
            paths.append(key)
    return sorted(paths)


def variations(
    ruleset: Ruleset,
    seeds: list[dict[str, Any]],
    *,
    max_changes: int = 3,
    focus: list[InputField] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Applicants that differ from one of `seeds` (e.g. the ruleset's test cases) in at most
    `max_changes` answers, each replaced by another valid answer or left unanswered. With
    `focus`, the first change always answers one of those fields.

    Rare combinations (everything fine except one safety answer) are far likelier here than
    among independent random answers, and they shrink towards an unchanged seed.
    """
    fields = list(ruleset.inputs)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        seed = draw(st.sampled_from(seeds))
        applicant = {k: dict(v) if isinstance(v, dict) else v for k, v in seed.items()}
        changes = draw(st.integers(1 if focus else 0, max_changes))
        for index in range(changes):
            if focus and index == 0:
                field = draw(st.sampled_from(focus))
                value = draw(answers(field))
            else:
                field = draw(st.sampled_from(fields))
                value = draw(st.one_of(st.none(), answers(field)))
            if field.instrument:
                item = field.item
                group = applicant.setdefault(field.instrument, {})
                if value is None:
                    group.pop(item, None)
                else:
                    group[item] = value
            elif value is None:
                applicant.pop(field.name, None)
            else:
                applicant[field.name] = value
        return applicant

    return build()
