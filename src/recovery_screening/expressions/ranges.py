"""Typed syntax tree -> a closure that evaluates it over *sets* of possible values (format v2).

Where the v1 closures see one value per name (None when unknown), these see, for every name, all
the values it can still take over the completions of the missing answers:

- a true/false value is a mask of the truths it can have: TRUE, FALSE and UNDEFINED (a
  comparison with an undefined operand, e.g. a division by zero, is unknown even when every
  answer is given);
- a number is an interval `(low, high, undefined)`: every value it can take lies in
  [low, high], and `undefined` says whether it can also be undefined;
- any other value (choice, text, date) is a frozenset of the values it can take (None in it:
  it can be undefined, as a domain band is when one of its rules is), or ANY (any value).

Every operation over-approximates: the result contains every value the v1 closure computes for
some completion of the operands (interval ends are computed with the same floating-point
operations at the corners, and rounding is monotonic). A condition whose mask is exactly TRUE is
therefore true in every completion: that is how a total known to lie in [24, 27] decides
`total >= 20`. Operands are treated as independent, so a condition that reads one missing answer
twice may stay undecided although it is decided; the exact search in `recovery_screening.exact`
settles those.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from recovery_screening.expressions.closures import MISSING_PREFIX
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

TRUE, FALSE, UNDEFINED = 1, 2, 4
BOTH = TRUE | FALSE
ANY: None = None
"""A non-numeric value that can be anything of its type."""

Interval = tuple[Any, Any, bool]
Env = Mapping[str, Any]
RangeEvaluator = Callable[[Env], Any]

_INF = math.inf
EVERY_NUMBER: Interval = (-_INF, _INF, False)
UNKNOWN_NUMBER: Interval = (-_INF, _INF, True)
SMALL = 64
"""Integer intervals up to this many values are enumerated where that is more precise."""


def truth_mask(value: object) -> int:
    """The mask of a v1 truth value (None: unknown)."""
    if value is True:
        return TRUE
    if value is False:
        return FALSE
    return UNDEFINED


def point(value: object, kind: str) -> Any:
    """The abstract value of one known value of type `kind`."""
    if kind == "boolean":
        return truth_mask(value)
    if kind in ("integer", "number"):
        return (value, value, False)
    return frozenset((value,))


def build_range_evaluator(node: Node) -> RangeEvaluator:
    """The closure computing the possible values of `node` (which passed the type checker)."""
    if isinstance(node, Literal):
        assert node.type is not None
        constant = point(node.value, node.type.kind)
        return lambda env: constant
    if isinstance(node, Name):
        return operator.itemgetter(node.name)
    if isinstance(node, Not):
        inner = build_range_evaluator(node.operand)
        return lambda env: _NOT[inner(env)]
    if isinstance(node, Negate):
        inner = build_range_evaluator(node.operand)

        def negative(env: Env) -> Interval:
            low, high, undefined = inner(env)
            return (-high, -low, undefined)

        return negative
    if isinstance(node, Logical):
        operands = tuple(build_range_evaluator(operand) for operand in node.operands)
        return _all(operands) if node.operator == "and" else _any(operands)
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, Arithmetic):
        return _arithmetic(
            node.operator, build_range_evaluator(node.left), build_range_evaluator(node.right)
        )
    if isinstance(node, Call):
        return _call(node)
    raise TypeError(f"cannot evaluate a {type(node).__name__} node")


_NOT = {mask: (mask & UNDEFINED) | (TRUE if mask & FALSE else 0) | (FALSE if mask & TRUE else 0)
        for mask in range(8)}  # fmt: skip


def _junction(operands: tuple[RangeEvaluator, ...], decisive: int) -> RangeEvaluator:
    """v1's `and` (`decisive` FALSE) or `or` (TRUE): the decisive truth if any operand can have
    it, the other if every operand can, and undefined where every operand can be the other or
    undefined and one can be undefined."""
    other = TRUE if decisive == FALSE else FALSE
    open_ = other | UNDEFINED

    def junction(env: Env) -> int:
        seen = 0  # the truths some operand can have
        common = TRUE | FALSE | UNDEFINED  # the truths every operand can have
        undefined = True  # every operand can be the other truth or undefined
        for operand in operands:
            mask = operand(env)
            if mask == decisive:
                return decisive  # no other truth and no undefined is possible any more
            seen |= mask
            common &= mask
            if not mask & open_:
                undefined = False
        result = seen & decisive
        if common & other:
            result |= other
        if undefined and seen & UNDEFINED:
            result |= UNDEFINED
        return result

    return junction


def _all(operands: tuple[RangeEvaluator, ...]) -> RangeEvaluator:
    """v1's `and`: false if any operand is false, else unknown if any is unknown, else true."""
    return _junction(operands, FALSE)


def _any(operands: tuple[RangeEvaluator, ...]) -> RangeEvaluator:
    """v1's `or`: true if any operand is true, else unknown if any is unknown, else false."""
    return _junction(operands, TRUE)


# -- comparisons -------------------------------------------------------------------------------

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _comparison(node: Comparison) -> RangeEvaluator:
    op: str = node.operator
    left = build_range_evaluator(node.left)
    left_type = node.left.type
    assert left_type is not None
    if op in ("in", "not in"):
        assert isinstance(node.right, ListLiteral)
        values = frozenset(item.value for item in node.right.items)
        return _membership(left, values, op == "in", left_type.kind)
    right = build_range_evaluator(node.right)
    if left_type.kind == "boolean":
        return _boolean_comparison(left, right, op == "==")
    if left_type.is_numeric:
        if isinstance(node.right, Literal) and op in _AGAINST_CONSTANT:
            bound = node.right.value
            if bound == bound:  # a NaN literal takes the general path
                return _AGAINST_CONSTANT[op](left, bound)
        return _numeric_comparison(left, right, op)
    if left_type.kind == "enum" and op not in ("==", "!="):
        positions = {value: index for index, value in enumerate(left_type.values)}
        compare = _OPERATORS[op]
        return _set_comparison(left, right, lambda a, b: compare(positions[a], positions[b]))
    return _set_comparison(left, right, _OPERATORS[op])


def _boolean_comparison(left: RangeEvaluator, right: RangeEvaluator, equal: bool) -> RangeEvaluator:
    def compare(env: Env) -> int:
        a, b = left(env), right(env)
        result = UNDEFINED if (a | b) & UNDEFINED else 0
        outcomes = {x == y for x in (True, False) if a & truth_mask(x)
                    for y in (True, False) if b & truth_mask(y)}  # fmt: skip
        if not equal:
            outcomes = {not outcome for outcome in outcomes}
        for outcome in outcomes:
            result |= TRUE if outcome else FALSE
        return result

    return compare


def _numeric_comparison(left: RangeEvaluator, right: RangeEvaluator, op: str) -> RangeEvaluator:
    def compare(env: Env) -> int:
        a_low, a_high, a_undefined = left(env)
        b_low, b_high, b_undefined = right(env)
        result = UNDEFINED if a_undefined or b_undefined else 0
        if a_low > a_high or b_low > b_high:
            return result
        if op == "<":
            can_true, can_false = a_low < b_high, a_high >= b_low
        elif op == "<=":
            can_true, can_false = a_low <= b_high, a_high > b_low
        elif op == ">":
            can_true, can_false = a_high > b_low, a_low <= b_high
        elif op == ">=":
            can_true, can_false = a_high >= b_low, a_low < b_high
        else:
            overlap = a_low <= b_high and b_low <= a_high
            single = a_low == a_high == b_low == b_high
            can_true, can_false = (overlap, not single) if op == "==" else (not single, overlap)
        return result | (TRUE if can_true else 0) | (FALSE if can_false else 0)

    return compare


def _at_least(left: RangeEvaluator, bound: Any) -> RangeEvaluator:
    def compare(env: Env) -> int:
        low, high, undefined = left(env)
        result = UNDEFINED if undefined else 0
        if low > high:
            return result
        return result | (TRUE if high >= bound else 0) | (FALSE if low < bound else 0)

    return compare


def _above(left: RangeEvaluator, bound: Any) -> RangeEvaluator:
    def compare(env: Env) -> int:
        low, high, undefined = left(env)
        result = UNDEFINED if undefined else 0
        if low > high:
            return result
        return result | (TRUE if high > bound else 0) | (FALSE if low <= bound else 0)

    return compare


def _at_most(left: RangeEvaluator, bound: Any) -> RangeEvaluator:
    def compare(env: Env) -> int:
        low, high, undefined = left(env)
        result = UNDEFINED if undefined else 0
        if low > high:
            return result
        return result | (TRUE if low <= bound else 0) | (FALSE if high > bound else 0)

    return compare


def _below(left: RangeEvaluator, bound: Any) -> RangeEvaluator:
    def compare(env: Env) -> int:
        low, high, undefined = left(env)
        result = UNDEFINED if undefined else 0
        if low > high:
            return result
        return result | (TRUE if low < bound else 0) | (FALSE if high >= bound else 0)

    return compare


_AGAINST_CONSTANT: dict[str, Callable[[RangeEvaluator, Any], RangeEvaluator]] = {
    ">=": _at_least,
    ">": _above,
    "<=": _at_most,
    "<": _below,
}
"""`_numeric_comparison` with a literal on the right (`b_low == b_high == bound`, defined)."""


def _set_comparison(
    left: RangeEvaluator, right: RangeEvaluator, compare: Callable[[Any, Any], Any]
) -> RangeEvaluator:
    def comparison(env: Env) -> int:
        a, b = left(env), right(env)
        if a is ANY or b is ANY:
            return BOTH
        result = 0
        for x in a:
            for y in b:
                if x is None or y is None:
                    result |= UNDEFINED
                else:
                    result |= TRUE if compare(x, y) else FALSE
        return result

    return comparison


def _membership(
    left: RangeEvaluator, values: frozenset[object], inside: bool, kind: str
) -> RangeEvaluator:
    if kind in ("integer", "number"):
        numbers = sorted(v for v in values if isinstance(v, int | float))

        def numeric(env: Env) -> int:
            low, high, undefined = left(env)
            result = UNDEFINED if undefined else 0
            if low > high:
                return result
            can_in = any(low <= v <= high for v in numbers)
            if low == high:
                can_out = low not in values
            elif kind == "integer" and high - low < SMALL:
                can_out = any(v not in values for v in range(int(low), int(high) + 1))
            else:
                can_out = True
            if not inside:
                can_in, can_out = can_out, can_in
            return result | (TRUE if can_in else 0) | (FALSE if can_out else 0)

        return numeric

    def member(env: Env) -> int:
        possible = left(env)
        if possible is ANY:
            return BOTH
        result = 0
        for value in possible:
            if value is None:
                result |= UNDEFINED
            else:
                result |= TRUE if (value in values) is inside else FALSE
        return result

    return member


# -- arithmetic --------------------------------------------------------------------------------


def _corners(
    combine: Callable[[Any, Any], Any], a: Interval, b: Interval
) -> tuple[Any, Any] | None:
    try:
        values = [combine(x, y) for x in (a[0], a[1]) for y in (b[0], b[1])]
    except (OverflowError, ZeroDivisionError):
        return None
    if any(isinstance(v, float) and math.isnan(v) for v in values):
        return None
    return min(values), max(values)


def _arithmetic(op: str, left: RangeEvaluator, right: RangeEvaluator) -> RangeEvaluator:
    combine = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op]

    def arithmetic(env: Env) -> Interval:
        a, b = left(env), right(env)
        undefined = a[2] or b[2]
        if a[0] > a[1] or b[0] > b[1]:
            return (_INF, -_INF, undefined)
        if op == "/":
            if b[0] == b[1] == 0:
                return (_INF, -_INF, True)
            if b[0] <= 0 <= b[1]:
                return UNKNOWN_NUMBER
        bounds = _corners(combine, a, b)
        if bounds is None or not all(math.isfinite(v) for v in bounds):
            return UNKNOWN_NUMBER
        return (bounds[0], bounds[1], undefined)

    return arithmetic


# -- functions ---------------------------------------------------------------------------------


def _call(node: Call) -> RangeEvaluator:
    function = node.function
    if function in ("is_missing", "is_known"):
        argument = node.arguments[0]
        assert isinstance(argument, Name)
        key = MISSING_PREFIX + argument.name
        missing = function == "is_missing"
        return lambda env: TRUE if env.get(key, False) is missing else FALSE
    return FUNCTIONS[function](
        tuple(build_range_evaluator(argument) for argument in node.arguments)
    )


def _abs(only: RangeEvaluator) -> RangeEvaluator:
    def absolute(env: Env) -> Interval:
        low, high, undefined = only(env)
        if low > high:
            return (low, high, undefined)
        if low >= 0:
            return (low, high, undefined)
        if high <= 0:
            return (-high, -low, undefined)
        return (0 * low, max(-low, high), undefined)

    return absolute


def _extreme(arguments: tuple[RangeEvaluator, ...], *, smallest: bool) -> RangeEvaluator:
    def extreme(env: Env) -> Interval:
        values = [argument(env) for argument in arguments]
        undefined = any(value[2] for value in values)
        if any(value[0] > value[1] for value in values):
            return (_INF, -_INF, undefined)
        pick = min if smallest else max
        return (pick(v[0] for v in values), pick(v[1] for v in values), undefined)

    return extreme


def _count_true(arguments: tuple[RangeEvaluator, ...]) -> RangeEvaluator:
    def count_true(env: Env) -> Interval:
        masks = [argument(env) for argument in arguments]
        undefined = any(mask & UNDEFINED for mask in masks)
        low = sum(1 for mask in masks if mask == TRUE)
        high = sum(1 for mask in masks if mask & TRUE)
        if not all(mask & BOTH for mask in masks):
            return (_INF, -_INF, undefined)
        return (low, high, undefined)

    return count_true


def _sum(arguments: tuple[RangeEvaluator, ...]) -> RangeEvaluator:
    def total(env: Env) -> Interval:
        low: Any = 0
        high: Any = 0
        undefined = False
        for argument in arguments:
            a_low, a_high, a_undefined = argument(env)
            undefined = undefined or a_undefined
            if a_low > a_high:
                return (_INF, -_INF, undefined)
            low += a_low
            high += a_high
        if not (math.isfinite(low) and math.isfinite(high)):
            return UNKNOWN_NUMBER
        return (low, high, undefined)

    return total


def _days_between(earlier: RangeEvaluator, later: RangeEvaluator) -> RangeEvaluator:
    def days_between(env: Env) -> Interval:
        start, end = earlier(env), later(env)
        if start is ANY or end is ANY:
            return EVERY_NUMBER
        days = [(b - a).days for a in start if a is not None for b in end if b is not None]
        undefined = None in start or None in end
        if not days:
            return (_INF, -_INF, undefined)
        return (min(days), max(days), undefined)

    return days_between


FUNCTIONS: dict[str, Callable[[tuple[RangeEvaluator, ...]], RangeEvaluator]] = {
    "all_of": _all,
    "any_of": _any,
    "count_true": _count_true,
    "sum": _sum,
    "min": lambda arguments: _extreme(arguments, smallest=True),
    "max": lambda arguments: _extreme(arguments, smallest=False),
    "abs": lambda arguments: _abs(*arguments),
    "days_between": lambda arguments: _days_between(*arguments),
}
"""The range evaluation of each function of the language but is_missing / is_known (which read
the answers as given): its arguments' evaluators to its own."""

__all__ = [
    "ANY",
    "BOTH",
    "FALSE",
    "MISSING_PREFIX",
    "TRUE",
    "UNDEFINED",
    "build_range_evaluator",
    "point",
    "truth_mask",
]
