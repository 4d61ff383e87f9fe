"""Typed syntax tree -> one Python closure that evaluates it with three-valued logic.

Every node becomes a closure over precomputed constants; the common shapes (an input compared
with a literal, an input in a literal list, is_missing(input), chains of and/or) each become a
single closure. Evaluation reads only `facts`: True, False and None (unknown) are the truth
values, and any comparison or arithmetic with an unknown operand is unknown."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

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
from recovery_screening.expressions.operators import (
    COMPARATORS,
    enum_positions,
    enum_values_satisfying,
)
from recovery_screening.expressions.value_types import ValueType

Facts = Mapping[str, Any]
Evaluator = Callable[[Facts], Any]


def build_evaluator(node: Node) -> Evaluator:
    """The closure computing `node`, which must have passed the type checker."""
    if isinstance(node, Literal):
        return _constant(node.value)
    if isinstance(node, Name):
        return operator.itemgetter(node.name)
    if isinstance(node, Not):
        return _not(node.operand)
    if isinstance(node, Negate):
        return _negate(build_evaluator(node.operand))
    if isinstance(node, Logical):
        return _logical(node.operator, node)
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, Arithmetic):
        return _arithmetic(node.operator, build_evaluator(node.left), build_evaluator(node.right))
    if isinstance(node, Call):
        return _call(node)
    raise TypeError(f"cannot evaluate a {type(node).__name__} node")


def _constant(value: object) -> Evaluator:
    def constant(facts: Facts) -> object:
        return value

    return constant


# -- logic -------------------------------------------------------------------------------------


def _not(operand: Node) -> Evaluator:
    if isinstance(operand, Name):
        return _not_input(operand.name)
    inner = build_evaluator(operand)

    def negation(facts: Facts) -> bool | None:
        value = inner(facts)
        return None if value is None else not value

    return negation


def _not_input(name: str) -> Evaluator:
    def not_input(facts: Facts) -> bool | None:
        value = facts[name]
        return None if value is None else not value

    return not_input


def _flatten(operator_name: str, node: Node) -> list[Node]:
    """The operands of a chain of `and` (or `or`), looking through nested chains, parentheses
    and all_of() (any_of()) calls."""
    function = "all_of" if operator_name == "and" else "any_of"
    if isinstance(node, Logical) and node.operator == operator_name:
        operands: tuple[Node, ...] = node.operands
    elif isinstance(node, Call) and node.function == function:
        operands = node.arguments
    else:
        return [node]
    return [leaf for operand in operands for leaf in _flatten(operator_name, operand)]


def _logical(operator_name: str, node: Node) -> Evaluator:
    conditions = tuple(build_evaluator(leaf) for leaf in _flatten(operator_name, node))
    if len(conditions) == 1:
        return conditions[0]
    if operator_name == "and":
        return _and2(*conditions) if len(conditions) == 2 else _all(conditions)
    return _or2(*conditions) if len(conditions) == 2 else _any(conditions)


def _and2(first: Evaluator, second: Evaluator) -> Evaluator:
    def both(facts: Facts) -> bool | None:
        a = first(facts)
        if a is False:
            return False
        b = second(facts)
        if b is False:
            return False
        if a is None or b is None:
            return None
        return True

    return both


def _or2(first: Evaluator, second: Evaluator) -> Evaluator:
    def either(facts: Facts) -> bool | None:
        a = first(facts)
        if a is True:
            return True
        b = second(facts)
        if b is True:
            return True
        if a is None or b is None:
            return None
        return False

    return either


def _all(conditions: tuple[Evaluator, ...]) -> Evaluator:
    def every(facts: Facts) -> bool | None:
        unknown = False
        for condition in conditions:
            value = condition(facts)
            if value is False:
                return False
            if value is None:
                unknown = True
        return None if unknown else True

    return every


def _any(conditions: tuple[Evaluator, ...]) -> Evaluator:
    def some(facts: Facts) -> bool | None:
        unknown = False
        for condition in conditions:
            value = condition(facts)
            if value is True:
                return True
            if value is None:
                unknown = True
        return None if unknown else False

    return some


# -- comparisons -------------------------------------------------------------------------------


def _comparison(node: Comparison) -> Evaluator:
    left, right = node.left, node.right
    op: str = node.operator
    if op in ("in", "not in"):
        assert isinstance(right, ListLiteral)
        return _membership(left, frozenset(item.value for item in right.items), op == "in")
    left_type, right_type = left.type, right.type
    mirrored = COMPARATORS[op].mirrored
    if mirrored is not None and isinstance(left, Literal) and isinstance(right, Name):
        left, right, op = right, left, mirrored
        left_type, right_type = right_type, left_type
    enum = left_type if left_type is not None and left_type.kind == "enum" else None
    if enum is not None and COMPARATORS[op].ordering:
        if isinstance(left, Name) and isinstance(right, Literal):
            allowed = frozenset(enum_values_satisfying(enum, op, right.value))
            return _membership(left, allowed, True)
        return _enum_ordering(enum, build_evaluator(left), build_evaluator(right), op)
    if isinstance(left, Name) and isinstance(right, Literal):
        return _input_versus_literal(left.name, op, right.value, left_type)
    if isinstance(left, Name) and isinstance(right, Name):
        return _input_versus_input(left.name, op, right.name)
    return _compare(build_evaluator(left), build_evaluator(right), COMPARATORS[op].holds)


def _membership(left: Node, values: frozenset[object], inside: bool) -> Evaluator:
    if isinstance(left, Name):
        name = left.name
        if inside:

            def input_in(facts: Facts) -> bool | None:
                value = facts[name]
                return None if value is None else value in values

            return input_in

        def input_not_in(facts: Facts) -> bool | None:
            value = facts[name]
            return None if value is None else value not in values

        return input_not_in
    evaluate = build_evaluator(left)

    def member(facts: Facts) -> bool | None:
        value = evaluate(facts)
        if value is None:
            return None
        return (value in values) is inside

    return member


def _enum_ordering(enum: ValueType, left: Evaluator, right: Evaluator, op: str) -> Evaluator:
    positions = enum_positions(enum)
    compare = COMPARATORS[op].holds

    def ordered(facts: Facts) -> bool | None:
        a = positions.get(left(facts))
        b = positions.get(right(facts))
        if a is None or b is None:
            return None
        return bool(compare(a, b))

    return ordered


def _input_versus_literal(
    name: str, op: str, literal: object, input_type: ValueType | None
) -> Evaluator:
    if input_type is not None and input_type.kind == "boolean" and op in ("==", "!="):
        if (op == "==") is (literal is True):
            return operator.itemgetter(name)
        return _not_input(name)
    return _INPUT_VERSUS_LITERAL[op](name, literal)


# One specialised closure per operator: the hot path makes no call beyond the comparison.


def _equal(name: str, value: Any) -> Evaluator:
    def equal(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer == value

    return equal


def _not_equal(name: str, value: Any) -> Evaluator:
    def not_equal(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer != value

    return not_equal


def _less(name: str, value: Any) -> Evaluator:
    def less(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer < value

    return less


def _at_most(name: str, value: Any) -> Evaluator:
    def at_most(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer <= value

    return at_most


def _greater(name: str, value: Any) -> Evaluator:
    def greater(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer > value

    return greater


def _at_least(name: str, value: Any) -> Evaluator:
    def at_least(facts: Facts) -> bool | None:
        answer = facts[name]
        return None if answer is None else answer >= value

    return at_least


_INPUT_VERSUS_LITERAL: dict[str, Callable[[str, Any], Evaluator]] = {
    "==": _equal,
    "!=": _not_equal,
    "<": _less,
    "<=": _at_most,
    ">": _greater,
    ">=": _at_least,
}


def _input_versus_input(left: str, op: str, right: str) -> Evaluator:
    compare = COMPARATORS[op].holds

    def inputs(facts: Facts) -> bool | None:
        a = facts[left]
        b = facts[right]
        if a is None or b is None:
            return None
        return bool(compare(a, b))

    return inputs


def _compare(left: Evaluator, right: Evaluator, compare: Callable[[Any, Any], Any]) -> Evaluator:
    def comparison(facts: Facts) -> bool | None:
        a = left(facts)
        if a is None:
            return None
        b = right(facts)
        if b is None:
            return None
        return bool(compare(a, b))

    return comparison


# -- arithmetic --------------------------------------------------------------------------------


def _negate(operand: Evaluator) -> Evaluator:
    def negative(facts: Facts) -> Any:
        value = operand(facts)
        return None if value is None else -value

    return negative


def _arithmetic(op: str, left: Evaluator, right: Evaluator) -> Evaluator:
    if op == "/":

        def divide(facts: Facts) -> Any:
            a = left(facts)
            if a is None:
                return None
            b = right(facts)
            if b is None or b == 0:
                return None
            try:
                return a / b
            except OverflowError:
                return None

        return divide
    combine = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

    def arithmetic(facts: Facts) -> Any:
        a = left(facts)
        if a is None:
            return None
        b = right(facts)
        if b is None:
            return None
        return combine(a, b)

    return arithmetic


# -- functions ---------------------------------------------------------------------------------


def _call(node: Call) -> Evaluator:
    function = node.function
    if function in ("is_missing", "is_known"):
        argument = node.arguments[0]
        assert isinstance(argument, Name)
        return _missing_test(argument.name, function == "is_missing")
    if function in ("all_of", "any_of"):
        return _logical("and" if function == "all_of" else "or", node)
    return FUNCTIONS[function](tuple(build_evaluator(argument) for argument in node.arguments))


def _abs(only: Evaluator) -> Evaluator:
    def absolute(facts: Facts) -> Any:
        value = only(facts)
        return None if value is None else abs(value)

    return absolute


def _extreme(arguments: tuple[Evaluator, ...], combine: Callable[[list[Any]], Any]) -> Evaluator:
    def extreme(facts: Facts) -> Any:
        values = [argument(facts) for argument in arguments]
        return None if None in values else combine(values)

    return extreme


MISSING_PREFIX = "?"
"""Exact evaluation (format v2) fills missing answers in to try completions; it then sets
`facts["?name"]` to whether `name` was unknown on the answers as given, which is what
is_missing / is_known test. v1 facts never hold such keys."""


def _missing_test(name: str, missing: bool) -> Evaluator:
    key = MISSING_PREFIX + name

    def is_missing(facts: Facts) -> bool:
        observed = facts.get(key)
        unknown = facts[name] is None if observed is None else bool(observed)
        return unknown is missing

    return is_missing


def _count_true(arguments: tuple[Evaluator, ...]) -> Evaluator:
    def count_true(facts: Facts) -> int | None:
        count = 0
        for argument in arguments:
            value = argument(facts)
            if value is None:
                return None
            if value:
                count += 1
        return count

    return count_true


def _sum(arguments: tuple[Evaluator, ...]) -> Evaluator:
    def total(facts: Facts) -> Any:
        result: Any = 0
        for argument in arguments:
            value = argument(facts)
            if value is None:
                return None
            result += value
        return result

    return total


def _days_between(earlier: Evaluator, later: Evaluator) -> Evaluator:
    def days_between(facts: Facts) -> int | None:
        start = earlier(facts)
        end = later(facts)
        if start is None or end is None:
            return None
        days: int = (end - start).days
        return days

    return days_between


FUNCTIONS: dict[str, Callable[[tuple[Evaluator, ...]], Evaluator]] = {
    "count_true": _count_true,
    "sum": _sum,
    "min": lambda arguments: _extreme(arguments, min),
    "max": lambda arguments: _extreme(arguments, max),
    "abs": lambda arguments: _abs(*arguments),
    "days_between": lambda arguments: _days_between(*arguments),
}
"""The evaluation of each function of the language but is_missing / is_known and all_of /
any_of (built from the syntax tree, above): its arguments' evaluators to its own."""
