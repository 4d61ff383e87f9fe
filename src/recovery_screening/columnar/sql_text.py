"""The SQL text the columnar queries are written in: identifiers, literals, Kleene-logic terms,
expressions of the condition language, bands, domain score ranges and instrument points.

Both `sql` (the query) and `exact_sql` (format v2's range evaluation) write with these; neither
is imported here, so the two stay one-way."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from recovery_screening.compiler import Domain
from recovery_screening.expressions import (
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
from recovery_screening.fields import BandTable
from recovery_screening.instruments import CompiledInstrument

EXACT_LIMIT = 2**53
"""Numbers the SQL computes must stay below this magnitude, where doubles and integers agree
with Python's exact arithmetic."""

SQL_TYPES = {
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "number": "DOUBLE",
    "enum": "VARCHAR",
    "string": "VARCHAR",
    "date": "DATE",
}


class Uncompilable(Exception):
    """A part of the ruleset the SQL cannot reproduce exactly; the message says which."""


def quote(name: str) -> str:
    """A double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def string_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def literal(value: object) -> str:
    """An SQL literal for a value of the expression language (or a fact)."""
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if value is None:
        return "NULL"
    if isinstance(value, int):
        if abs(value) >= EXACT_LIMIT:
            raise Uncompilable("an integer literal beyond 2**53")
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Uncompilable("a non-finite number")
        return f"CAST({value!r} AS DOUBLE)"
    if isinstance(value, str):
        return string_literal(value)
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return f"DATE '{isoformat()}'"
    raise Uncompilable(f"a literal of type {type(value).__name__}")


def _least(terms: Sequence[str]) -> str:
    return terms[0] if len(terms) == 1 else f"LEAST({', '.join(terms)})"


def _greatest(terms: Sequence[str]) -> str:
    return terms[0] if len(terms) == 1 else f"GREATEST({', '.join(terms)})"


def _any(terms: Iterable[str]) -> str:
    listed = list(terms)
    return "(" + " OR ".join(listed) + ")" if listed else "FALSE"


def _all(terms: Iterable[str]) -> str:
    listed = list(terms)
    return "(" + " AND ".join(listed) + ")" if listed else "TRUE"


def _is_true(sql: str) -> str:
    return f"COALESCE({sql}, FALSE)"


def _not_false(sql: str) -> str:
    return f"COALESCE({sql}, TRUE)"


def _list(items: Sequence[str]) -> str:
    """The non-NULL items, in order, as an array."""
    if not items:
        items = ["CAST(NULL AS VARCHAR)"]
    return f"LIST_FILTER([{', '.join(items)}], lambda x: x IS NOT NULL)"


def _band_case(bands: BandTable, score: str) -> str:
    whens = " ".join(
        f"WHEN {score} BETWEEN {band.minimum} AND {band.maximum} THEN {string_literal(band.name)}"
        for band in bands.bands
    )
    return f"CASE {whens} END"


# --- conditions ------------------------------------------------------------------------------


@dataclass
class ExpressionWriter:
    """Writes one typed expression tree as SQL; `names` maps a fact name to its SQL. Where
    `given` is set, is_missing / is_known test those columns instead: a completion of the
    missing answers (format v2) still tests the answers as given."""

    names: Mapping[str, str]
    bounds: Mapping[str, float]
    given: Mapping[str, str] | None = None

    def write(self, node: Node) -> str:
        return self._write(node)

    def _write(self, node: Node) -> str:
        if isinstance(node, Literal):
            return literal(node.value)
        if isinstance(node, Name):
            return self.names[node.name]
        if isinstance(node, Not):
            return f"(NOT {self._write(node.operand)})"
        if isinstance(node, Negate):
            self._bound(node)
            return f"(- {self._write(node.operand)})"
        if isinstance(node, Logical):
            joiner = " AND " if node.operator == "and" else " OR "
            return "(" + joiner.join(self._write(operand) for operand in node.operands) + ")"
        if isinstance(node, Comparison):
            return self._comparison(node)
        if isinstance(node, Arithmetic):
            self._bound(node)
            left, right = self._write(node.left), self._write(node.right)
            if node.operator == "/":
                return (
                    f"(CASE WHEN {right} = 0 THEN NULL "
                    f"ELSE CAST({left} AS DOUBLE) / CAST({right} AS DOUBLE) END)"
                )
            return f"({left} {node.operator} {right})"
        if isinstance(node, Call):
            return self._call(node)
        raise Uncompilable(f"a {type(node).__name__} expression")

    def _comparison(self, node: Comparison) -> str:
        left, right, op = node.left, node.right, node.operator
        if op in ("in", "not in"):
            assert isinstance(right, ListLiteral)
            items = ", ".join(literal(item.value) for item in right.items)
            keyword = "IN" if op == "in" else "NOT IN"
            return f"({self._write(left)} {keyword} ({items}))"
        mirrored = COMPARATORS[op].mirrored
        if mirrored is not None and isinstance(left, Literal) and isinstance(right, Name):
            left, right, op = right, left, mirrored
        enum = left.type if left.type is not None and left.type.kind == "enum" else None
        if enum is not None and COMPARATORS[op].ordering:
            if isinstance(right, Literal):
                allowed = enum_values_satisfying(enum, op, right.value)
                if not allowed:
                    return f"(CASE WHEN {self._write(left)} IS NULL THEN NULL ELSE FALSE END)"
                items = ", ".join(string_literal(value) for value in allowed)
                return f"({self._write(left)} IN ({items}))"
            positions = enum_positions(enum)
            return f"({self._position(left, positions)} {op} {self._position(right, positions)})"
        sql_op = {"==": "=", "!=": "<>"}.get(op, op)
        kinds = {side.type.kind for side in (left, right) if side.type is not None}
        if kinds == {"integer", "number"}:
            self._bound(left)  # an integer beyond 2**53 compared with a double
            self._bound(right)
        return f"({self._write(left)} {sql_op} {self._write(right)})"

    def _position(self, node: Node, positions: Mapping[object, int]) -> str:
        whens = " ".join(
            f"WHEN {literal(value)} THEN {index}" for value, index in positions.items()
        )
        return f"(CASE {self._write(node)} {whens} END)"

    def _call(self, node: Call) -> str:
        function = node.function
        arguments = node.arguments
        if function in ("is_missing", "is_known"):
            test = "IS NULL" if function == "is_missing" else "IS NOT NULL"
            tested = arguments[0]
            if self.given is not None and isinstance(tested, Name):
                return f"({self.given[tested.name]} {test})"
            return f"({self._write(tested)} {test})"
        if function in ("all_of", "any_of"):
            joiner = " AND " if function == "all_of" else " OR "
            return "(" + joiner.join(self._write(argument) for argument in arguments) + ")"
        written = [self._write(argument) for argument in arguments]
        any_null = " OR ".join(f"{argument} IS NULL" for argument in written)
        if function == "count_true":
            counted = " + ".join(
                f"(CASE WHEN {argument} THEN 1 ELSE 0 END)" for argument in written
            )
            return f"(CASE WHEN {any_null} THEN NULL ELSE {counted} END)"
        self._bound(node)
        if function == "sum":
            return "(" + " + ".join(written) + ")"
        if function == "abs":
            return f"ABS({written[0]})"
        if function == "days_between":
            return f"DATE_DIFF('day', {written[0]}, {written[1]})"
        combined = _least(written) if function == "min" else _greatest(written)
        return f"(CASE WHEN {any_null} THEN NULL ELSE {combined} END)"

    def _bound(self, node: Node) -> None:
        if magnitude(node, self.bounds) >= EXACT_LIMIT:
            raise Uncompilable(
                "arithmetic whose declared ranges allow magnitudes beyond 2**53 "
                "(Python's exact integers and SQL's doubles could differ)"
            )


def magnitude(node: Node, bounds: Mapping[str, float]) -> float:
    """An upper bound of |value| over every allowed answer (inf when unbounded)."""
    if isinstance(node, Literal):
        value = node.value
        return float(abs(value)) if isinstance(value, (int, float)) else 0.0
    if isinstance(node, Name):
        return bounds.get(node.name, math.inf)
    if isinstance(node, Negate):
        return magnitude(node.operand, bounds)
    if isinstance(node, Arithmetic):
        left, right = magnitude(node.left, bounds), magnitude(node.right, bounds)
        if node.operator in ("+", "-"):
            return left + right
        if node.operator == "*":
            return left * right
        divisor = node.right.type
        return left if divisor is not None and divisor.kind == "integer" else math.inf
    if isinstance(node, Call):
        if node.function in ("count_true",):
            return float(len(node.arguments))
        if node.function == "days_between":
            return 4e6
        parts = [magnitude(argument, bounds) for argument in node.arguments]
        if node.function == "sum":
            return sum(parts)
        return max(parts, default=0.0)
    return 0.0


def _domain_range(domain: Domain, truths: Sequence[str]) -> tuple[str, str]:
    """`three_valued.score_range` over the rules' truth columns: (lowest, highest) score."""
    if domain.aggregation != "sum":
        return _max_range(truths, domain.points)
    low_terms, high_terms = [], []
    for truth, points in zip(truths, domain.points, strict=True):
        if points > 0:
            low_terms.append(f"(CASE WHEN {_is_true(truth)} THEN {points} ELSE 0 END)")
            high_terms.append(f"(CASE WHEN {_not_false(truth)} THEN {points} ELSE 0 END)")
        elif points < 0:
            low_terms.append(f"(CASE WHEN {_not_false(truth)} THEN {points} ELSE 0 END)")
            high_terms.append(f"(CASE WHEN {_is_true(truth)} THEN {points} ELSE 0 END)")
    low = "(" + " + ".join(low_terms or ["0"]) + ")"
    high = "(" + " + ".join(high_terms or ["0"]) + ")"
    if domain.cap is not None:
        low, high = f"LEAST({low}, {domain.cap})", f"LEAST({high}, {domain.cap})"
    return low, high


def _max_range(truths: Sequence[str], points: Sequence[int]) -> tuple[str, str]:
    """`three_valued.score_range` for aggregation max, over the rules' truth columns."""
    fired = [f"(CASE WHEN {_is_true(t)} THEN {p} END)" for t, p in zip(truths, points, strict=True)]
    pending = [f"(CASE WHEN {t} IS NULL THEN {p} END)" for t, p in zip(truths, points, strict=True)]
    any_fired = _any(_is_true(t) for t in truths)
    any_pending = _any(f"{t} IS NULL" for t in truths)
    fired_max = _greatest(fired)
    pending_max, pending_min = _greatest(pending), _least(pending)
    low = (
        f"(CASE WHEN {any_fired} THEN {fired_max} WHEN {any_pending} "
        f"THEN LEAST(0, {pending_min}) ELSE 0 END)"
    )
    start = f"(CASE WHEN {any_fired} THEN {fired_max} ELSE 0 END)"
    high = f"(CASE WHEN {any_pending} THEN GREATEST({start}, {pending_max}) ELSE {start} END)"
    return low, high


def _points_sql(instrument: CompiledInstrument, key: str) -> str:
    field_ = next(f for f in instrument.fields if f.name == key)
    answer = quote(key)
    if field_.kind == "boolean":
        one, zero = (0, 1) if _points_of(instrument, key, True) == 0 else (1, 0)
        return f"(CASE WHEN {answer} THEN {one} WHEN NOT {answer} THEN {zero} END)"
    if field_.values:
        whens = " ".join(
            f"WHEN {literal(value)} THEN {_points_of(instrument, key, value)}"
            for value in field_.values
        )
        return f"(CASE {answer} {whens} END)"
    low, high = int(field_.minimum or 0), int(field_.maximum or 0)
    if _points_of(instrument, key, low) == low:
        return answer
    return f"({low + high} - {answer})"


def _points_of(instrument: CompiledInstrument, key: str, answer: object) -> int:
    for item_key, points in instrument.points:
        if item_key == key:
            return points(answer)
    raise KeyError(key)
