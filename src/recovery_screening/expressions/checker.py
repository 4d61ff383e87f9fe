"""Syntax tree + declared inputs -> typed syntax tree, reporting every type problem found."""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Callable, Mapping
from dataclasses import replace

from recovery_screening.expressions.nodes import (
    Arithmetic,
    Call,
    Comparison,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Negate,
    Node,
    Not,
    start_column,
)
from recovery_screening.expressions.operators import ORDERING
from recovery_screening.expressions.problems import ExpressionError, ExpressionProblem
from recovery_screening.expressions.value_types import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    ValueType,
    accepts,
)

FUNCTIONS: tuple[str, ...] = (
    "is_missing",
    "is_known",
    "any_of",
    "all_of",
    "count_true",
    "sum",
    "min",
    "max",
    "abs",
    "days_between",
)


def check_types(
    root: Node,
    symbols: Mapping[str, ValueType],
    expect: ValueType | None,
    source: str | None = None,
) -> tuple[Node, frozenset[str]]:
    """Type `root` against the declared `symbols`; return the typed tree and every name it
    reads. Raises ExpressionError listing every problem found."""
    checker = _Checker(symbols)
    typed = checker.check(root)
    result = typed.type
    if expect is not None and result is not None and not accepts(expect, result):
        hint = ""
        if expect == BOOLEAN:
            hint = "; compare it with something, e.g. phq9.total >= 10"
        checker.report(
            "type-mismatch",
            f"the expression must give {expect.describe()}, but it gives {result.describe()}{hint}",
            start_column(root),
        )
    if checker.problems:
        raise ExpressionError(checker.problems, source)
    return typed, frozenset(checker.references)


class _Checker:
    def __init__(self, symbols: Mapping[str, ValueType]) -> None:
        self.symbols = symbols
        self.problems: list[ExpressionProblem] = []
        self.references: set[str] = set()
        self._rules: dict[type[Node], Callable[[Node], Node]] = {
            Literal: lambda node: node,
            ListLiteral: self._stray_list,
            Name: self._name,
            Not: self._not,
            Negate: self._negate,
            Logical: self._logical,
            Arithmetic: self._arithmetic,
            Comparison: self._comparison,
            Call: self._call,
        }

    def report(self, code: str, message: str, column: int) -> None:
        self.problems.append(ExpressionProblem(code, message, column))

    def check(self, node: Node) -> Node:
        """`node` with its type set, or with type None when a problem was reported in it."""
        return self._rules[type(node)](node)

    def _expect(self, node: Node, wanted: str, accept: Callable[[ValueType], bool]) -> bool:
        """Whether `node` (already typed) is acceptable; reports a mismatch if it is not."""
        if node.type is None:
            return False
        if accept(node.type):
            return True
        self.report(
            "type-mismatch",
            f"{wanted}, but {describe(node)} is {node.type.describe()}",
            start_column(node),
        )
        return False

    # -- leaves ------------------------------------------------------------------------------

    def _stray_list(self, node: Node) -> Node:
        self.report(
            "type-mismatch",
            "a list [...] may only stand on the right of 'in' or 'not in'",
            node.column,
        )
        return node

    def _name(self, node: Node) -> Node:
        assert isinstance(node, Name)
        declared = self.symbols.get(node.name)
        if declared is None:
            self._unknown_input(node)
            return node
        self.references.add(node.name)
        return replace(node, type=declared)

    def _unknown_input(self, node: Name) -> None:
        close = difflib.get_close_matches(node.name, list(self.symbols), n=3, cutoff=0.6)
        if close:
            hint = "did you mean " + " or ".join(f"'{name}'" for name in close) + "?"
        elif node.name in FUNCTIONS:
            hint = f"to call the function write {node.name}(...)"
        else:
            hint = "declare it among the ruleset's inputs or fix the spelling"
        self.report(
            "unknown-input",
            f"'{node.name}' is not an input this ruleset declares; {hint}",
            node.column,
        )

    # -- operators ---------------------------------------------------------------------------

    def _not(self, node: Node) -> Node:
        assert isinstance(node, Not)
        operand = self.check(node.operand)
        ok = self._expect(operand, "'not' needs a true/false condition", _is_boolean)
        return replace(node, operand=operand, type=BOOLEAN if ok else None)

    def _negate(self, node: Node) -> Node:
        assert isinstance(node, Negate)
        operand = self.check(node.operand)
        ok = self._expect(operand, "'-' needs a number", _is_numeric)
        return replace(node, operand=operand, type=operand.type if ok else None)

    def _logical(self, node: Node) -> Node:
        assert isinstance(node, Logical)
        operands = tuple(self.check(operand) for operand in node.operands)
        wanted = f"'{node.operator}' joins true/false conditions"
        ok = [self._expect(operand, wanted, _is_boolean) for operand in operands]
        return replace(node, operands=operands, type=BOOLEAN if all(ok) else None)

    def _arithmetic(self, node: Node) -> Node:
        assert isinstance(node, Arithmetic)
        left, right = self.check(node.left), self.check(node.right)
        wanted = f"'{node.operator}' needs numbers on both sides"
        if any(side.type is not None and side.type.kind == "date" for side in (left, right)):
            wanted += " (use days_between(earlier, later) for dates)"
        ok = [self._expect(side, wanted, _is_numeric) for side in (left, right)]
        if node.operator == "/" and _is_literal_zero(right):
            self.report(
                "division-by-zero",
                "this divides by a literal zero, which is never defined; remove the division",
                right.column,
            )
        result: ValueType | None = None
        if all(ok):
            both_integer = left.type == INTEGER and right.type == INTEGER
            result = INTEGER if both_integer and node.operator != "/" else NUMBER
        return replace(node, left=left, right=right, type=result)

    def _comparison(self, node: Node) -> Node:
        assert isinstance(node, Comparison)
        left = self.check(node.left)
        if node.operator in ("in", "not in"):
            return self._membership(node, left)
        right = self.check(node.right)
        typed = replace(node, left=left, right=right)
        if left.type is None or right.type is None:
            return typed
        if node.operator in ORDERING:
            ok = self._ordering(typed, left, right)
        else:
            ok = self._equality(typed, left, right)
        return replace(typed, type=BOOLEAN if ok else None)

    def _equality(self, node: Comparison, left: Node, right: Node) -> bool:
        assert left.type is not None and right.type is not None
        if left.type.is_numeric and right.type.is_numeric:
            return True
        if left.type.kind == "enum" or right.type.kind == "enum":
            return self._enum_comparison(node, left, right)
        if left.type.kind == right.type.kind and left.type.kind in ("boolean", "string", "date"):
            return True
        return self._mismatch(node, left, right, "")

    def _ordering(self, node: Comparison, left: Node, right: Node) -> bool:
        assert left.type is not None and right.type is not None
        if (left.type.is_numeric and right.type.is_numeric) or (
            left.type.kind == right.type.kind == "date"
        ):
            return True
        for side in (left, right):
            if side.type is not None and side.type.kind == "enum" and not side.type.ordered:
                self.report(
                    "type-mismatch",
                    f"'{node.operator}' needs an order, but {describe(side)} is a choice "
                    "without one; declare it ordered, or use == or 'in'",
                    start_column(side),
                )
                return False
        if left.type.kind == "enum" or right.type.kind == "enum":
            return self._enum_comparison(node, left, right)
        return self._mismatch(
            node, left, right, "; only numbers, dates and ordered choices can be ordered"
        )

    def _enum_comparison(self, node: Comparison, left: Node, right: Node) -> bool:
        """Compare an enum with a string literal that is one of its values, or with an enum
        of the same values."""
        left_is_enum = left.type is not None and left.type.kind == "enum"
        enum_side, other = (left, right) if left_is_enum else (right, left)
        enum = enum_side.type
        assert enum is not None and other.type is not None
        if isinstance(other, Literal) and isinstance(other.value, str):
            return self._allowed_value(enum_side, other)
        if other.type.kind == "enum" and other.type.values == enum.values:
            return True
        example = enum.values[0] if enum.values else "value"
        return self._mismatch(
            node,
            left,
            right,
            f"; compare {describe(enum_side)} with one of its values in quotes, "
            f'e.g. {describe(enum_side)} {node.operator} "{example}"',
        )

    def _allowed_value(self, enum_side: Node, literal: Literal) -> bool:
        assert enum_side.type is not None
        if literal.value in enum_side.type.values:
            return True
        self.report(
            "unknown-value",
            f"{describe(literal)} is not a value of {describe(enum_side)}; the allowed values "
            f"are {', '.join(enum_side.type.values)}",
            literal.column,
        )
        return False

    def _mismatch(self, node: Comparison, left: Node, right: Node, hint: str) -> bool:
        assert left.type is not None and right.type is not None
        self.report(
            "type-mismatch",
            f"'{node.operator}' cannot compare {describe(left)}, which is "
            f"{left.type.describe()}, with {describe(right)}, which is "
            f"{right.type.describe()}{hint}",
            node.column,
        )
        return False

    def _membership(self, node: Comparison, left: Node) -> Node:
        if not isinstance(node.right, ListLiteral):
            right = self.check(node.right)
            self.report(
                "type-mismatch",
                f"the right side of '{node.operator}' must be a list of values in brackets, "
                'e.g. ["moderate", "severe"]',
                start_column(node.right),
            )
            return replace(node, left=left, right=right)
        items = node.right.items
        if left.type is None:
            return replace(node, left=left)
        if left.type.kind == "list":
            self._expect(left, f"'{node.operator}' needs a single value on its left", _never)
            return replace(node, left=left)
        ok = True
        for item in items:
            if left.type.kind == "enum" and isinstance(item.value, str):
                ok = self._allowed_value(left, item) and ok
            elif not _same_kind(left.type, item.type):
                ok = False
                assert item.type is not None
                self.report(
                    "type-mismatch",
                    f"every item of the list must be {_item_kind(left.type)} like "
                    f"{describe(left)}, but {describe(item)} is {item.type.describe()}",
                    item.column,
                )
        if not ok:
            return replace(node, left=left)
        element = left.type
        if left.type.is_numeric:
            integers = all(item.type == INTEGER for item in items)
            element = INTEGER if integers else NUMBER
        right = replace(node.right, type=ValueType("list", element=element))
        return replace(node, left=left, right=right, type=BOOLEAN)

    # -- functions ---------------------------------------------------------------------------

    def _call(self, node: Node) -> Node:
        assert isinstance(node, Call)
        function = node.function
        if function in ("is_missing", "is_known"):
            return self._missing_test(node)
        arguments = tuple(self.check(argument) for argument in node.arguments)
        typed = replace(node, arguments=arguments)
        if function not in FUNCTIONS:
            self._unknown_function(node)
            return typed
        if function in ("abs", "days_between"):
            arity_ok = self._arity(node, exactly=1 if function == "abs" else 2)
        else:
            arity_ok = self._arity(node, at_least=1)
        if function in ("any_of", "all_of", "count_true"):
            wanted, accept = f"{function}() takes true/false conditions", _is_boolean
        elif function == "days_between":
            wanted, accept = "days_between() takes two dates", _is_date
        else:
            wanted, accept = f"{function}() takes numbers", _is_numeric
        ok = [self._expect(argument, wanted, accept) for argument in arguments]
        if not (arity_ok and all(ok)):
            return typed
        result: ValueType
        if function in ("any_of", "all_of"):
            result = BOOLEAN
        elif function in ("count_true", "days_between") or all(
            argument.type == INTEGER for argument in arguments
        ):
            result = INTEGER
        else:
            result = NUMBER
        return replace(typed, type=result)

    def _missing_test(self, node: Call) -> Node:
        if not self._arity(node, exactly=1):
            arguments = tuple(self.check(argument) for argument in node.arguments)
            return replace(node, arguments=arguments)
        argument = node.arguments[0]
        if not isinstance(argument, Name):
            self.check(argument)
            self.report(
                "type-mismatch",
                f"{node.function}() takes the name of an input, e.g. "
                f"{node.function}(phq9.total), not an expression",
                start_column(argument),
            )
            return node
        typed_argument = self._name(argument)
        if typed_argument.type is None:
            return node
        return replace(node, arguments=(typed_argument,), type=BOOLEAN)

    def _arity(self, node: Call, *, exactly: int | None = None, at_least: int = 0) -> bool:
        count = len(node.arguments)
        if exactly is not None and count != exactly:
            wanted = {1: "exactly one argument", 2: "exactly two arguments"}[exactly]
        elif count < at_least:
            wanted = "at least one argument"
        else:
            return True
        self.report(
            "arity",
            f"{node.function}() takes {wanted}, but is given {count}",
            node.column,
        )
        return False

    def _unknown_function(self, node: Call) -> None:
        close = difflib.get_close_matches(node.function, FUNCTIONS, n=2, cutoff=0.6)
        if node.function in self.symbols:
            hint = f"'{node.function}' is an input; remove the parentheses after it"
        elif close:
            hint = "did you mean " + " or ".join(f"{name}()" for name in close) + "?"
        else:
            hint = "the functions are " + ", ".join(f"{name}()" for name in FUNCTIONS)
        self.report(
            "unknown-function",
            f"{node.function}() is not a function of the expression language; {hint}",
            node.column,
        )


def describe(node: Node) -> str:
    """How a message names a sub-expression: its name or literal text, never a runtime value."""
    if isinstance(node, Name):
        return f"'{node.name}'"
    if isinstance(node, Call):
        return f"{node.function}(...)"
    if isinstance(node, Literal):
        value = node.value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(value, datetime.date):
            return f'date("{value.isoformat()}")'
        return repr(value)
    if isinstance(node, ListLiteral):
        return "the list"
    return f"the expression at column {start_column(node)}"


def _is_boolean(value_type: ValueType) -> bool:
    return value_type.kind == "boolean"


def _is_numeric(value_type: ValueType) -> bool:
    return value_type.is_numeric


def _is_date(value_type: ValueType) -> bool:
    return value_type.kind == "date"


def _never(value_type: ValueType) -> bool:
    return False


def _item_kind(left: ValueType) -> str:
    return "a number" if left.is_numeric else left.describe()


def _same_kind(left: ValueType, item: ValueType | None) -> bool:
    if item is None:
        return False
    if left.is_numeric:
        return item.is_numeric
    return left.kind == item.kind


def _is_literal_zero(node: Node) -> bool:
    return (
        isinstance(node, Literal)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and node.value == 0
    )
