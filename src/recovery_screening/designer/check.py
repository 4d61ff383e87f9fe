"""Property checks: search for applicants that break a safety property, and shrink them.

Applicants are generated from the ruleset's input contract (the scalar search needs the
`designer` extra, `pip install ".[designer]"` from a checkout; the columnar one the `columnar`
extra). The properties:

- `fail-safe`: no `admit` while a required or safety-critical answer is missing;
- `monotonic`: making one answer with a declared `direction` one step worse (the next value of
  an ordered enum, +1 for a number, false → true for `higher_is_worse`; the reverse for
  `higher_is_better`) never makes the outcome more permissive (refer > defer > admit);
- `safety-flag:<alias>.<flag>`: whenever an instrument flag marked `safety: true` is raised
  (e.g. PHQ-9 item 9 ≥ 1) the outcome is `refer`;
- `property:<id>`: each of the ruleset's own `properties:` — whenever `given` is true the
  outcome is one of `outcome_in` (when `given` is unknown, because answers are missing, the
  property does not apply).

Two engines search (`engine=`): `scalar` runs hypothesis one applicant at a time; `columnar`
(`designer._check_batches`) generates the applicants with a seeded generator and evaluates them
in batches on the columnar engine, then confirms each counterexample with the scalar engine and
shrinks it. Both first sweep the test cases' answers exhaustively, and report what the scalar
engine decides for the counterexample.

The search is deterministic for a given seed. Generated applicants are synthetic, so the
smallest counterexample is shown in full.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from recovery_screening.designer._properties import (
    MONOTONIC,
    Counterexample,
    Properties,
    PropertyCheck,
    PropertyResult,
    counterexample_result,
    one_step_worse,
    sweep_values,
)
from recovery_screening.designer.defaults import (
    DEFAULT_EXAMPLES,
    DEFAULT_SEED,
    ENGINES,
    MAX_EXAMPLES,
)
from recovery_screening.errors import MissingExtra
from recovery_screening.ruleset import Ruleset

__all__ = [
    "AUTO_MIN_APPLICANTS",
    "Counterexample",
    "PropertyResult",
    "check_engine",
    "check_properties",
    "one_step_worse",
    "sweep_values",
]


def _hypothesis() -> Any:
    try:
        import hypothesis
    except ImportError:
        raise MissingExtra("designer", "hypothesis") from None
    return hypothesis


AUTO_MIN_APPLICANTS = 50
"""Below this many applicants to evaluate, `auto` searches on the scalar engine: measured on the
shipped rulesets, the columnar engine is faster from about 50 (its fixed cost, planning the
query, is 0.2 s for an instrument, a second for the intake; hypothesis costs milliseconds an
example)."""


def check_engine(
    engine: str,
    ruleset: Ruleset,
    examples: int = DEFAULT_EXAMPLES,
    only: Callable[[str], bool] | None = None,
) -> str:
    """`columnar` or `scalar`: `auto` is columnar when the `columnar` extra is installed and the
    search evaluates at least AUTO_MIN_APPLICANTS applicants (the sweep's and the random ones),
    below which DuckDB's planning of the query costs more than it saves. Asking for `columnar`
    without the extra raises MissingExtra."""
    from recovery_screening.designer._batches import columnar_available

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if engine == "scalar":
        return "scalar"
    if engine == "columnar":
        if not columnar_available():
            raise MissingExtra("columnar", "duckdb")
        return "columnar"
    if not columnar_available():
        return "scalar"
    large = Properties(ruleset, only).planned(examples) >= AUTO_MIN_APPLICANTS
    return "columnar" if large else "scalar"


def check_properties(
    ruleset: Ruleset,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    only: Callable[[str], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "auto",
) -> list[PropertyResult]:
    """Search for a counterexample to each property; each result has the smallest one found.

    `engine`: `scalar` searches with hypothesis, one applicant at a time; `columnar` evaluates
    the generated applicants in batches on the columnar engine and confirms (and shrinks) each
    counterexample with the scalar engine; `auto` (see `check_engine`) picks one.
    `progress(done, total)` is called as each property's search ends (`total` properties)."""
    if not 1 <= examples <= MAX_EXAMPLES:
        raise ValueError(f"examples must be from 1 to {MAX_EXAMPLES}")
    properties = Properties(ruleset, only)
    checks = properties.checks()

    def record(results: list[PropertyResult]) -> None:
        if progress is not None:
            progress(len(results), len(checks))

    if check_engine(engine, ruleset, examples, only) == "columnar":
        from recovery_screening.designer._check_batches import BatchSearch

        return BatchSearch(properties, checks, examples=examples, seed=seed).run(record)
    search = _ScalarSearch(properties, _hypothesis(), examples=examples, seed=seed)
    for check in checks:
        search.search(check)
        record(search.results)
    return search.results


class _ScalarSearch:
    """The scalar engine's search: the sweep, then hypothesis, one applicant at a time."""

    def __init__(
        self, properties: Properties, hypothesis: Any, *, examples: int, seed: int
    ) -> None:
        from hypothesis import strategies

        self.properties = properties
        self.ruleset = properties.ruleset
        self.hypothesis = hypothesis
        self.st = strategies
        self.seed = seed
        self.settings = hypothesis.settings(
            max_examples=examples, database=None, deadline=None, derandomize=False
        )
        self.results: list[PropertyResult] = []

    def generated(self, missing: float, references: Iterable[str] = ()) -> Any:
        """Random applicants, mixed with variations of the test cases on the fields read."""
        from recovery_screening.designer.strategies import applicants, variations

        random_applicants = applicants(self.ruleset, missing=missing)
        seeds = self.properties.seeds
        if not seeds:
            return random_applicants
        focus = self.properties.focus_of(references)
        return self.st.one_of(
            variations(self.ruleset, seeds, focus=focus or None), random_applicants
        )

    def strategy(self, check: PropertyCheck) -> Any:
        if check.kind == MONOTONIC:
            return self.st.sampled_from(check.directed).flatmap(
                lambda field: self.st.tuples(
                    self.generated(check.missing, (field.name,)), self.st.just(field)
                )
            )
        return self.generated(check.missing, check.references)

    def search(self, check: PropertyCheck) -> None:
        """Record whether the sweep, then hypothesis, finds a counterexample."""
        broken = check.broken
        sweep = self.properties.sweep_of(check)
        found = next((candidate for candidate in sweep if broken(candidate) is not None), None)
        if found is None:
            try:
                found = self.hypothesis.find(
                    self.strategy(check),
                    lambda value: broken(value) is not None,
                    settings=self.settings,
                    random=random.Random(self.seed),
                )
            except self.hypothesis.errors.NoSuchExample:
                self.results.append(PropertyResult(check.id, check.text, True))
                return
        self.results.append(counterexample_result(self.ruleset, check, found))
