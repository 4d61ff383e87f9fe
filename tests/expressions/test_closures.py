"""Evaluation: three-valued semantics of every construct, short-circuiting, the specialised
closures, and properties checked against a reference interpreter written independently."""

from __future__ import annotations

import datetime
import itertools
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening.expressions import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    ValueType,
    compile_expression,
    enum_type,
)

T, F, U = True, False, None
NEW_YEAR, MARCH = datetime.date(2024, 12, 31), datetime.date(2025, 3, 1)
WITHDRAWAL = enum_type(["none", "mild", "moderate", "severe"], ordered=True)
SYMBOLS: dict[str, ValueType] = {
    "a": BOOLEAN,
    "b": BOOLEAN,
    "c": BOOLEAN,
    "flag.d": BOOLEAN,
    "n": INTEGER,
    "x": INTEGER,
    "y": INTEGER,
    "z": INTEGER,
    "w": NUMBER,
    "s": STRING,
    "day": DATE,
    "later": DATE,
    "withdrawal": WITHDRAWAL,
    "previous": WITHDRAWAL,
    "band": enum_type(["low", "medium", "high"]),
}


def run(source: str, expect: ValueType | None = BOOLEAN, **answers: Any) -> object:
    compiled = compile_expression(source, SYMBOLS, expect=expect)
    facts = {name: answers.get(name.replace(".", "_")) for name in compiled.references}
    return compiled.evaluate(facts)


class Guarded(Mapping[str, object]):
    """Facts that fail the test if `forbidden` is read: proves short-circuiting."""

    def __init__(self, forbidden: str, **answers: object) -> None:
        self.answers = {name: answers.get(name) for name in SYMBOLS}
        self.forbidden = forbidden

    def __getitem__(self, name: str) -> object:
        assert name != self.forbidden, f"{name} was read although the result was decided"
        return self.answers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.answers)

    def __len__(self) -> int:
        return len(self.answers)


# -- Kleene logic ------------------------------------------------------------------------------

TRUTH_TABLE = list(itertools.product([T, F, U], repeat=2))


@pytest.mark.parametrize(("left", "right"), TRUTH_TABLE)
def test_and_or_truth_tables(left: bool | None, right: bool | None) -> None:
    expected_and = F if F in (left, right) else (U if U in (left, right) else T)
    expected_or = T if T in (left, right) else (U if U in (left, right) else F)
    for source in ("a and b", "all_of(a, b)", "a and (b and true)"):
        assert run(source, a=left, b=right) is expected_and
    for source in ("a or b", "any_of(a, b)", "a or (b or false)"):
        assert run(source, a=left, b=right) is expected_or


@pytest.mark.parametrize(("value", "negated"), [(T, F), (F, T), (U, U)])
def test_not(value: bool | None, negated: bool | None) -> None:
    assert run("not a", a=value) is negated
    assert run("not (a and true)", a=value) is negated


def test_short_circuit_skips_the_right_side() -> None:
    assert compile_expression("a and b", SYMBOLS).evaluate(Guarded("b", a=False)) is False
    assert compile_expression("a or b", SYMBOLS).evaluate(Guarded("b", a=True)) is True
    chain = compile_expression("a and b and c and flag.d", SYMBOLS)
    assert chain.evaluate(Guarded("c", a=True, b=False)) is False
    anyone = compile_expression("any_of(a, b, c)", SYMBOLS)
    assert anyone.evaluate(Guarded("c", a=None, b=True)) is True


def test_unknown_left_side_still_reads_the_right_side() -> None:
    assert run("a and b", a=None, b=False) is False
    assert run("a or b", a=None, b=True) is True
    assert run("a and b and c", a=None, b=True, c=False) is False


@pytest.mark.parametrize(
    ("source", "value", "result"),
    [
        ("a == true", T, T),
        ("a == true", F, F),
        ("a == false", T, F),
        ("a == false", F, T),
        ("a != true", T, F),
        ("a != false", T, T),
        ("true == a", F, F),
        ("false != a", T, T),
        ("a in [true]", F, F),
        ("a not in [true]", F, T),
    ],
)
def test_boolean_equality(source: str, value: bool, result: bool) -> None:
    assert run(source, a=value) is result
    assert run(source, a=None) is None


def test_missing_tests_are_never_unknown() -> None:
    assert run("is_missing(a)", a=None) is True
    assert run("is_missing(a)", a=False) is False
    assert run("is_known(n)", n=0) is True
    assert run("is_known(n)", n=None) is False
    assert run("is_missing(flag.d) or flag.d", flag_d=None) is True


# -- comparisons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "answers", "result"),
    [
        ("n >= 3", {"n": 3}, T),
        ("n >= 3", {"n": 2}, F),
        ("3 <= n", {"n": 3}, T),
        ("3 < n", {"n": 3}, F),
        ("n > -1", {"n": 0}, T),
        ("n == 2.0", {"n": 2}, T),
        ("n != 2", {"n": 2}, F),
        ("w < 2.5", {"w": 2.4}, T),
        ("x <= y", {"x": 2, "y": 2}, T),
        ("x > y", {"x": 2, "y": 2}, F),
        ("x + 1 > y", {"x": 2, "y": 2}, T),
        ('s == "a"', {"s": "a"}, T),
        ('"a" != s', {"s": "a"}, F),
        ('s in ["a", "b"]', {"s": "b"}, T),
        ('s not in ["a", "b"]', {"s": "b"}, F),
        ("n in [1, 2.5]", {"n": 1}, T),
        ("n + 0.5 in [1, 2.5]", {"n": 2}, T),
        ("n in []", {"n": 2}, F),
        ('day < date("2025-01-31")', {"day": datetime.date(2025, 1, 30)}, T),
        ('date("2025-01-31") <= day', {"day": datetime.date(2025, 1, 30)}, F),
        ("day == later", {"day": MARCH, "later": MARCH}, T),
        ('day in [date("2025-01-30")]', {"day": datetime.date(2025, 1, 30)}, T),
    ],
)
def test_comparisons(source: str, answers: dict[str, Any], result: bool) -> None:
    assert run(source, **answers) is result
    for name in answers:
        assert run(source, **{**answers, name: None}) is None


@pytest.mark.parametrize(
    ("source", "values"),
    [
        ('withdrawal >= "moderate"', {"moderate", "severe"}),
        ('withdrawal > "moderate"', {"severe"}),
        ('withdrawal <= "mild"', {"none", "mild"}),
        ('withdrawal < "none"', set()),
        ('withdrawal == "mild"', {"mild"}),
        ('withdrawal != "mild"', {"none", "moderate", "severe"}),
        ('"moderate" <= withdrawal', {"moderate", "severe"}),
        ('"moderate" > withdrawal', {"none", "mild"}),
        ('withdrawal in ["none", "severe"]', {"none", "severe"}),
        ('withdrawal not in ["none", "severe"]', {"mild", "moderate"}),
        ('band in ["low"]', {"low"}),
    ],
)
def test_enum_comparisons_use_declared_order(source: str, values: set[str]) -> None:
    enum = SYMBOLS["band"] if "band" in source else WITHDRAWAL
    for value in enum.values:
        assert run(source, withdrawal=value, band=value) is (value in values)
    assert run(source) is None


def test_enum_against_enum_compares_positions() -> None:
    assert run("withdrawal > previous", withdrawal="moderate", previous="mild") is True
    assert run("withdrawal > previous", withdrawal="mild", previous="moderate") is False
    assert run("withdrawal <= previous", withdrawal="severe", previous="severe") is True
    assert run("withdrawal == previous", withdrawal="severe", previous="severe") is True
    assert run("withdrawal > previous", withdrawal=None, previous="mild") is None


# -- arithmetic and functions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "answers", "result"),
    [
        ("x + y * 2", {"x": 1, "y": 3}, 7),
        ("(x + y) * 2", {"x": 1, "y": 3}, 8),
        ("x - y - 1", {"x": 1, "y": 3}, -3),
        ("x / y", {"x": 3, "y": 2}, 1.5),
        ("x / y", {"x": 3, "y": 0}, None),
        ("w / (x - x)", {"w": 2.0, "x": 7}, None),
        ("-x", {"x": 3}, -3),
        ("x + 1", {"x": None}, None),
        ("1 + x", {"x": None}, None),
        ("sum(x, y, 1)", {"x": 1, "y": 2}, 4),
        ("sum(x, y, 1)", {"x": 1, "y": None}, None),
        ("min(x, y, w)", {"x": 1, "y": 2, "w": 0.5}, 0.5),
        ("max(x, y)", {"x": 1, "y": 2}, 2),
        ("max(x, y)", {"x": None, "y": 2}, None),
        ("abs(x)", {"x": -4}, 4),
        ("abs(x)", {"x": None}, None),
        ("count_true(a, b, c)", {"a": True, "b": False, "c": True}, 2),
        ("count_true(a, b, c)", {"a": True, "b": None, "c": True}, None),
        ("days_between(day, later)", {"day": NEW_YEAR, "later": MARCH}, 60),
        ("days_between(later, day)", {"day": NEW_YEAR, "later": MARCH}, -60),
        ("days_between(day, later)", {"day": None, "later": MARCH}, None),
    ],
)  # fmt: skip
def test_arithmetic_and_functions(source: str, answers: dict[str, Any], result: object) -> None:
    value = run(source, expect=None, **answers)
    assert value == result
    assert type(value) is type(result)


def test_unknown_arithmetic_makes_the_comparison_unknown() -> None:
    assert run("x / y > 1", x=1, y=0) is None
    assert run("x / y > 1 or a", x=1, y=0, a=True) is True
    assert run("count_true(a, b) >= 1", a=True, b=None) is None


def test_huge_division_is_unknown_not_a_crash() -> None:
    assert run("x / y > 1", x=10**400, y=3) is None


# -- the compiled shapes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "closure"),
    [
        ("n >= 3", "at_least"),
        ("3 >= n", "at_most"),
        ('s in ["a", "b"]', "input_in"),
        ('withdrawal >= "moderate"', "input_in"),
        ("a == true", "itemgetter"),
        ("a == false", "not_input"),
        ("is_missing(n)", "is_missing"),
        ("a and n > 1", "both"),
        ("a and (b and (c and flag.d))", "every"),
        ("any_of(a, b or c)", "some"),
        ("a", "itemgetter"),
    ],
)
def test_common_shapes_compile_to_one_specialised_closure(source: str, closure: str) -> None:
    evaluate = compile_expression(source, SYMBOLS).evaluate
    assert getattr(evaluate, "__name__", type(evaluate).__name__) == closure


def test_and_chains_are_flattened() -> None:
    evaluate = compile_expression("a and (b and all_of(c, flag.d))", SYMBOLS).evaluate
    assert evaluate.__closure__ is not None
    (conditions,) = (cell.cell_contents for cell in evaluate.__closure__)
    assert len(conditions) == 4


# -- property: Kleene logic against a reference interpreter ------------------------------------

Tree = tuple[Any, ...]
BOOLEAN_NAMES = ["a", "b", "c", "flag.d"]
N_VALUES = [None, 0, 1, 2, 3]
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def leaves(with_missing_tests: bool) -> st.SearchStrategy[Tree]:
    options = [
        st.tuples(st.just("name"), st.sampled_from(BOOLEAN_NAMES)),
        st.tuples(st.just("constant"), st.booleans()),
        st.tuples(st.just("equals"), st.sampled_from(BOOLEAN_NAMES), st.booleans()),
        st.tuples(st.just("compare"), st.sampled_from(sorted(COMPARATORS)), st.integers(0, 3)),
        st.tuples(st.just("member"), st.frozensets(st.integers(0, 3), max_size=3)),
    ]
    if with_missing_tests:
        names = st.sampled_from([*BOOLEAN_NAMES, "n"])
        options.append(st.tuples(st.sampled_from(["is_missing", "is_known"]), names))
    return st.one_of(options)


def trees(with_missing_tests: bool) -> st.SearchStrategy[Tree]:
    def extend(children: st.SearchStrategy[Tree]) -> st.SearchStrategy[Tree]:
        several = st.lists(children, min_size=1, max_size=4).map(tuple)
        pairs_or_more = st.lists(children, min_size=2, max_size=4).map(tuple)
        return st.one_of(
            st.tuples(st.just("not"), children),
            st.tuples(st.sampled_from(["and", "or"]), pairs_or_more),
            st.tuples(st.sampled_from(["any_of", "all_of"]), several),
            st.tuples(st.just("count_true"), several, st.integers(0, 3)),
        )  # fmt: skip

    return st.recursive(leaves(with_missing_tests), extend, max_leaves=12)


def render(tree: Tree) -> tuple[str, int]:
    """Source text for `tree` with only the parentheses precedence needs, and its binding
    power: or 1, and 2, not 3, anything tighter 4."""
    kind = tree[0]
    if kind == "name":
        return tree[1], 4
    if kind == "constant":
        return ("true" if tree[1] else "false"), 4
    if kind == "equals":
        return f"{tree[1]} == {'true' if tree[2] else 'false'}", 4
    if kind == "compare":
        return f"n {tree[1]} {tree[2]}", 4
    if kind == "member":
        return f"n in [{', '.join(str(v) for v in sorted(tree[1]))}]", 4
    if kind in ("is_missing", "is_known"):
        return f"{kind}({tree[1]})", 4
    if kind == "not":
        return f"not {wrap(tree[1], 3)}", 3
    if kind in ("and", "or"):
        power = 2 if kind == "and" else 1
        return f" {kind} ".join(wrap(child, power + 1) for child in tree[1]), power
    if kind == "count_true":
        arguments = ", ".join(render(child)[0] for child in tree[1])
        return f"count_true({arguments}) >= {tree[2]}", 4
    return f"{kind}({', '.join(render(child)[0] for child in tree[1])})", 4


def wrap(tree: Tree, power: int) -> str:
    text, own = render(tree)
    return text if own >= power else f"({text})"


def reference(tree: Tree, facts: Mapping[str, Any]) -> bool | None:
    """Kleene logic as min / max / 1 - x over False = 0 < unknown = 1/2 < True = 1."""
    return {0.0: False, 0.5: None, 1.0: True}[degree(tree, facts)]


def degree(tree: Tree, facts: Mapping[str, Any]) -> float:
    kind = tree[0]
    if kind in ("and", "all_of"):
        return min(degree(child, facts) for child in tree[1])
    if kind in ("or", "any_of"):
        return max(degree(child, facts) for child in tree[1])
    if kind == "not":
        return 1.0 - degree(tree[1], facts)
    if kind == "constant":
        return float(tree[1])
    if kind == "is_missing":
        return float(facts[tree[1]] is None)
    if kind == "is_known":
        return float(facts[tree[1]] is not None)
    if kind == "count_true":
        degrees = [degree(child, facts) for child in tree[1]]
        return 0.5 if 0.5 in degrees else float(sum(degrees) >= tree[2])
    value = facts["n" if kind in ("compare", "member") else tree[1]]
    if value is None:
        return 0.5
    if kind == "name":
        return float(value)
    if kind == "equals":
        return float(value == tree[2])
    if kind == "compare":
        return float(COMPARATORS[tree[1]](value, tree[2]))
    return float(value in tree[1])


def fact_sets() -> st.SearchStrategy[dict[str, Any]]:
    booleans = st.sampled_from([True, False, None])
    return st.fixed_dictionaries(
        {**{name: booleans for name in BOOLEAN_NAMES}, "n": st.sampled_from(N_VALUES)}
    )


def completions(facts: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every way of filling in the missing answers."""
    choices = [
        [value] if value is not None else ([True, False] if name in BOOLEAN_NAMES else N_VALUES[1:])
        for name, value in facts.items()
    ]
    for values in itertools.product(*choices):
        yield dict(zip(facts, values, strict=True))


@settings(max_examples=300, deadline=None)
@given(trees(with_missing_tests=True), fact_sets())
def test_kleene_logic_matches_the_reference_interpreter(tree: Tree, facts: dict[str, Any]) -> None:
    source, _ = render(tree)
    compiled = compile_expression(source, SYMBOLS)
    selected = {name: facts[name] for name in compiled.references}
    assert compiled.evaluate(selected) is reference(tree, facts), source


@settings(max_examples=200, deadline=None)
@given(trees(with_missing_tests=False), fact_sets())
def test_a_decided_result_holds_for_every_completion(tree: Tree, facts: dict[str, Any]) -> None:
    source, _ = render(tree)
    evaluate = compile_expression(source, SYMBOLS).evaluate
    result = evaluate(facts)
    if result is None:
        return
    for completed in completions(facts):
        assert evaluate(completed) is result, (source, completed)


# -- property: numbers behave as in Python -------------------------------------------------------

integers = st.integers(-(10**12), 10**12)


@settings(max_examples=150, deadline=None)
@given(integers, integers, st.sampled_from(sorted(COMPARATORS)))
def test_numeric_comparisons_match_python(x: int, y: int, op: str) -> None:
    python = COMPARATORS[op]
    assert run(f"x {op} y", x=x, y=y) is python(x, y)
    assert run(f"x {op} {y}", x=x) is python(x, y)
    assert run(f"{x} {op} y", y=y) is python(x, y)
    assert run(f"x + y {op} y - x", x=x, y=y) is python(x + y, y - x)
    assert run(f"x {op} {y}", x=None) is None


@settings(max_examples=150, deadline=None)
@given(integers, integers, integers)
def test_arithmetic_matches_python(x: int, y: int, z: int) -> None:
    def value(source: str) -> object:
        return run(source, expect=None, x=x, y=y, z=z)

    assert value("x + y * z") == x + y * z
    assert value("(x + y) * z - x") == (x + y) * z - x
    assert value("x - y - z") == x - y - z
    assert value("x - (y - z)") == x - (y - z)
    assert value("-x * y") == -x * y
    assert value("x / y") == (None if y == 0 else x / y)
    assert value(f"x * {z} + {y}") == x * z + y
    assert value("sum(x, y, z)") == x + y + z
    assert value("min(x, y, z)") == min(x, y, z)
    assert value("max(x, y, z)") == max(x, y, z)
    assert value("abs(x - y)") == abs(x - y)


def test_both_evaluators_know_every_function_of_the_language() -> None:
    from recovery_screening.expressions import closures, ranges
    from recovery_screening.expressions.checker import FUNCTIONS

    built_from_the_tree = {"is_missing", "is_known", "all_of", "any_of"}
    assert set(closures.FUNCTIONS) | built_from_the_tree == set(FUNCTIONS)
    assert set(ranges.FUNCTIONS) | {"is_missing", "is_known"} == set(FUNCTIONS)
