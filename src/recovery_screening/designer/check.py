"""Property checks: search for applicants that break a safety property, and shrink them.

Applicants are generated from the ruleset's input contract (needs the `designer` extra:
`pip install ".[designer]"` from a checkout). The properties:

- `fail-safe`: no `admit` while a required or safety-critical answer is missing;
- `monotonic`: making one answer with a declared `direction` one step worse (the next value of
  an ordered enum, +1 for a number, false → true for `higher_is_worse`; the reverse for
  `higher_is_better`) never makes the outcome more permissive (refer > defer > admit);
- `safety-flag:<alias>.<flag>`: whenever an instrument flag marked `safety: true` is raised
  (e.g. PHQ-9 item 9 ≥ 1) the outcome is `refer`;
- `property:<id>`: each of the ruleset's own `properties:` — whenever `given` is true the
  outcome is one of `outcome_in` (when `given` is unknown, because answers are missing, the
  property does not apply).

The search is deterministic for a given seed. Generated applicants are synthetic, so the
smallest counterexample is shown in full.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recovery_screening.compiler import CompiledRuleset
from recovery_screening.decision import Decision
from recovery_screening.designer.defaults import DEFAULT_EXAMPLES, DEFAULT_SEED, MAX_EXAMPLES
from recovery_screening.errors import InvalidApplicant, MissingExtra
from recovery_screening.expressions import compile_expression
from recovery_screening.fields import InputField
from recovery_screening.outcomes import RANK
from recovery_screening.ruleset import Ruleset


@dataclass(frozen=True)
class Counterexample:
    """The smallest applicant found that breaks a property, and what happened to it."""

    applicant: dict[str, Any]
    outcome: str
    deciding: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "applicant": self.applicant,
            "outcome": self.outcome,
            "deciding": list(self.deciding),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PropertyResult:
    id: str
    text: str
    passed: bool
    counterexample: Counterexample | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.id,
            "text": self.text,
            "passed": self.passed,
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
        }


def _hypothesis() -> Any:
    try:
        import hypothesis
    except ImportError:
        raise MissingExtra("designer", "hypothesis") from None
    return hypothesis


def _decide(ruleset: Ruleset, applicant: Mapping[str, Any]) -> Decision | None:
    try:
        return ruleset.evaluate(applicant)
    except InvalidApplicant:
        return None


def sweep_values(field: InputField) -> list[Any]:
    """A field's values for the exhaustive pass: all of a small domain, else a spread."""
    if field.kind == "boolean":
        return [False, True]
    if field.values:
        return list(field.values)
    if field.kind in ("integer", "number"):
        low = int(field.minimum) if field.minimum is not None else -10
        high = int(field.maximum) if field.maximum is not None else 100
        if high - low <= 40:
            return list(range(low, high + 1))
        step = (high - low) / 20
        return sorted({low, high, *(round(low + i * step) for i in range(21))})
    return []


def one_step_worse(field: InputField, value: Any) -> Any | None:
    """The answer one step worse than `value` along the field's direction, or None at the end."""
    worse = field.direction == "higher_is_worse"
    if field.kind == "boolean":
        return worse if value is (not worse) else None
    if field.kind == "enum" or field.values:
        if field.kind == "enum" and not field.value_type.ordered:
            return None
        values = list(field.values)
        index = values.index(value) + (1 if worse else -1)
        return values[index] if 0 <= index < len(values) else None
    if field.kind in ("integer", "number"):
        stepped = value + (1 if worse else -1)
        if field.minimum is not None and stepped < field.minimum:
            return None
        if field.maximum is not None and stepped > field.maximum:
            return None
        return stepped
    return None


def _with_answer(applicant: dict[str, Any], field: InputField, value: Any) -> dict[str, Any]:
    copy = {k: dict(v) if isinstance(v, dict) else v for k, v in applicant.items()}
    if field.instrument:
        copy.setdefault(field.instrument, {})[field.item] = value
    else:
        copy[field.name] = value
    return copy


def _answer(applicant: Mapping[str, Any], field: InputField) -> Any:
    if field.instrument:
        group = applicant.get(field.instrument) or {}
        return group.get(field.item)
    return applicant.get(field.name)


def _references(compiled: CompiledRuleset, source: str | None) -> frozenset[str]:
    if source is None:
        return frozenset()
    return compile_expression(source, compiled.symbols).references


def check_properties(
    ruleset: Ruleset,
    *,
    examples: int = DEFAULT_EXAMPLES,
    seed: int = DEFAULT_SEED,
    only: Callable[[str], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PropertyResult]:
    """Search for a counterexample to each property; each result has the smallest one found.

    `progress(done, total)` is called as each property's search ends (`total` properties)."""
    if not 1 <= examples <= MAX_EXAMPLES:
        raise ValueError(f"examples must be from 1 to {MAX_EXAMPLES}")
    search = _PropertySearch(ruleset, _hypothesis(), examples=examples, seed=seed, only=only)
    search.progress = progress
    search.fail_safe()
    search.monotonic()
    search.safety_flags()
    search.declared_properties()
    return search.results


def _identity(value: Any) -> dict[str, Any]:
    return dict(value)


class _PropertySearch:
    """One run of `check_properties`: the generators, the search and the results so far."""

    def __init__(
        self,
        ruleset: Ruleset,
        hypothesis: Any,
        *,
        examples: int,
        seed: int,
        only: Callable[[str], bool] | None,
    ) -> None:
        from hypothesis import strategies

        self.ruleset = ruleset
        self.compiled = ruleset.compiled
        self.hypothesis = hypothesis
        self.st = strategies
        self.seed = seed
        self.only = only
        self.seeds = [
            case["applicant"] for case in ruleset.tests if isinstance(case.get("applicant"), dict)
        ]
        self.fields_by_name = {f.name: f for f in ruleset.inputs}
        self.settings = hypothesis.settings(
            max_examples=examples, database=None, deadline=None, derandomize=False
        )
        self.results: list[PropertyResult] = []
        self.progress: Callable[[int, int], None] | None = None

    def property_ids(self) -> list[str]:
        """The ids of the properties this search runs, in order (for progress)."""
        compiled = self.compiled
        ids = ["fail-safe"]
        if any(
            f.direction in ("higher_is_worse", "higher_is_better")
            and (f.kind != "enum" or f.value_type.ordered)
            for f in self.ruleset.inputs
        ):
            ids.append("monotonic")
        ids += [
            f"safety-flag:{flag.key}"
            for instrument in compiled.instruments
            for flag in instrument.flags
            if flag.safety
        ]
        ids += [f"property:{spec.id}" for spec in compiled.properties]
        return [i for i in ids if self.only is None or self.only(i)]

    def _record(self, result: PropertyResult) -> None:
        self.results.append(result)
        if self.progress is not None:
            self.progress(len(self.results), len(self.property_ids()))

    # --- generators ---------------------------------------------------------------------

    def generated(self, missing: float, references: Iterable[str] = ()) -> Any:
        """Random applicants, mixed with variations of the test cases on the fields read."""
        from recovery_screening.designer.strategies import applicants, variations

        random_applicants = applicants(self.ruleset, missing=missing)
        if not self.seeds:
            return random_applicants
        focus = self.focus_of(references)
        return self.st.one_of(
            variations(self.ruleset, self.seeds, focus=focus or None), random_applicants
        )

    def focus_of(self, references: Iterable[str]) -> list[InputField]:
        read: set[str] = set()
        for reference in references:
            read |= self.compiled.dependencies.get(reference, frozenset({reference}))
        return [self.fields_by_name[name] for name in sorted(read) if name in self.fields_by_name]

    def swept(self, references: Iterable[str]) -> Iterator[dict[str, Any]]:
        """Each test case's applicant with one of the fields `references` read set to each of
        its (sampled) values: a cheap, exhaustive first pass before the random search."""
        focus = self.focus_of(references)
        for applicant in self.seeds:
            for field in focus:
                for value in sweep_values(field):
                    yield _with_answer(applicant, field, value)

    # --- the search ---------------------------------------------------------------------

    def search(
        self,
        prop_id: str,
        text: str,
        strategy: Any,
        broken: Callable[[Any], str | None],
        applicant_of: Callable[[Any], dict[str, Any]] = _identity,
        sweep: Iterable[Any] = (),
    ) -> None:
        """Record whether `broken` finds a counterexample: the sweep first, then hypothesis."""
        if self.only is not None and not self.only(prop_id):
            return
        found = next((candidate for candidate in sweep if broken(candidate) is not None), None)
        if found is None:
            try:
                found = self.hypothesis.find(
                    strategy,
                    lambda value: broken(value) is not None,
                    settings=self.settings,
                    random=random.Random(self.seed),
                )
            except self.hypothesis.errors.NoSuchExample:
                self._record(PropertyResult(prop_id, text, True))
                return
        applicant = applicant_of(found)
        decision = _decide(self.ruleset, applicant)
        detail = broken(found) or ""
        outcome = decision.outcome if decision else "invalid"
        deciding = decision.deciding if decision else ()
        counterexample = Counterexample(applicant, outcome, deciding, detail)
        self._record(PropertyResult(prop_id, text, False, counterexample))

    # --- the properties -----------------------------------------------------------------

    def fail_safe(self) -> None:
        compiled = self.compiled
        ruleset = self.ruleset
        must_answer = compiled.must_answer

        def broken(applicant: dict[str, Any]) -> str | None:
            decision = _decide(ruleset, applicant)
            if decision is None or decision.outcome != "admit":
                return None
            facts = decision.facts
            missing = [key for key in must_answer if facts[key] is None]
            return f"admitted while {', '.join(missing)} unanswered" if missing else None

        self.search(
            "fail-safe",
            "No admit while a required or safety-critical answer is missing.",
            self.generated(0.3),
            broken,
        )

    def monotonic(self) -> None:
        directed = [
            f
            for f in self.ruleset.inputs
            if f.direction in ("higher_is_worse", "higher_is_better")
            and (f.kind != "enum" or f.value_type.ordered)
        ]
        if not directed:
            return
        ruleset = self.ruleset

        def broken(pair: tuple[dict[str, Any], InputField]) -> str | None:
            applicant, field = pair
            value = _answer(applicant, field)
            worse = None if value is None else one_step_worse(field, value)
            if worse is None:
                return None
            before = _decide(ruleset, applicant)
            after = _decide(ruleset, _with_answer(applicant, field, worse))
            if before is None or after is None or RANK[after.outcome] >= RANK[before.outcome]:
                return None
            return (
                f"making {field.name} worse ({value!r} -> {worse!r}, {field.direction}) changed "
                f"the outcome from {before.outcome} ({', '.join(before.deciding)}) to "
                f"{after.outcome} ({', '.join(after.deciding)})"
            )

        self.search(
            "monotonic",
            "Making one answer with a declared risk direction worse never makes the outcome "
            "more permissive.",
            self.st.sampled_from(directed).flatmap(
                lambda field: self.st.tuples(
                    self.generated(0.05, (field.name,)), self.st.just(field)
                )
            ),
            broken,
            lambda pair: dict(pair[0]),
            (
                (_with_answer(applicant, field, value), field)
                for applicant in self.seeds
                for field in directed
                for value in sweep_values(field)
            ),
        )

    def safety_flags(self) -> None:
        compiled = self.compiled
        ruleset = self.ruleset
        for instrument in compiled.instruments:
            for flag in instrument.flags:
                if not flag.safety:
                    continue

                def broken(applicant: dict[str, Any], key: str = flag.key) -> str | None:
                    decision = _decide(ruleset, applicant)
                    if decision is None or decision.facts[key] is not True:
                        return None
                    if decision.outcome == "refer":
                        return None
                    return f"flag {key} is raised but the outcome is {decision.outcome}"

                self.search(
                    f"safety-flag:{flag.key}",
                    f"Whenever {flag.key} ({flag.code}) is raised, the outcome is refer.",
                    self.generated(0.05, flag.references),
                    broken,
                    sweep=self.swept(flag.references),
                )

    def declared_properties(self) -> None:
        compiled = self.compiled
        ruleset = self.ruleset
        for spec in compiled.properties:

            def broken(applicant: dict[str, Any], spec: Any = spec) -> str | None:
                decision = _decide(ruleset, applicant)
                if decision is None:
                    return None
                if spec.given is not None and spec.given(decision.facts) is not True:
                    return None
                if decision.outcome in spec.outcome_in:
                    return None
                return (
                    f"given {spec.given_source or 'any applicant'}, the outcome is "
                    f"{decision.outcome}, not one of {', '.join(spec.outcome_in)}"
                )

            references = _references(compiled, spec.given_source)
            self.search(
                f"property:{spec.id}",
                spec.text,
                self.generated(0.05, references),
                broken,
                sweep=self.swept(references),
            )
