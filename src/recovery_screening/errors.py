"""The root error and the errors shared across packages; each carries a path or a rule id.

Every error this library raises derives from `ScreeningError`. The errors of one package live
beside their code (`ExpressionError`, `NotCanonical`, `VersionExists`, `RecordError`,
`interchange`'s `InvalidResource`). Messages name places (JSON paths, rule ids), never values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One mistake found in a document or an applicant: where it is, a stable code, what to do."""

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


class ScreeningError(Exception):
    """Root of every error this library raises."""


class _ProblemsError(ScreeningError):
    """An error that carries every problem found, not only the first."""

    def __init__(self, subject: str, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.subject = subject
        super().__init__(self._summary())

    def _headline(self) -> str:
        raise NotImplementedError

    def _summary(self) -> str:
        lines = [self._headline()]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


class RulesetError(_ProblemsError):
    """A ruleset document is invalid. `problems` lists every problem found."""

    def __init__(self, ruleset: str, problems: Iterable[Problem]) -> None:
        self.ruleset = ruleset
        super().__init__(ruleset, problems)

    def _headline(self) -> str:
        count = len(self.problems)
        return f"ruleset {self.ruleset} is invalid ({count} problem{'s' if count != 1 else ''}):"


class InvalidApplicant(_ProblemsError):
    """An applicant breaks the ruleset's input contract. Holds field names and rules, not values."""

    def __init__(self, ruleset: str, problems: Iterable[Problem]) -> None:
        self.ruleset = ruleset
        super().__init__(ruleset, problems)

    @property
    def fields(self) -> tuple[str, ...]:
        """The applicant fields at fault, as JSON paths."""
        return tuple(problem.path for problem in self.problems)

    def _headline(self) -> str:
        count = len(self.problems)
        return (
            f"applicant does not meet the input contract of ruleset {self.ruleset} "
            f"({count} problem{'s' if count != 1 else ''}):"
        )


class DocumentError(_ProblemsError):
    """A file could not be read as a JSON or YAML document (syntax, encoding, size, nesting)."""

    def _headline(self) -> str:
        return f"cannot read {self.subject}:"


class RulesetNotFound(ScreeningError, LookupError):
    """No ruleset matches the requested id, version or path."""


class MissingExtra(ScreeningError):
    """A feature needs an optional extra that is not installed; the message says what to install."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"this feature needs the '{extra}' extra ({module} is not installed): "
            f'pip install "recovery-screening[{extra}]"'
        )


class BackendUnavailable(ScreeningError):
    """The requested evaluation backend cannot run here (missing extra or unsupported Python)."""


class RulesetAltered(ScreeningError):
    """A published ruleset version no longer matches the content hash pinned in its lock file."""

    def __init__(self, ruleset: str, version: str, locked: str, found: str) -> None:
        self.ruleset = ruleset
        self.version = version
        self.locked = locked
        self.found = found
        super().__init__(
            f"ruleset {ruleset} version {version} was changed after it was published: "
            f"the lock pins {locked} but the file hashes to {found}; "
            "publish the change as a new version instead"
        )
