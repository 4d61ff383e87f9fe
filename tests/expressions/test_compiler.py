"""compile_expression end to end: the CompiledExpression it returns, the error it raises, and
that nothing that compiles can crash at evaluation time."""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening.errors import ScreeningError
from recovery_screening.expressions import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    CompiledExpression,
    ExpressionError,
    ExpressionProblem,
    Logical,
    ValueType,
    compile_expression,
    enum_type,
    parse_expression,
)

SYMBOLS: dict[str, ValueType] = {
    "phq9.total": INTEGER,
    "weight": NUMBER,
    "housed": BOOLEAN,
    "name": STRING,
    "intake": DATE,
    "withdrawal": enum_type(["none", "mild", "moderate", "severe"], ordered=True),
    "band": enum_type(["low", "high"]),
}


def test_compiled_expression_fields() -> None:
    source = 'phq9.total >= 10 and (is_missing(weight) or withdrawal in ["severe"])'
    compiled = compile_expression(source, SYMBOLS)
    assert isinstance(compiled, CompiledExpression)
    assert compiled.source == source
    assert compiled.type == BOOLEAN
    assert compiled.references == frozenset({"phq9.total", "weight", "withdrawal"})
    assert isinstance(compiled.ast, Logical)
    assert compiled.ast == parse_expression(source)
    facts = {"phq9.total": 12, "weight": None, "withdrawal": "mild"}
    assert compiled.evaluate(facts) is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.source = "x"  # type: ignore[misc]


def test_literals_only_reference_nothing() -> None:
    compiled = compile_expression('date("2025-01-01") < date("2025-02-01")', {})
    assert compiled.references == frozenset()
    assert compiled.evaluate({}) is True


def test_expect_none_accepts_any_type() -> None:
    compiled = compile_expression("weight * 2", SYMBOLS, expect=None)
    assert compiled.type == NUMBER
    assert compiled.evaluate({"weight": 1.5}) == 3.0
    assert compiled.evaluate({"weight": None}) is None


def test_bind_maps_names_as_written_to_keys_in_the_facts() -> None:
    local = {"q9": INTEGER, "total": INTEGER}
    compiled = compile_expression(
        "q9 >= 1 or total > 20 or is_missing(q9)",
        local,
        bind={"q9": "phq9.q9", "total": "phq9.total"},
    )
    assert compiled.references == frozenset({"phq9.q9", "phq9.total"})
    assert compiled.evaluate({"phq9.q9": 0, "phq9.total": 21}) is True
    assert compiled.evaluate({"phq9.q9": 0, "phq9.total": 3}) is False
    assert compiled.evaluate({"phq9.q9": None, "phq9.total": 3}) is True
    assert compiled.ast == parse_expression("q9 >= 1 or total > 20 or is_missing(q9)")
    with pytest.raises(ExpressionError, match="'q8' is not an input"):
        compile_expression("q8 > 1", local, bind={"q9": "phq9.q9"})


def test_error_is_a_screening_error_listing_every_problem() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("nosuch > 1 and housed + 1", SYMBOLS)
    error = caught.value
    assert isinstance(error, ScreeningError)
    assert error.source == "nosuch > 1 and housed + 1"
    assert [problem.code for problem in error.problems] == ["unknown-input", "type-mismatch"]
    assert all(isinstance(problem, ExpressionProblem) for problem in error.problems)
    lines = str(error).splitlines()
    assert lines[0] == "expression 'nosuch > 1 and housed + 1' is invalid (2 problems):"
    assert lines[1].startswith("  column 1: 'nosuch' is not an input")
    assert lines[2].startswith("  column 16: '+' needs numbers")


def test_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        ExpressionError([])


def test_long_sources_are_shortened_in_the_summary_only() -> None:
    source = "housed and " * 300 + "nosuch"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, SYMBOLS)
    assert caught.value.source == source
    assert len(str(caught.value).splitlines()[0]) < 200


# -- nothing that compiles crashes ---------------------------------------------------------------

_PIECES = [
    "(", ")", "[", "]", ", ", " and ", " or ", "not ", " in ", " not in ", " == ", " != ",
    " < ", " <= ", " > ", " >= ", " + ", " - ", " * ", " / ", "-", "0", "1", "2.5", "true",
    "false", '"mild"', '"low"', '"x"', 'date("2025-01-31")', "phq9.total", "weight", "housed",
    "name", "intake", "withdrawal", "band", "sum(", "min(", "max(", "abs(", "count_true(",
    "any_of(", "all_of(", "is_missing(", "is_known(", "days_between(",
]  # fmt: skip

_ANSWERS: dict[str, st.SearchStrategy[Any]] = {
    "phq9.total": st.none() | st.integers(-(10**6), 10**6),
    "weight": st.none() | st.integers(-100, 100) | st.floats(-1e6, 1e6),
    "housed": st.none() | st.booleans(),
    "name": st.none() | st.sampled_from(["", "x", "mild"]),
    "intake": st.none() | st.dates(datetime.date(1900, 1, 1), datetime.date(2100, 1, 1)),
    "withdrawal": st.none() | st.sampled_from(["none", "mild", "moderate", "severe"]),
    "band": st.none() | st.sampled_from(["low", "high"]),
}


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=25).map("".join),
    st.fixed_dictionaries(_ANSWERS),
)
def test_compiled_expressions_never_raise_on_valid_answers(
    source: str, facts: dict[str, Any]
) -> None:
    try:
        compiled = compile_expression(source, SYMBOLS, expect=None)
    except ExpressionError as error:
        assert error.problems
        return
    for answers in (facts, dict.fromkeys(SYMBOLS)):
        result = compiled.evaluate(answers)
        if compiled.type == BOOLEAN:
            assert result is True or result is False or result is None


def _parenthesised(text: str) -> str:
    return f"({text})"


def _joined(function: str) -> Any:
    return lambda arguments: f"{function}({', '.join(arguments)})"


_dates = st.dates(datetime.date(1990, 1, 1), datetime.date(2040, 1, 1)).map(
    lambda day: f'date("{day.isoformat()}")'
)
_NUMBER_LEAVES = st.sampled_from(["phq9.total", "weight", "0", "3", "-2", "2.5"])
_CONDITION_LEAVES = st.sampled_from(
    [
        "housed",
        "true",
        "false",
        'withdrawal >= "moderate"',
        '"mild" < withdrawal',
        'band == "low"',
        'band not in ["high"]',
        'name in ["x", "y"]',
        "is_missing(weight)",
        "is_known(withdrawal)",
        "phq9.total in [1, 2]",
    ]
)


@functools.cache
def _numbers(depth: int) -> st.SearchStrategy[str]:
    """Well-typed numeric expressions nested at most `depth` levels."""
    if depth == 0:
        return _NUMBER_LEAVES
    inner, conditions = _numbers(depth - 1), _conditions(depth - 1)
    return st.one_of(
        _NUMBER_LEAVES,
        st.builds(
            lambda left, op, right: f"({left}) {op} ({right})",
            inner,
            st.sampled_from(["+", "-", "*", "/"]),
            inner,
        ),
        inner.map(lambda operand: f"-({operand})"),
        st.builds(
            lambda function, arguments: _joined(function)(arguments),
            st.sampled_from(["sum", "min", "max"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
        inner.map(lambda operand: f"abs({operand})"),
        st.lists(conditions, min_size=1, max_size=3).map(_joined("count_true")),
        st.tuples(st.just("intake") | _dates, _dates).map(_joined("days_between")),
    )


@functools.cache
def _conditions(depth: int) -> st.SearchStrategy[str]:
    """Well-typed conditions nested at most `depth` levels."""
    if depth == 0:
        return _CONDITION_LEAVES
    inner, numbers = _conditions(depth - 1), _numbers(depth - 1)
    return st.one_of(
        _CONDITION_LEAVES,
        st.builds(
            lambda left, op, right: f"{left} {op} {right}",
            numbers,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
            numbers,
        ),
        st.builds(lambda op, day: f"intake {op} {day}", st.sampled_from(["<", "=="]), _dates),
        inner.map(lambda operand: f"not ({operand})"),
        st.builds(
            lambda operands, op: f" {op} ".join(map(_parenthesised, operands)),
            st.lists(inner, min_size=2, max_size=3),
            st.sampled_from(["and", "or"]),
        ),
        st.builds(
            lambda function, arguments: _joined(function)(arguments),
            st.sampled_from(["any_of", "all_of"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
    )


@settings(max_examples=200, deadline=None)
@given(_conditions(4), st.fixed_dictionaries(_ANSWERS))
def test_well_typed_conditions_always_evaluate_to_a_truth_value(
    source: str, facts: dict[str, Any]
) -> None:
    try:
        compiled = compile_expression(source, SYMBOLS)
    except ExpressionError as error:
        codes = {problem.code for problem in error.problems}
        assert codes <= {"too-complex", "division-by-zero"}, source
        return
    for answers in (facts, dict.fromkeys(SYMBOLS)):
        result = compiled.evaluate(answers)
        assert result is True or result is False or result is None
