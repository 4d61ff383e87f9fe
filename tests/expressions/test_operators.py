"""The one operator table: mirroring and negation agree with the comparisons they name."""

from __future__ import annotations

from typing import get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_screening.expressions import enum_type
from recovery_screening.expressions.nodes import ComparisonOperator
from recovery_screening.expressions.operators import (
    COMPARATORS,
    ORDERING,
    enum_positions,
    enum_values_satisfying,
)

SIZES = enum_type(["small", "medium", "large"], ordered=True)
numbers = st.integers(-5, 5) | st.floats(-5, 5, allow_nan=False)


def test_every_comparison_operator_of_the_language_is_in_the_table() -> None:
    assert set(COMPARATORS) == set(get_args(ComparisonOperator))
    assert {"<", "<=", ">", ">="} == ORDERING


@pytest.mark.parametrize("symbol", sorted(COMPARATORS))
def test_negation_is_an_involution(symbol: str) -> None:
    assert COMPARATORS[COMPARATORS[symbol].negated].negated == symbol


@given(numbers, numbers)
def test_mirrored_and_negated_operators_agree_with_the_comparison(a: float, b: float) -> None:
    for symbol, comparator in COMPARATORS.items():
        if comparator.mirrored is None:
            continue
        holds = comparator.holds(a, b)
        assert COMPARATORS[comparator.mirrored].holds(b, a) == holds, symbol
        assert COMPARATORS[comparator.negated].holds(a, b) == (not holds), symbol


@given(st.integers(-3, 3), st.lists(st.integers(-3, 3), max_size=4))
def test_membership_negates(item: int, values: list[int]) -> None:
    assert COMPARATORS["in"].holds(item, values) == (item in values)
    assert COMPARATORS["not in"].holds(item, values) == (item not in values)


def test_ordered_choices_compare_by_declared_position() -> None:
    assert enum_positions(SIZES) == {"small": 0, "medium": 1, "large": 2}
    assert enum_values_satisfying(SIZES, ">=", "medium") == ("medium", "large")
    assert enum_values_satisfying(SIZES, "<", "medium") == ("small",)
    assert enum_values_satisfying(SIZES, ">", "large") == ()
