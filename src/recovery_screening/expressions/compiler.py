"""The whole pipeline in one call: source -> parse -> type check -> compiled closure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from recovery_screening.expressions.checker import check_types
from recovery_screening.expressions.closures import build_evaluator
from recovery_screening.expressions.nodes import Name, Node
from recovery_screening.expressions.parser import parse_expression
from recovery_screening.expressions.value_types import BOOLEAN, ValueType


@dataclass(frozen=True)
class CompiledExpression:
    """A checked expression ready to run: `evaluate(facts)` maps every referenced input name
    to its value (None when the answer is missing) and returns the result, None if unknown."""

    source: str
    ast: Node
    type: ValueType
    references: frozenset[str]
    evaluate: Callable[[Mapping[str, object]], object]
    bound: Node | None = None
    """The tree `evaluate` was built from: `ast` with `bind` applied (names are facts keys)."""


def compile_expression(
    source: str,
    symbols: Mapping[str, ValueType],
    *,
    expect: ValueType | None = BOOLEAN,
    bind: Mapping[str, str] | None = None,
) -> CompiledExpression:
    """Parse `source`, check it against the declared input types `symbols` and, unless
    `expect` is None, that it gives a value of type `expect` (a whole number will do where a
    number is expected). Raises ExpressionError listing every problem found.

    `bind` maps a name as written in the expression to the key its value has in the facts
    (e.g. `q9` -> `phq9.q9`); `references` and `evaluate` then use the keys, while problems and
    `ast` keep the names as written."""
    tree = parse_expression(source)
    typed, references = check_types(tree, symbols, expect, source)
    if typed.type is None:
        raise AssertionError("the type checker passed an expression without a type")
    evaluated = typed
    if bind:
        references = frozenset(bind.get(name, name) for name in references)
        evaluated = _bound(typed, bind)
    return CompiledExpression(
        source=source,
        ast=typed,
        type=typed.type,
        references=references,
        evaluate=build_evaluator(evaluated),
        bound=evaluated,
    )


def _bound(node: Node, keys: Mapping[str, str]) -> Node:
    """`node` with every input name replaced by its key in the facts."""
    if isinstance(node, Name):
        return replace(node, name=keys.get(node.name, node.name))
    changes: dict[str, Any] = {}
    for field in fields(node):
        value = getattr(node, field.name)
        if isinstance(value, Node):
            changes[field.name] = _bound(value, keys)
        elif isinstance(value, tuple) and all(isinstance(item, Node) for item in value):
            changes[field.name] = tuple(_bound(item, keys) for item in value)
    return replace(node, **changes)
