"""Problems found in an expression and the one error that carries them all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recovery_screening.errors import ScreeningError

_SHOWN = 120


@dataclass(frozen=True)
class ExpressionProblem:
    """One mistake in an expression: a stable code, what to do about it, and the 1-based column
    where it starts (counted from the start of the source; a line break counts as one)."""

    code: str
    message: str
    column: int

    def __str__(self) -> str:
        return f"column {self.column}: {self.message} [{self.code}]"


class ExpressionError(ScreeningError):
    """An expression is invalid. `problems` lists every problem found, ordered by column."""

    def __init__(self, problems: Iterable[ExpressionProblem], source: str | None = None) -> None:
        self.problems: tuple[ExpressionProblem, ...] = tuple(
            sorted(problems, key=lambda problem: problem.column)
        )
        if not self.problems:
            raise ValueError("an ExpressionError needs at least one problem")
        self.source = source
        super().__init__(self._summary())

    def _summary(self) -> str:
        count = len(self.problems)
        subject = "expression"
        if self.source is not None:
            shown = self.source if len(self.source) <= _SHOWN else self.source[:_SHOWN] + "..."
            subject = f"expression {shown!r}"
        lines = [f"{subject} is invalid ({count} problem{'s' if count != 1 else ''}):"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)
