"""The condition language of rulesets: tokenizer, parser, typed syntax tree, type checker and
a compiler to closures that evaluate with three-valued (true / false / unknown) logic."""

from recovery_screening.expressions.compiler import CompiledExpression, compile_expression
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
)
from recovery_screening.expressions.parser import parse_expression
from recovery_screening.expressions.problems import ExpressionError, ExpressionProblem
from recovery_screening.expressions.value_types import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    ValueType,
    enum_type,
)

__all__ = [
    "BOOLEAN",
    "DATE",
    "INTEGER",
    "NUMBER",
    "STRING",
    "Arithmetic",
    "Call",
    "Comparison",
    "CompiledExpression",
    "ExpressionError",
    "ExpressionProblem",
    "ListLiteral",
    "Literal",
    "Logical",
    "Name",
    "Negate",
    "Node",
    "Not",
    "ValueType",
    "compile_expression",
    "enum_type",
    "parse_expression",
]
