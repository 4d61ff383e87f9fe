"""The root error and the errors shared across packages; each carries a path or a rule id.

Every error this library raises derives from `ScreeningError`. The errors of one package live
beside their code (`ExpressionError`, `NotCanonical`, `VersionExists`, `RecordError`,
`interchange`'s `InvalidResource`). Messages name places (JSON paths, rule ids), never values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True)
class HostKey:
    """A key of a document a host hands us (an applicant's answers, a FHIR resource), as it may
    appear in a path: `name` when it may be shown (`document.names.host_key` decides), else None
    and the key is placed by its 1-based `position` among its object's keys (None: unknown)."""

    name: str | None
    position: int | None = None


Part: TypeAlias = "str | int | HostKey"
"""One step of a location: a document's key, a list index, or a host's key."""
Location: TypeAlias = "tuple[Part, ...]"


def json_path(location: Iterable[Part], root: str = "$") -> str:
    """The one rendering of a location as a path: `$.domains.motivation.rules[2].when`.

    A key that is not an identifier is quoted as JSON (`$.referral_targets["peer-group"]`); a
    host's key is shown as `.name` or `['name.with-dots']`, or placed by position (`[#3]`, `[#?]`)
    when its name is withheld. The root is `$` (the document), a FHIR resource type
    (`QuestionnaireResponse.item[0]`), or empty for a member of a CDS Hooks request (`hook`)."""
    rendered = root
    for part in location:
        if isinstance(part, int):
            rendered += f"[{part}]"
        elif isinstance(part, HostKey):
            if part.name is None:
                rendered += f"[#{'?' if part.position is None else part.position}]"
            elif part.name.isidentifier():
                rendered += f".{part.name}" if rendered else part.name
            else:
                rendered += f"['{part.name}']"
        elif part.isidentifier():
            rendered += f".{part}" if rendered else part
        else:
            rendered += "[" + json.dumps(part) + "]"
    return rendered


@dataclass(frozen=True)
class Problem:
    """One mistake found in a document or an applicant: where it is (`location`, the keys and
    indices from `root`; `path` renders it), a stable code, and what to do."""

    location: Location
    code: str
    message: str
    root: str = "$"

    @property
    def path(self) -> str:
        """The location as a JSON path (`json_path`)."""
        return json_path(self.location, self.root)

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


MAX_PROBLEMS = 100
"""An error lists at most this many problems, then one `more-problems` entry counting the rest."""


@dataclass(frozen=True)
class MoreProblems(Problem):
    """Stands for `count` problems found but not listed."""

    count: int = 0


def more_problems(count: int) -> MoreProblems:
    """The `more-problems` entry for `count` problems not listed."""
    plural = "s" if count != 1 else ""
    message = f"{count} more problem{plural} not listed: fix those above and check again"
    return MoreProblems((), "more-problems", message, count=count)


def bounded_problems(
    problems: Iterable[Problem], limit: int = MAX_PROBLEMS
) -> tuple[list[Problem], int]:
    """The first `limit` problems, then (if there were more) one `more-problems` entry counting
    the rest; and how many problems there were in all. Only `limit` are ever held."""
    kept: list[Problem] = []
    total = 0
    for problem in problems:
        if isinstance(problem, MoreProblems):
            total += problem.count
            continue
        total += 1
        if len(kept) < limit:
            kept.append(problem)
    if total > len(kept):
        kept.append(more_problems(total - len(kept)))
    return kept, total


class ScreeningError(Exception):
    """Root of every error this library raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as its message and attributes, not through `__init__` (whose arguments
        # differ per error): a worker process's error reaches the main process whole
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(kind: type[ScreeningError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = kind.__new__(kind)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class _ProblemsError(ScreeningError):
    """An error that carries the problems found, not only the first (up to MAX_PROBLEMS, then a
    count of the rest: `total` is how many there were)."""

    def __init__(self, subject: str, problems: Iterable[Problem]) -> None:
        kept, total = bounded_problems(problems)
        self.problems: tuple[Problem, ...] = tuple(kept)
        self.total = total
        """How many problems were found; `problems` lists at most MAX_PROBLEMS of them."""
        self.subject = subject
        super().__init__(self._summary())

    def _headline(self) -> str:
        raise NotImplementedError

    def _summary(self) -> str:
        lines = [self._headline()]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


class RulesetError(_ProblemsError):
    """A ruleset document is invalid. `problems` lists the problems found (see _ProblemsError)."""

    def __init__(self, ruleset: str, problems: Iterable[Problem]) -> None:
        self.ruleset = ruleset
        super().__init__(ruleset, problems)

    def _headline(self) -> str:
        count = self.total
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
        count = self.total
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


def install_hint(extra: str) -> str:
    """How to install `extra`: the package is not on an index, so from a checkout or a wheel."""
    from recovery_screening._version import __version__

    return (
        f'from a checkout: pip install ".[{extra}]"; from a built wheel: '
        f'pip install "recovery_screening-{__version__}-py3-none-any.whl[{extra}]"'
    )


class MissingExtra(ScreeningError):
    """A feature needs an optional extra that is not installed; the message says what to install."""

    def __init__(self, extra: str, module: str) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"this feature needs the '{extra}' extra ({module} is not installed): "
            + install_hint(extra)
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
