"""Source text -> tokens. Hand-written; every token records its 1-based column."""

from __future__ import annotations

from dataclasses import dataclass

from recovery_screening.expressions.problems import ExpressionError, ExpressionProblem

MAX_SOURCE_LENGTH = 4000
MAX_INTEGER_DIGITS = 18

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
_TWO_CHAR_OPERATORS = frozenset({"==", "!=", "<=", ">="})
_ONE_CHAR_OPERATORS = frozenset("<>+-*/()[],")
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_PART = _NAME_START | _DIGITS
_WHITESPACE = frozenset(" \t\r\n")
_HINTS = {
    "=": "use '==' to compare",
    "!": "use 'not' to negate and '!=' for 'not equal'",
    "&": "use 'and'",
    "|": "use 'or'",
    ".": "names may contain dots between parts, e.g. phq9.total; decimals need a leading digit",
}


@dataclass(frozen=True)
class Token:
    """One token. `kind` is "name", "integer", "decimal", "string", "end", a keyword or an
    operator's own text; `value` holds the literal for integers, decimals and strings."""

    kind: str
    text: str
    column: int
    value: int | float | str | None = None


def syntax_problem(message: str, column: int) -> ExpressionProblem:
    """A `syntax` problem at `column`."""
    return ExpressionProblem("syntax", message, column)


def tokenize(source: str) -> list[Token]:
    """Split `source` into tokens ending with an "end" token; raises ExpressionError."""
    problems: list[ExpressionProblem] = []
    tokens = scan(source, problems)
    if problems:
        raise ExpressionError(problems, source)
    return tokens


def scan(source: str, problems: list[ExpressionProblem]) -> list[Token]:
    """Tokenize `source`. Raises ExpressionError on the first character that cannot start a
    token; appends `invalid-literal` problems to `problems` and carries on past them."""
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            [
                ExpressionProblem(
                    "too-complex",
                    f"the expression is {len(source)} characters long, over the limit of "
                    f"{MAX_SOURCE_LENGTH}; split it into several rules",
                    1,
                )
            ],
            source,
        )
    tokens: list[Token] = []
    position = 0
    length = len(source)
    while position < length:
        char = source[position]
        column = position + 1
        if char in _WHITESPACE:
            position += 1
        elif char in _NAME_START:
            end = _name_end(source, position)
            text = source[position:end]
            tokens.append(Token(text if text in KEYWORDS else "name", text, column))
            position = end
        elif char in _DIGITS:
            end = _number_end(source, position)
            tokens.append(_number(source[position:end], column, problems))
            position = end
        elif char in "\"'":
            end = _string_end(source, position)
            tokens.append(_string(source[position:end], column))
            position = end
        elif source[position : position + 2] in _TWO_CHAR_OPERATORS:
            operator = source[position : position + 2]
            tokens.append(Token(operator, operator, column))
            position += 2
        elif char in _ONE_CHAR_OPERATORS:
            tokens.append(Token(char, char, column))
            position += 1
        else:
            hint = _HINTS.get(char, "it is not part of the expression language")
            raise ExpressionError(
                [syntax_problem(f"unexpected character {char!r}; {hint}", column)], source
            )
    tokens.append(Token("end", "", length + 1))
    return tokens


def _name_end(source: str, start: int) -> int:
    """End of the (possibly dotted) name starting at `start`."""
    position = start + 1
    length = len(source)
    while True:
        while position < length and source[position] in _NAME_PART:
            position += 1
        if (
            position + 1 < length
            and source[position] == "."
            and source[position + 1] in _NAME_START
        ):
            position += 2
            continue
        return position


def _number_end(source: str, start: int) -> int:
    """End of the integer or decimal starting at `start`; rejects `2.`, `2e5` and `2x`."""
    position = start
    length = len(source)
    while position < length and source[position] in _DIGITS:
        position += 1
    if position < length and source[position] == ".":
        if position + 1 >= length or source[position + 1] not in _DIGITS:
            raise ExpressionError(
                [syntax_problem("a decimal point must be followed by digits, e.g. 2.5", start + 1)],
                source,
            )
        position += 1
        while position < length and source[position] in _DIGITS:
            position += 1
    if position < length and source[position] in _NAME_PART:
        raise ExpressionError(
            [
                syntax_problem(
                    "a number runs straight into a letter; write plain digits such as 12 or "
                    "2.5 and separate names with spaces",
                    start + 1,
                )
            ],
            source,
        )
    return position


def _number(text: str, column: int, problems: list[ExpressionProblem]) -> Token:
    """An integer or decimal token; too many whole digits is an `invalid-literal` problem."""
    whole, _, fraction = text.partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS:
        problems.append(
            ExpressionProblem(
                "invalid-literal",
                f"this number has more than {MAX_INTEGER_DIGITS} digits before the decimal "
                "point; no screening score needs that many",
                column,
            )
        )
        return Token("decimal" if fraction else "integer", text, column, 0)
    if fraction:
        return Token("decimal", text, column, float(text))
    return Token("integer", text, column, int(text))


def _string_end(source: str, start: int) -> int:
    """End (just past the closing quote) of the string literal starting at `start`."""
    quote = source[start]
    position = start + 1
    length = len(source)
    while position < length:
        char = source[position]
        if char == quote:
            return position + 1
        if char == "\\":
            following = source[position + 1 : position + 2]
            if following not in (quote, "\\"):
                raise ExpressionError(
                    [
                        syntax_problem(
                            f"only \\{quote} and \\\\ may follow a backslash in a string",
                            position + 1,
                        )
                    ],
                    source,
                )
            position += 2
        else:
            position += 1
    raise ExpressionError(
        [syntax_problem(f"the string starting here has no closing {quote}", start + 1)], source
    )


def _string(text: str, column: int) -> Token:
    """A string token; `text` includes both quotes and has only valid escapes."""
    characters: list[str] = []
    position = 1
    last = len(text) - 1
    while position < last:
        if text[position] == "\\":
            position += 1
        characters.append(text[position])
        position += 1
    return Token("string", text, column, "".join(characters))
