"""The properties `check` searches, as both of its engines search them (`designer.check`).

Each property has its scalar verdict on a candidate applicant (the scalar engine decides it),
the missing rate and the fields its random search varies, and an exhaustive first pass over
the ruleset's test cases (`sweep`). Needs neither hypothesis nor DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from recovery_screening.compiler import CompiledRuleset, PropertySpec
from recovery_screening.decision import Decision
from recovery_screening.errors import InvalidApplicant
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


def with_answer(applicant: dict[str, Any], field: InputField, value: Any) -> dict[str, Any]:
    copy = {k: dict(v) if isinstance(v, dict) else v for k, v in applicant.items()}
    if field.instrument:
        copy.setdefault(field.instrument, {})[field.item] = value
    else:
        copy[field.name] = value
    return copy


def answer_of(applicant: Mapping[str, Any], field: InputField) -> Any:
    if field.instrument:
        group = applicant.get(field.instrument) or {}
        return group.get(field.item)
    return applicant.get(field.name)


def _references(compiled: CompiledRuleset, source: str | None) -> frozenset[str]:
    if source is None:
        return frozenset()
    return compile_expression(source, compiled.symbols).references


FAIL_SAFE = "fail-safe"
MONOTONIC = "monotonic"
SAFETY_FLAG = "safety-flag"
DECLARED = "property"


@dataclass(frozen=True)
class PropertyCheck:
    """One property as both engines search it: its scalar verdict on a candidate, where the
    random search looks, and the exhaustive first pass (`sweep`)."""

    id: str
    text: str
    kind: str
    """FAIL_SAFE, MONOTONIC, SAFETY_FLAG or DECLARED."""
    broken: Callable[[Any], str | None]
    """Why a candidate breaks the property (decided by the scalar engine), or None. A candidate
    is an applicant, or for MONOTONIC an (applicant, field) pair."""
    missing: float
    """How often the random search leaves an answer unanswered."""
    references: frozenset[str] = frozenset()
    """What the property reads: the random variations answer one of its fields first."""
    flag: str | None = None
    spec: PropertySpec | None = None
    directed: tuple[InputField, ...] = ()

    def applicant_of(self, candidate: Any) -> dict[str, Any]:
        return dict(candidate[0]) if self.kind == MONOTONIC else dict(candidate)


def directed_fields(ruleset: Ruleset) -> tuple[InputField, ...]:
    """The inputs `monotonic` makes worse: a declared direction, and an order to step along."""
    return tuple(
        f
        for f in ruleset.inputs
        if f.direction in ("higher_is_worse", "higher_is_better")
        and (f.kind != "enum" or f.value_type.ordered)
    )


def counterexample_result(ruleset: Ruleset, check: PropertyCheck, found: Any) -> PropertyResult:
    """The broken property's result: `found` and what the scalar engine decides for it."""
    applicant = check.applicant_of(found)
    decision = _decide(ruleset, applicant)
    detail = check.broken(found) or ""
    outcome = decision.outcome if decision else "invalid"
    deciding = decision.deciding if decision else ()
    return PropertyResult(
        check.id, check.text, False, Counterexample(applicant, outcome, deciding, detail)
    )


class Properties:
    """The properties of one ruleset (every one `only` keeps), with the test cases the search
    varies and the exhaustive first pass over them. Needs neither hypothesis nor DuckDB."""

    def __init__(self, ruleset: Ruleset, only: Callable[[str], bool] | None = None) -> None:
        self.ruleset = ruleset
        self.compiled = ruleset.compiled
        self.only = only
        self.seeds = [
            case["applicant"] for case in ruleset.tests if isinstance(case.get("applicant"), dict)
        ]
        self.fields_by_name = {f.name: f for f in ruleset.inputs}

    def focus_of(self, references: Iterable[str]) -> list[InputField]:
        read: set[str] = set()
        for reference in references:
            read |= self.compiled.dependencies.get(reference, frozenset({reference}))
        return [self.fields_by_name[name] for name in sorted(read) if name in self.fields_by_name]

    def sweep_steps(self, check: PropertyCheck) -> Iterator[tuple[int, InputField, Any]]:
        """The exhaustive first pass, in order, as (test case, field, value): each test case's
        applicant with one of the fields the property reads (for monotonic: each directed
        field) set to each of its (sampled) values. Fail-safe has none."""
        if check.kind == FAIL_SAFE:
            return
        fields = check.directed if check.kind == MONOTONIC else self.focus_of(check.references)
        for seed in range(len(self.seeds)):
            for field in fields:
                for value in sweep_values(field):
                    yield seed, field, value

    def sweep_of(self, check: PropertyCheck) -> Iterator[Any]:
        """The sweep's candidates, built as `sweep_steps` says."""
        for seed, field, value in self.sweep_steps(check):
            applicant = with_answer(self.seeds[seed], field, value)
            yield (applicant, field) if check.kind == MONOTONIC else applicant

    def sweep_size(self, check: PropertyCheck) -> int:
        if check.kind == FAIL_SAFE:
            return 0
        fields = check.directed if check.kind == MONOTONIC else self.focus_of(check.references)
        return len(self.seeds) * sum(len(sweep_values(field)) for field in fields)

    def planned(self, examples: int) -> int:
        """About how many applicants a search evaluates (a monotonic candidate is two)."""
        return sum(
            (self.sweep_size(check) + examples) * (2 if check.kind == MONOTONIC else 1)
            for check in self.checks()
        )

    def checks(self) -> list[PropertyCheck]:
        """Every property this search runs, in order."""
        found = [self.fail_safe()]
        monotonic = self.monotonic()
        if monotonic is not None:
            found.append(monotonic)
        found += self.safety_flags()
        found += self.declared()
        return [check for check in found if self.only is None or self.only(check.id)]

    def fail_safe(self) -> PropertyCheck:
        ruleset = self.ruleset
        must_answer = self.compiled.must_answer

        def broken(applicant: dict[str, Any]) -> str | None:
            decision = _decide(ruleset, applicant)
            if decision is None or decision.outcome != "admit":
                return None
            facts = decision.facts
            missing = [key for key in must_answer if facts[key] is None]
            return f"admitted while {', '.join(missing)} unanswered" if missing else None

        return PropertyCheck(
            "fail-safe",
            "No admit while a required or safety-critical answer is missing.",
            FAIL_SAFE,
            broken,
            0.3,
        )

    def monotonic(self) -> PropertyCheck | None:
        directed = directed_fields(self.ruleset)
        if not directed:
            return None
        ruleset = self.ruleset

        def broken(pair: tuple[dict[str, Any], InputField]) -> str | None:
            applicant, field = pair
            value = answer_of(applicant, field)
            worse = None if value is None else one_step_worse(field, value)
            if worse is None:
                return None
            before = _decide(ruleset, applicant)
            after = _decide(ruleset, with_answer(applicant, field, worse))
            if before is None or after is None or RANK[after.outcome] >= RANK[before.outcome]:
                return None
            return (
                f"making {field.name} worse ({value!r} -> {worse!r}, {field.direction}) changed "
                f"the outcome from {before.outcome} ({', '.join(before.deciding)}) to "
                f"{after.outcome} ({', '.join(after.deciding)})"
            )

        return PropertyCheck(
            "monotonic",
            "Making one answer with a declared risk direction worse never makes the outcome "
            "more permissive.",
            MONOTONIC,
            broken,
            0.05,
            directed=directed,
        )

    def safety_flags(self) -> list[PropertyCheck]:
        ruleset = self.ruleset
        found = []
        for instrument in self.compiled.instruments:
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

                found.append(
                    PropertyCheck(
                        f"safety-flag:{flag.key}",
                        f"Whenever {flag.key} ({flag.code}) is raised, the outcome is refer.",
                        SAFETY_FLAG,
                        broken,
                        0.05,
                        frozenset(flag.references),
                        flag=flag.key,
                    )
                )
        return found

    def declared(self) -> list[PropertyCheck]:
        compiled = self.compiled
        ruleset = self.ruleset
        found = []
        for spec in compiled.properties:

            def broken(applicant: dict[str, Any], spec: PropertySpec = spec) -> str | None:
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

            found.append(
                PropertyCheck(
                    f"property:{spec.id}",
                    spec.text,
                    DECLARED,
                    broken,
                    0.05,
                    _references(compiled, spec.given_source),
                    spec=spec,
                )
            )
        return found
