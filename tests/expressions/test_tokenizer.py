"""The tokenizer: token kinds, values and columns, and the errors it reports."""

from __future__ import annotations

import pytest

from recovery_screening.expressions import ExpressionError
from recovery_screening.expressions.tokenizer import MAX_SOURCE_LENGTH, Token, tokenize


def kinds(source: str) -> list[str]:
    return [token.kind for token in tokenize(source)]


def problem(source: str) -> tuple[str, int]:
    with pytest.raises(ExpressionError) as caught:
        tokenize(source)
    (first, *_) = caught.value.problems
    return first.code, first.column


def test_operators_keywords_and_names() -> None:
    assert kinds("a.b and not x in [1] or y <= 2.5") == [
        "name", "and", "not", "name", "in", "[", "integer", "]", "or", "name", "<=", "decimal",
        "end",
    ]  # fmt: skip


def test_every_operator() -> None:
    operators = ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "(", ")", "[", "]", ","]
    assert kinds(" ".join(operators))[:-1] == operators


def test_columns_are_one_based_and_end_is_past_the_text() -> None:
    tokens = tokenize("  phq9.total >= 10")
    assert [(token.text, token.column) for token in tokens] == [
        ("phq9.total", 3),
        (">=", 14),
        ("10", 17),
        ("", 19),
    ]


def test_dotted_name_is_one_token() -> None:
    (name, end) = tokenize("urica.stage.band_2")
    assert name == Token("name", "urica.stage.band_2", 1)
    assert end.kind == "end"


def test_keywords_only_when_whole_words() -> None:
    assert kinds("android notes inx or_else") == ["name", "name", "name", "name", "end"]
    assert kinds("not") == ["not", "end"]


def test_literal_values() -> None:
    integer, decimal, double, single, _ = tokenize("""12 2.50 "a b" 'c'""")
    assert (integer.value, decimal.value, double.value, single.value) == (12, 2.5, "a b", "c")


def test_string_escapes_only_quote_and_backslash() -> None:
    (string, _) = tokenize(r'"say \"hi\" \\ done"')
    assert string.value == 'say "hi" \\ done'
    (string, _) = tokenize(r"'it\'s'")
    assert string.value == "it's"
    assert problem(r'"tab\t"') == ("syntax", 5)


def test_unterminated_string_points_at_its_start() -> None:
    assert problem('x == "open') == ("syntax", 6)
    assert problem("x == 'open\\'") == ("syntax", 6)


@pytest.mark.parametrize(
    ("source", "column"),
    [("x = 3", 3), ("x & y", 3), ("!x", 1), ("x ? y", 3), (".5", 1), ("x£", 2), ("a.1", 2)],
)
def test_unexpected_characters(source: str, column: int) -> None:
    assert problem(source) == ("syntax", column)


def test_hints_for_common_mistakes() -> None:
    with pytest.raises(ExpressionError, match="use '==' to compare"):
        tokenize("x = 3")
    with pytest.raises(ExpressionError, match="use 'and'"):
        tokenize("x && y")


@pytest.mark.parametrize("source", ["2.", "2.x", "1e5", "12abc"])
def test_malformed_numbers(source: str) -> None:
    assert problem(source) == ("syntax", 1)


def test_integer_longer_than_18_digits_is_invalid_literal() -> None:
    assert tokenize("9" * 18)[0].value == int("9" * 18)
    assert tokenize("000" + "9" * 18)[0].value == int("9" * 18)
    assert problem("x > " + "1" * 19) == ("invalid-literal", 5)
    assert problem("x > " + "1" * 19 + ".5") == ("invalid-literal", 5)


def test_all_invalid_literals_are_reported_together() -> None:
    with pytest.raises(ExpressionError) as caught:
        tokenize("1" * 20 + " + " + "2" * 20)
    assert [p.column for p in caught.value.problems] == [1, 24]


def test_too_long_source() -> None:
    tokenize("x" * MAX_SOURCE_LENGTH)
    assert problem("x" * (MAX_SOURCE_LENGTH + 1)) == ("too-complex", 1)


def test_non_ascii_digits_are_not_numbers() -> None:
    assert problem("x > ²") == ("syntax", 5)
