"""What each comparison operator means, in one table: the native closures, the durable-rules
translation and the designer's lint all read it (how it compares, mirrors and negates).

Ordered choices compare by position in their declared order (`enum_positions`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from recovery_screening.expressions.nodes import ComparisonOperator
from recovery_screening.expressions.value_types import ValueType


@dataclass(frozen=True)
class Comparator:
    """One comparison operator: `holds(a, b)` for present values, `a op b` ≡ `b mirrored a`, and
    `not (a op b)` ≡ `a negated b` (both sides present)."""

    symbol: ComparisonOperator
    holds: Callable[[Any, Any], bool]
    negated: ComparisonOperator
    mirrored: ComparisonOperator | None
    """None for membership (`in`, `not in`), whose right side is always a list."""
    ordering: bool
    """<, <=, > and >=: only numbers, dates and ordered choices take them."""


def _contains(item: Any, values: Any) -> bool:
    return item in values


def _lacks(item: Any, values: Any) -> bool:
    return item not in values


COMPARATORS: Mapping[str, Comparator] = MappingProxyType(
    {
        comparator.symbol: comparator
        for comparator in (
            Comparator("==", operator.eq, "!=", "==", ordering=False),
            Comparator("!=", operator.ne, "==", "!=", ordering=False),
            Comparator("<", operator.lt, ">=", ">", ordering=True),
            Comparator("<=", operator.le, ">", ">=", ordering=True),
            Comparator(">", operator.gt, "<=", "<", ordering=True),
            Comparator(">=", operator.ge, "<", "<=", ordering=True),
            Comparator("in", _contains, "not in", None, ordering=False),
            Comparator("not in", _lacks, "in", None, ordering=False),
        )
    }
)
ORDERING = frozenset(symbol for symbol, comparator in COMPARATORS.items() if comparator.ordering)


def enum_positions(enum: ValueType) -> dict[object, int]:
    """Each value of an enum and its position in the declared order."""
    return {value: index for index, value in enumerate(enum.values)}


def enum_values_satisfying(enum: ValueType, op: str, literal: object) -> tuple[str, ...]:
    """The enum's values `v` (in declared order) for which `v op literal` holds by position."""
    position = enum.values.index(str(literal))
    holds = COMPARATORS[op].holds
    return tuple(value for index, value in enumerate(enum.values) if holds(index, position))


__all__ = ["COMPARATORS", "ORDERING", "Comparator", "enum_positions", "enum_values_satisfying"]
