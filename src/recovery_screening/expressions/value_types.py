"""The types an expression can have: the declared input types plus literal lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["boolean", "integer", "number", "string", "date", "enum", "list"]


@dataclass(frozen=True)
class ValueType:
    """A value's type. Enums carry their allowed values in declared order; lists their element."""

    kind: Kind
    values: tuple[str, ...] = ()
    ordered: bool = False
    element: ValueType | None = None

    @property
    def is_numeric(self) -> bool:
        """Integers and numbers mix freely in arithmetic and comparisons."""
        return self.kind in ("integer", "number")

    def describe(self) -> str:
        """The type in words a ruleset designer reads, e.g. "a whole number"."""
        if self.kind == "enum":
            order = "ordered " if self.ordered else ""
            return f"an {order}choice of {', '.join(self.values)}"
        if self.kind == "list":
            inner = self.element.describe() if self.element is not None else "nothing"
            return f"a list of {inner}"
        return _DESCRIPTIONS[self.kind]


_DESCRIPTIONS: dict[str, str] = {
    "boolean": "true/false",
    "integer": "a whole number",
    "number": "a number",
    "string": "text",
    "date": "a date",
}

BOOLEAN = ValueType("boolean")
INTEGER = ValueType("integer")
NUMBER = ValueType("number")
STRING = ValueType("string")
DATE = ValueType("date")


def enum_type(values: Sequence[str], *, ordered: bool = False) -> ValueType:
    """An enum of `values` in declared order; `ordered` allows <, <=, >, >= by position."""
    return ValueType("enum", values=tuple(values), ordered=ordered)


def accepts(expected: ValueType, actual: ValueType) -> bool:
    """Whether a value of `actual` type may stand where `expected` is required."""
    return actual == expected or (expected.kind == "number" and actual.kind == "integer")
