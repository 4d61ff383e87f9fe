"""The type checker: every problem code, several problems at once, and result types."""

from __future__ import annotations

import pytest

from recovery_screening.expressions import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    Comparison,
    ExpressionError,
    ValueType,
    compile_expression,
    enum_type,
)

WITHDRAWAL = enum_type(["none", "mild", "moderate", "severe"], ordered=True)
SYMBOLS: dict[str, ValueType] = {
    "phq9.total": INTEGER,
    "phq9.item9": INTEGER,
    "weight": NUMBER,
    "housed": BOOLEAN,
    "consent": BOOLEAN,
    "name": STRING,
    "intake": DATE,
    "discharge": DATE,
    "withdrawal": WITHDRAWAL,
    "withdrawal.last": WITHDRAWAL,
    "motivation.band": enum_type(["low", "medium", "high"]),
    "referral": enum_type(["self", "court"]),
}


def problems(source: str, expect: ValueType | None = BOOLEAN) -> list[tuple[str, int]]:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, SYMBOLS, expect=expect)
    return [(problem.code, problem.column) for problem in caught.value.problems]


def messages(source: str) -> list[str]:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, SYMBOLS)
    return [problem.message for problem in caught.value.problems]


def result_type(source: str) -> ValueType:
    return compile_expression(source, SYMBOLS, expect=None).type


@pytest.mark.parametrize(
    "source",
    [
        "phq9.total >= 10 and weight < 80.5",
        "phq9.total == weight",
        "housed == true and not consent",
        'name == "x" or name != name',
        'intake < discharge and intake >= date("2024-01-01")',
        'withdrawal >= "moderate" and "mild" < withdrawal',
        "withdrawal == withdrawal.last and withdrawal <= withdrawal.last",
        'motivation.band == "low" and motivation.band != "high"',
        'motivation.band in ["low", "medium"] and referral not in ["court"]',
        'withdrawal in ["none"] and phq9.total in [1, 2.5] and name in ["a"]',
        'intake in [date("2024-01-01")] and housed in [true]',
        "is_missing(weight) or is_known(withdrawal)",
        "any_of(housed, consent) and all_of(housed)",
        "count_true(housed, consent, weight > 2) >= 1",
        "sum(phq9.total, weight) > max(1, 2) + min(weight) - abs(-phq9.item9)",
        'days_between(intake, date("2025-01-31")) <= 30',
        "phq9.total / 2 > 1 and -weight < 0",
        "1 == 1 and true",
        "phq9.total in []",
    ],
)
def test_well_typed_conditions(source: str) -> None:
    assert compile_expression(source, SYMBOLS).type == BOOLEAN


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("phq9.total + 1", INTEGER),
        ("phq9.total * phq9.item9 - 3", INTEGER),
        ("phq9.total + 1.5", NUMBER),
        ("phq9.total / 1", NUMBER),
        ("sum(phq9.total, 1)", INTEGER),
        ("max(phq9.total, weight)", NUMBER),
        ("abs(phq9.total)", INTEGER),
        ("-weight", NUMBER),
        ("count_true(housed)", INTEGER),
        ("days_between(intake, discharge)", INTEGER),
        ("withdrawal", WITHDRAWAL),
        ('date("2025-01-01")', DATE),
        ("name", STRING),
    ],
)
def test_result_types(source: str, expected: ValueType) -> None:
    assert result_type(source) == expected


def test_expect() -> None:
    assert compile_expression("phq9.total", SYMBOLS, expect=NUMBER).type == INTEGER
    assert compile_expression("withdrawal", SYMBOLS, expect=WITHDRAWAL).type == WITHDRAWAL
    assert problems("weight", expect=INTEGER) == [("type-mismatch", 1)]
    assert problems("  phq9.total + 1") == [("type-mismatch", 3)]
    assert "must give true/false, but it gives a whole number" in messages("phq9.total")[0]


def test_the_typed_tree_has_every_type_set() -> None:
    compiled = compile_expression("withdrawal >= 'mild' and phq9.total + 1 > 2", SYMBOLS)
    pending = [compiled.ast]
    while pending:
        node = pending.pop()
        assert node.type is not None, node
        pending.extend(node.children())


def test_unknown_input_suggests_close_names() -> None:
    assert problems("phq9.totl > 3") == [("unknown-input", 1)]
    (message,) = messages("phq9.totl > 3")
    assert "'phq9.totl'" in message
    assert "did you mean 'phq9.total'" in message
    (message,) = messages("zzz")
    assert "'zzz' is not an input this ruleset declares" in message
    assert problems("is_missing(wieght)") == [("unknown-input", 12)]
    assert "did you mean 'weight'" in messages("is_missing(wieght)")[0]


def test_unknown_function() -> None:
    assert problems("summ(weight) > 1") == [("unknown-function", 1)]
    assert "did you mean sum()" in messages("summ(weight) > 1")[0]
    assert "is an input" in messages("weight(1) > 2")[0]
    assert problems("lower(name) == 'a' and nosuch > 1") == [
        ("unknown-function", 1),
        ("unknown-input", 24),
    ]


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("abs(weight, weight) > 1", 1),
        ("abs() > 1", 1),
        ("any_of()", 1),
        ("all_of()", 1),
        ("count_true() > 1", 1),
        ("sum() > 1", 1),
        ("days_between(intake) > 1", 1),
        ("is_missing()", 1),
        ("housed and is_known(weight, name)", 12),
    ],
)
def test_arity(source: str, column: int) -> None:
    assert problems(source) == [("arity", column)]


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ("not weight", 5),
        ("housed and weight", 12),
        ("weight or housed", 1),
        ("-housed > 1", 2),
        ("name + 1 > 2", 1),
        ("weight > name", 8),
        ("housed == 1", 8),
        ("intake == 3", 8),
        ("intake + 1 > intake", 1),
        ("housed < consent", 8),
        ('name < "b"', 6),
        ('"a" < "b"', 5),
        ("withdrawal == name", 12),
        ("withdrawal == 1", 12),
        ("withdrawal == motivation.band", 12),
        ('motivation.band < "high"', 1),
        ('"low" < motivation.band', 9),
        ("withdrawal < motivation.band", 14),
        ("phq9.total in [1, 'a']", 19),
        ("name in [1]", 10),
        ("withdrawal in [1]", 16),
        ("phq9.total in weight", 15),
        ("[1, 2] == phq9.total", 1),
        ("is_missing(weight + 1)", 12),
        ("any_of(housed, weight)", 16),
        ("sum(housed) > 1", 5),
        ("days_between(intake, 3) > 1", 22),
        ("(housed in [true]) in [1]", 24),
    ],
)
def test_type_mismatch(source: str, column: int) -> None:
    assert problems(source) == [("type-mismatch", column)]


def test_unordered_enum_message_says_how_to_fix() -> None:
    (message,) = messages('motivation.band >= "medium"')
    assert "'motivation.band' is a choice without one; declare it ordered" in message


@pytest.mark.parametrize(
    ("source", "column"),
    [
        ('withdrawal == "sevre"', 15),
        ('"sevre" != withdrawal', 1),
        ('withdrawal >= "sevre"', 15),
        ('withdrawal in ["mild", "sevre"]', 24),
        ('motivation.band not in ["lo"]', 25),
    ],
)
def test_unknown_value(source: str, column: int) -> None:
    assert problems(source) == [("unknown-value", column)]


def test_unknown_value_lists_the_allowed_values() -> None:
    (message,) = messages('withdrawal == "sevre"')
    assert message == (
        "\"sevre\" is not a value of 'withdrawal'; the allowed values are none, mild, "
        "moderate, severe"
    )


def test_division_by_literal_zero() -> None:
    assert problems("weight / 0 > 1") == [("division-by-zero", 10)]
    assert problems("weight / 0.0 > 1") == [("division-by-zero", 10)]
    assert problems("weight / -0 > 1") == [("division-by-zero", 10)]
    compile_expression("weight / (1 - 1) > 1", SYMBOLS)


def test_too_complex_and_invalid_literal_come_through_compile() -> None:
    assert problems("(" * 70 + "housed" + ")" * 70) == [("too-complex", 65)]
    assert problems("weight > " + "1" * 19) == [("invalid-literal", 10)]
    assert problems('intake > date("2025-02-29")') == [("invalid-literal", 15)]


def test_every_problem_is_reported_in_one_pass() -> None:
    source = (
        'withdrawal >= "sevre" and name + 1 > 2 and foo(weight) and phq9.totl > 1 '
        "and abs() > 1 and weight / 0 > 1 and motivation.band < 'high' and not weight"
    )
    assert problems(source) == [
        ("unknown-value", 15),
        ("type-mismatch", 27),
        ("unknown-function", 44),
        ("unknown-input", 60),
        ("arity", 78),
        ("division-by-zero", 101),
        ("type-mismatch", 111),
        ("type-mismatch", 144),
    ]


def test_a_broken_operand_does_not_cascade() -> None:
    assert problems("nosuch + 1 > 2 and not nosuch") == [
        ("unknown-input", 1),
        ("unknown-input", 24),
    ]


def test_messages_name_symbols_and_never_say_got() -> None:
    text = " ".join(messages("weight > name and housed + 1 > 2"))
    assert "'weight'" in text
    assert "'name'" in text
    assert "'housed'" in text
    assert "got" not in text


def test_comparison_nodes_keep_their_operand_types() -> None:
    compiled = compile_expression('withdrawal >= "mild"', SYMBOLS)
    assert isinstance(compiled.ast, Comparison)
    assert compiled.ast.left.type == WITHDRAWAL
    assert compiled.ast.right.type == STRING
