"""The parser: precedence, shapes of the tree, columns, syntax errors and nesting limits."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening.expressions import (
    Arithmetic,
    Call,
    Comparison,
    ExpressionError,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    parse_expression,
)


def show(node: Node) -> str:
    """The tree as a fully parenthesised prefix form, to state precedence plainly."""
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Literal):
        return repr(node.value)
    if isinstance(node, ListLiteral):
        return "[" + " ".join(show(item) for item in node.items) + "]"
    if isinstance(node, Not):
        return f"(not {show(node.operand)})"
    if isinstance(node, Negate):
        return f"(- {show(node.operand)})"
    if isinstance(node, Logical):
        return f"({node.operator} " + " ".join(show(o) for o in node.operands) + ")"
    if isinstance(node, (Comparison, Arithmetic)):
        return f"({node.operator} {show(node.left)} {show(node.right)})"
    assert isinstance(node, Call)
    return f"({node.function}" + "".join(" " + show(a) for a in node.arguments) + ")"


def parsed(source: str) -> str:
    return show(parse_expression(source))


def problems(source: str) -> list[tuple[str, int]]:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(source)
    return [(problem.code, problem.column) for problem in caught.value.problems]


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c", "(or (and a b) c)"),
        ("a or b or c", "(or a b c)"),
        ("a and b and c and d", "(and a b c d)"),
        ("(a and b) and c", "(and (and a b) c)"),
        ("not a and b", "(and (not a) b)"),
        ("not a or not b", "(or (not a) (not b))"),
        ("not not a", "(not (not a))"),
        ("not x == 1", "(not (== x 1))"),
        ("not (a or b)", "(not (or a b))"),
        ("x + 1 > y * 2", "(> (+ x 1) (* y 2))"),
        ("x - y - z", "(- (- x y) z)"),
        ("x - (y - z)", "(- x (- y z))"),
        ("x / y / z", "(/ (/ x y) z)"),
        ("x + y * z", "(+ x (* y z))"),
        ("(x + y) * z", "(* (+ x y) z)"),
        ("-x * y", "(* (- x) y)"),
        ("- -x", "(- (- x))"),
        ("x in [1, 2]", "(in x [1 2])"),
        ("x not in ['a']", "(not in x ['a'])"),
        ("x + 1 in [2, 3] and b", "(and (in (+ x 1) [2 3]) b)"),
        ("not x in [1]", "(not (in x [1]))"),
        ("a == b or c != d", "(or (== a b) (!= c d))"),
        ("sum(a, b * 2) >= 3", "(>= (sum a (* b 2)) 3)"),
        ("is_missing(phq9.total)", "(is_missing phq9.total)"),
        ("any_of(a, all_of(b, c))", "(any_of a (all_of b c))"),
        ("f()", "(f)"),
        ("x in []", "(in x [])"),
        ("x in [1, 2,]", "(in x [1 2])"),
        ("true and false", "(and True False)"),
    ],
)
def test_precedence_and_shape(source: str, tree: str) -> None:
    assert parsed(source) == tree


def test_negative_number_literals_are_folded() -> None:
    node = parse_expression("x > -3")
    assert isinstance(node, Comparison)
    assert node.right == Literal(-3, column=5)
    assert parsed("x in [-1, -2.5]") == "(in x [-1 -2.5])"


def test_date_literal() -> None:
    node = parse_expression('d < date("2025-01-31")')
    assert isinstance(node, Comparison)
    assert node.right == Literal(datetime.date(2025, 1, 31), column=5)
    assert parsed('d in [date("2025-01-31")]') == "(in d [datetime.date(2025, 1, 31)])"


def test_date_is_an_ordinary_name_without_parentheses() -> None:
    assert parsed("date == 1") == "(== date 1)"


@pytest.mark.parametrize(
    "source",
    ['date("2025-02-30")', 'date("2025-1-31")', 'date("20250131")', 'date("2025-01-31T00")'],
)
def test_bad_date_literals(source: str) -> None:
    assert problems(source) == [("invalid-literal", 6)]


@pytest.mark.parametrize("source", ["date(2025)", "date(x)", 'date("2025-01-01", 1)', "date()"])
def test_date_takes_exactly_one_string_literal(source: str) -> None:
    assert problems(source) == [("syntax", 6)]


def test_literal_problems_are_collected_before_a_syntax_error() -> None:
    assert problems('date("2025-13-01") > d and x > ' + "9" * 19 + " )") == [
        ("invalid-literal", 6),
        ("invalid-literal", 32),
        ("syntax", 52),
    ]


def test_columns_of_nodes() -> None:
    node = parse_expression("a  and  x >= 3")
    assert isinstance(node, Logical)
    assert node.column == 4
    comparison = node.operands[1]
    assert isinstance(comparison, Comparison)
    assert (comparison.column, comparison.left.column, comparison.right.column) == (11, 9, 14)


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("", 1),
        ("   ", 1),
        ("x >", 4),
        ("(x > 1", 7),
        ("x > 1)", 6),
        ("a b", 3),
        ("a and", 6),
        ("and a", 1),
        ("x == not y", 6),
        ("x + not y", 5),
        ("a not b", 3),
        ("f(a b)", 5),
        ("f(a,)", 5),
        ("[1, 2", 6),
        ("x in [y]", 7),
        ("x in [1 + 2]", 9),
        ("x in [[1]]", 7),
        ("x in [f(1)]", 7),
    ],
)
def test_syntax_errors_report_the_column(source: str, column: int) -> None:
    assert problems(source) == [("syntax", column)]


@pytest.mark.parametrize(
    ("source", "column"),
    [("a < b < c", 7), ("a == b != c", 8), ("a < b in [1]", 7), ("a in [1] not in [2]", 10)],
)
def test_comparisons_do_not_chain(source: str, column: int) -> None:
    assert problems(source) == [("syntax", column)]
    with pytest.raises(ExpressionError, match="join them with 'and'"):
        parse_expression(source)


def test_parenthesised_comparison_may_be_compared_syntactically() -> None:
    assert parsed("(a < b) == c") == "(== (< a b) c)"


def test_error_message_lists_problems_and_quotes_the_source() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression("x >")
    assert str(caught.value).splitlines() == [
        "expression 'x >' is invalid (1 problem):",
        "  column 4: the expression ends too early; a value, a name or '(' should follow [syntax]",
    ]


# -- nesting limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "(" * 10_000 + "x" + ")" * 10_000,
        "(" * 1_999 + "x" + ")" * 1_999,
        "(" * 3_999,
        "not " * 999 + "x",
        "-" * 3_999 + "x",
        "a+" * 1_999 + "a",
        "a*b-" * 999 + "a",
        "f(" * 1_999 + ")" * 1_999,
        "x in " + "[" * 3_994,
        "a or (" * 666 + "a" + ")" * 666,
    ],
)
def test_deep_nesting_is_too_complex_not_a_crash(source: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        parse_expression(source)
    assert caught.value.problems[0].code in ("too-complex", "syntax")
    if not source.startswith("x in"):
        assert caught.value.problems[0].code == "too-complex"


def test_nesting_up_to_the_limit_is_fine() -> None:
    parse_expression("(" * 63 + "x" + ")" * 63)
    parse_expression("x" + " + x" * 63)
    assert problems("(" * 64 + "x" + ")" * 64) == [("too-complex", 65)]
    assert problems("x" + " + x" * 64)[0][0] == "too-complex"


def test_long_flat_chains_of_and_or_are_not_deep() -> None:
    node = parse_expression(" and ".join(["a"] * 500))
    assert isinstance(node, Logical)
    assert len(node.operands) == 500


# -- robustness ------------------------------------------------------------------------------

_PIECES = [
    *"()[],'\"=<>!+-*/.  0123456789_",
    "and ", "or ", "not ", "in ", "true", "false", "x", "phq9.total", "date(", "sum(",
    '"2025-01-31"', "\\", "\n",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_raises_only_expression_error(source: str) -> None:
    try:
        parse_expression(source)
    except ExpressionError as error:
        assert error.problems
        assert all(1 <= problem.column <= len(source) + 1 for problem in error.problems)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=40).map("".join))
def test_language_like_text_raises_only_expression_error(source: str) -> None:
    try:
        parse_expression(source)
    except ExpressionError as error:
        assert error.problems
        assert all(1 <= problem.column <= len(source) + 1 for problem in error.problems)
