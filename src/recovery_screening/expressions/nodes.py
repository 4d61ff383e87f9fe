"""The syntax tree. The parser leaves `type` unset except on literals; the type checker
returns a copy with `type` set on every node. `column` is the 1-based column of the token
that defines the node: the literal, the name, the operator or the function name."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal as TypingLiteral

from recovery_screening.expressions.value_types import ValueType

LiteralValue = bool | int | float | str | datetime.date
ComparisonOperator = TypingLiteral["==", "!=", "<", "<=", ">", ">=", "in", "not in"]
ArithmeticOperator = TypingLiteral["+", "-", "*", "/"]
LogicalOperator = TypingLiteral["and", "or"]


@dataclass(frozen=True)
class Node:
    """Base of every node."""

    column: int = field(kw_only=True)
    type: ValueType | None = field(default=None, kw_only=True, compare=False)

    def children(self) -> Iterator[Node]:
        """The direct sub-expressions, left to right."""
        return iter(())


@dataclass(frozen=True)
class Literal(Node):
    """A boolean, integer, decimal, string or date literal; its `type` is known from parsing."""

    value: LiteralValue


@dataclass(frozen=True)
class ListLiteral(Node):
    """`[item, ...]` of literals, only on the right of `in` / `not in`."""

    items: tuple[Literal, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.items)


@dataclass(frozen=True)
class Name(Node):
    """A declared input, looked up whole: `phq9.total` is one name."""

    name: str


@dataclass(frozen=True)
class Not(Node):
    """`not operand`."""

    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True)
class Negate(Node):
    """`-operand` (a minus in front of a number literal is folded into the literal)."""

    operand: Node

    def children(self) -> Iterator[Node]:
        yield self.operand


@dataclass(frozen=True)
class Logical(Node):
    """`a and b and ...` or `a or b or ...`: a chain of one operator, two or more operands."""

    operator: LogicalOperator
    operands: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.operands)


@dataclass(frozen=True)
class Comparison(Node):
    """`left OP right` for ==, !=, <, <=, >, >=, in and not in."""

    operator: ComparisonOperator
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True)
class Arithmetic(Node):
    """`left OP right` for +, -, * and /."""

    operator: ArithmeticOperator
    left: Node
    right: Node

    def children(self) -> Iterator[Node]:
        yield self.left
        yield self.right


@dataclass(frozen=True)
class Call(Node):
    """`function(argument, ...)`."""

    function: str
    arguments: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        return iter(self.arguments)


def start_column(node: Node) -> int:
    """The column where the source text of `node` begins (its leftmost token)."""
    while True:
        if isinstance(node, (Comparison, Arithmetic)):
            node = node.left
        elif isinstance(node, Logical):
            node = node.operands[0]
        else:
            return node.column
