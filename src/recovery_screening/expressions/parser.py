"""Tokens -> syntax tree, by precedence climbing (Pratt). Nesting is capped so that no input
can exhaust the Python stack; a `date("...")` literal is validated here."""

from __future__ import annotations

import datetime
from typing import NoReturn

from recovery_screening.expressions.nodes import (
    Arithmetic,
    ArithmeticOperator,
    Call,
    Comparison,
    ComparisonOperator,
    ListLiteral,
    Literal,
    Logical,
    LogicalOperator,
    Name,
    Negate,
    Node,
    Not,
)
from recovery_screening.expressions.problems import ExpressionError, ExpressionProblem
from recovery_screening.expressions.tokenizer import Token, scan
from recovery_screening.expressions.value_types import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    ValueType,
)

MAX_NESTING = 64

_OR, _AND, _NOT, _COMPARISON, _SUM, _PRODUCT, _UNARY = 1, 2, 3, 4, 5, 6, 7
_COMPARISON_OPERATORS: dict[str, ComparisonOperator] = {
    "==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "in": "in",
}  # fmt: skip
_ARITHMETIC_OPERATORS: dict[str, ArithmeticOperator] = {"+": "+", "-": "-", "*": "*", "/": "/"}
_ARITHMETIC_POWER: dict[str, int] = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT}
_LITERAL_TYPES: dict[str, ValueType] = {"integer": INTEGER, "decimal": NUMBER, "string": STRING}


def parse_expression(source: str) -> Node:
    """Parse `source` into an untyped syntax tree; raises ExpressionError on any syntax error,
    invalid literal or excessive nesting."""
    return _Parser(source).parse()


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[ExpressionProblem] = []
        self.tokens = scan(source, self.problems)
        self.position = 0
        self.nesting = 0

    def parse(self) -> Node:
        if self.tokens[0].kind == "end":
            self._fail("the expression is empty", 1)
        node, _ = self._expression(0)
        token = self._peek()
        if token.kind != "end":
            self._fail(f"unexpected {_show(token)}; expected an operator or the end", token.column)
        if self.problems:
            raise ExpressionError(self.problems, self.source)
        return node

    # -- token helpers -------------------------------------------------------------------

    def _peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.position + ahead, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        token = self.tokens[self.position]
        if token.kind != "end":
            self.position += 1
        return token

    def _expect(self, kind: str, message: str) -> Token:
        token = self._peek()
        if token.kind != kind:
            self._fail(f"{message}, found {_show(token)}", token.column)
        return self._advance()

    def _fail(self, message: str, column: int, code: str = "syntax") -> NoReturn:
        problem = ExpressionProblem(code, message, column)
        raise ExpressionError([*self.problems, problem], self.source)

    # -- expressions -----------------------------------------------------------------------
    # Each method returns the node and its depth (levels of sub-expressions below and
    # including it), so deep left-leaning chains such as a+a+a+... are capped as well.

    def _expression(self, min_power: int) -> tuple[Node, int]:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            self._too_deep(self._peek().column)
        left, depth = self._prefix(min_power)
        while True:
            token = self._peek()
            kind = token.kind
            if kind == "or" and min_power <= _OR:
                left, depth = self._logical("or", left, depth, _AND)
            elif kind == "and" and min_power <= _AND:
                left, depth = self._logical("and", left, depth, _NOT)
            elif (
                kind in _COMPARISON_OPERATORS or (kind == "not" and self._peek(1).kind == "in")
            ) and min_power <= _COMPARISON:
                left, depth = self._comparison(left, depth)
            elif kind in _ARITHMETIC_POWER and min_power <= _ARITHMETIC_POWER[kind]:
                self._advance()
                right, right_depth = self._expression(_ARITHMETIC_POWER[kind] + 1)
                operator = _ARITHMETIC_OPERATORS[kind]
                left = Arithmetic(operator, left, right, column=token.column)
                depth = self._deeper(depth, right_depth, token.column)
            else:
                break
        self.nesting -= 1
        return left, depth

    def _logical(
        self, operator: LogicalOperator, first: Node, depth: int, operand_power: int
    ) -> tuple[Node, int]:
        column = self._peek().column
        operands = [first]
        while self._peek().kind == operator:
            self._advance()
            operand, operand_depth = self._expression(operand_power)
            operands.append(operand)
            depth = max(depth, operand_depth)
        return Logical(operator, tuple(operands), column=column), self._deeper(depth, 0, column)

    def _comparison(self, left: Node, depth: int) -> tuple[Node, int]:
        token = self._advance()
        operator: ComparisonOperator = "not in"
        if token.kind == "not":
            self._advance()
        else:
            operator = _COMPARISON_OPERATORS[token.kind]
        right, right_depth = self._expression(_COMPARISON + 1)
        following = self._peek()
        if following.kind in _COMPARISON_OPERATORS or (
            following.kind == "not" and self._peek(1).kind == "in"
        ):
            self._fail(
                f"comparisons cannot be chained: {token.text} at column {token.column} is "
                f"followed by {following.text}; join them with 'and', e.g. a < b and b < c",
                following.column,
            )
        node = Comparison(operator, left, right, column=token.column)
        return node, self._deeper(depth, right_depth, token.column)

    def _prefix(self, min_power: int) -> tuple[Node, int]:
        token = self._peek()
        kind = token.kind
        if kind in _LITERAL_TYPES:
            self._advance()
            return Literal(_value(token), column=token.column, type=_LITERAL_TYPES[kind]), 1
        if kind in ("true", "false"):
            self._advance()
            return Literal(kind == "true", column=token.column, type=BOOLEAN), 1
        if kind == "name":
            if self._peek(1).kind == "(":
                return self._call()
            self._advance()
            return Name(token.text, column=token.column), 1
        if kind == "(":
            self._advance()
            inner, depth = self._expression(0)
            self._expect(")", f"missing ')' to close the '(' at column {token.column}")
            return inner, depth
        if kind == "[":
            return self._list(), 2
        if kind == "-":
            self._advance()
            if self._peek().kind in ("integer", "decimal"):
                return self._negative_number(token), 1
            operand, depth = self._expression(_UNARY)
            return Negate(operand, column=token.column), self._deeper(depth, 0, token.column)
        if kind == "not":
            if min_power > _NOT:
                self._fail(
                    "'not' binds more loosely than comparisons and arithmetic; put "
                    "parentheses around 'not ...' here",
                    token.column,
                )
            self._advance()
            operand, depth = self._expression(_NOT)
            return Not(operand, column=token.column), self._deeper(depth, 0, token.column)
        if kind == "end":
            self._fail(
                "the expression ends too early; a value, a name or '(' should follow",
                token.column,
            )
        self._fail(f"expected a value, a name or '(', found {_show(token)}", token.column)

    def _negative_number(self, minus: Token) -> Literal:
        number = self._advance()
        value = _value(number)
        assert isinstance(value, (int, float))
        return Literal(-value, column=minus.column, type=_LITERAL_TYPES[number.kind])

    def _call(self) -> tuple[Node, int]:
        name = self._advance()
        opening = self._advance()
        if name.text == "date":
            return self._date_literal(name), 1
        arguments: list[Node] = []
        depth = 0
        if self._peek().kind != ")":
            while True:
                argument, argument_depth = self._expression(0)
                arguments.append(argument)
                depth = max(depth, argument_depth)
                if self._peek().kind != ",":
                    break
                self._advance()
        self._expect(
            ")", f"missing ')' to close the '(' of {name.text}() at column {opening.column}"
        )
        node = Call(name.text, tuple(arguments), column=name.column)
        return node, self._deeper(depth, 0, name.column)

    def _date_literal(self, name: Token) -> Literal:
        text = self._peek()
        if text.kind != "string" or self._peek(1).kind != ")":
            self._fail(
                'date(...) takes one quoted ISO date and nothing else, e.g. date("2025-01-31")',
                text.column,
            )
        self._advance()
        self._advance()
        value = _iso_date(str(text.value))
        if value is None:
            value = datetime.date.min
            self.problems.append(
                ExpressionProblem(
                    "invalid-literal",
                    f'{text.text} is not a calendar date in ISO form YYYY-MM-DD, e.g. "2025-01-31"',
                    text.column,
                )
            )
        return Literal(value, column=name.column, type=DATE)

    def _list(self) -> ListLiteral:
        opening = self._advance()
        items: list[Literal] = []
        while self._peek().kind != "]":
            items.append(self._list_item())
            if self._peek().kind != ",":
                break
            self._advance()
        self._expect("]", f"expected ',' or ']' in the list starting at column {opening.column}")
        return ListLiteral(tuple(items), column=opening.column)

    def _list_item(self) -> Literal:
        token = self._peek()
        kind = token.kind
        if kind in _LITERAL_TYPES:
            self._advance()
            return Literal(_value(token), column=token.column, type=_LITERAL_TYPES[kind])
        if kind in ("true", "false"):
            self._advance()
            return Literal(kind == "true", column=token.column, type=BOOLEAN)
        if kind == "-" and self._peek(1).kind in ("integer", "decimal"):
            self._advance()
            return self._negative_number(token)
        if kind == "name" and token.text == "date" and self._peek(1).kind == "(":
            self._advance()
            self._advance()
            return self._date_literal(token)
        self._fail(
            "list items must be literal values: numbers, quoted text, true/false or "
            'date("YYYY-MM-DD")',
            token.column,
        )

    def _deeper(self, depth: int, other: int, column: int) -> int:
        deeper = max(depth, other) + 1
        if deeper > MAX_NESTING:
            self._too_deep(column)
        return deeper

    def _too_deep(self, column: int) -> None:
        self._fail(
            f"the expression nests more than {MAX_NESTING} levels deep; split it into several "
            "rules, or use sum(), all_of() or any_of() instead of long chains",
            column,
            "too-complex",
        )


def _iso_date(text: str) -> datetime.date | None:
    """The date written as exactly YYYY-MM-DD, or None."""
    digits = text[:4] + text[5:7] + text[8:]
    if len(text) != 10 or text[4] != "-" or text[7] != "-" or not digits.isascii():
        return None
    if not digits.isdigit():
        return None
    try:
        return datetime.date(int(text[:4]), int(text[5:7]), int(text[8:]))
    except ValueError:
        return None


def _value(token: Token) -> int | float | str:
    assert token.value is not None
    return token.value


def _show(token: Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    return f"'{token.text}'"
