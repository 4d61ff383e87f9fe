"""Compiled ruleset + applicant → Decision. Pure: no I/O, clock, randomness or shared state."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from recovery_screening.backends import NATIVE
from recovery_screening.compiler import SCREENING_DATE, CompiledRuleset
from recovery_screening.decision import Decision
from recovery_screening.document.names import WITHHELD, host_key
from recovery_screening.errors import HostKey, InvalidApplicant, Problem
from recovery_screening.exact import trace_exact
from recovery_screening.fields import FieldViolation, InputField
from recovery_screening.three_valued import Judge, trace_v1


def applicant_mapping(applicant: Any, ruleset_id: str) -> Mapping[str, Any]:
    """Accept a mapping, a pydantic model or a dataclass instance as an applicant."""
    if isinstance(applicant, Mapping):
        return applicant
    dump = getattr(applicant, "model_dump", None)
    if callable(dump):
        dumped = dump()
        if isinstance(dumped, Mapping):
            return dumped
    if dataclasses.is_dataclass(applicant) and not isinstance(applicant, type):
        return dataclasses.asdict(applicant)
    raise InvalidApplicant(
        ruleset_id,
        [Problem((), "type", "an applicant must be a JSON object (a mapping of answers)")],
    )


def with_screening_date(compiled: CompiledRuleset, applicant: Any, as_of: datetime.date) -> Any:
    """The applicant with the reserved `screening_date` set to `as_of` (format v2).

    A v1 ruleset has no screening date: the applicant is returned unchanged. An applicant that
    carries a different `screening_date` is refused, naming the field (never the dates)."""
    if type(as_of) is not datetime.date:
        raise InvalidApplicant(
            f"{compiled.id} {compiled.version}",
            [Problem((SCREENING_DATE,), "type", "as_of must be a datetime.date")],
        )
    if (
        SCREENING_DATE not in compiled.inputs.top
        or not compiled.inputs.top[SCREENING_DATE].reserved
    ):
        return applicant
    answers = applicant_mapping(applicant, compiled.id)
    given = answers.get(SCREENING_DATE)
    if given is not None:
        try:
            same = compiled.inputs.top[SCREENING_DATE].convert(given) == as_of
        except FieldViolation:
            return answers  # the applicant check reports the malformed date itself
        if not same:
            raise InvalidApplicant(
                f"{compiled.id} {compiled.version}",
                [
                    Problem(
                        (SCREENING_DATE,),
                        "conflict",
                        "the applicant's screening_date differs from the as_of date",
                    )
                ],
            )
    return {**answers, SCREENING_DATE: as_of.isoformat()}


def _unknown(name: object, position: int, message: str) -> tuple[HostKey, str]:
    """The location step and message for a key the ruleset does not declare: its name is shown
    only when it looks like an identifier (document.names), else withheld and placed by position."""
    key = host_key(name, position)
    if key.name is None:
        return key, f"{WITHHELD}: {message}"
    return key, message


def check_applicant(compiled: CompiledRuleset, applicant: Any) -> dict[str, object]:
    """Validate an applicant against the declared inputs; return its facts (None = missing).

    The fast path converts a valid applicant; at the first problem it hands over to
    `_check_thoroughly`, which reports every problem."""
    answers = applicant if type(applicant) is dict else applicant_mapping(applicant, compiled.id)
    facts: dict[str, object] = dict(compiled.blank_facts)
    converters = compiled.inputs.converters
    groups = compiled.inputs.item_converters
    try:
        for key, answer in answers.items():
            convert = converters.get(key)
            if convert is not None:
                if answer is not None:
                    facts[key] = convert(answer)
                continue
            group = groups.get(key)
            if group is None or (answer is not None and not isinstance(answer, Mapping)):
                return _check_thoroughly(compiled, answers)
            if answer is None:
                continue
            for item, item_answer in answer.items():
                entry = group.get(item)
                if entry is None:
                    return _check_thoroughly(compiled, answers)
                if item_answer is not None:
                    facts[entry[0]] = entry[1](item_answer)
    except FieldViolation:
        return _check_thoroughly(compiled, answers)
    return facts


def _check_thoroughly(compiled: CompiledRuleset, answers: Mapping[str, Any]) -> dict[str, object]:
    """Check every answer, collecting every problem; raise InvalidApplicant listing them."""
    facts: dict[str, object] = dict(compiled.blank_facts)
    problems: list[Problem] = []
    top_fields = compiled.inputs.top
    for position, (key, answer) in enumerate(answers.items(), start=1):
        field = top_fields.get(key)
        if field is not None:
            if answer is not None:
                _convert_into(facts, field, answer, (key,), problems)
            continue
        group = compiled.inputs.groups.get(key)
        if group is None:
            step, message = _unknown(
                key, position, f"not an input of ruleset {compiled.id} {compiled.version}"
            )
            problems.append(Problem((step,), "unknown-field", message))
        elif isinstance(answer, Mapping):
            _check_items(facts, key, group, answer, problems)
        elif answer is not None:
            problems.append(
                Problem((key,), "type", "must be an object of this instrument's item answers")
            )
    if problems:
        raise InvalidApplicant(f"{compiled.id} {compiled.version}", problems)
    return facts


def _check_items(
    facts: dict[str, object],
    alias: str,
    group: Mapping[str, InputField],
    answers: Mapping[str, Any],
    problems: list[Problem],
) -> None:
    """One instrument's item answers (`{alias: {item: answer}}`), checked into `facts`."""
    for item_position, (item, item_answer) in enumerate(answers.items(), start=1):
        field = group.get(item)
        if field is None:
            step, message = _unknown(item, item_position, f"not an item of instrument {alias}")
            problems.append(Problem((alias, step), "unknown-field", message))
        elif item_answer is not None:
            _convert_into(facts, field, item_answer, (alias, item), problems)


def _convert_into(
    facts: dict[str, object],
    field: InputField,
    answer: Any,
    where: tuple[str, ...],
    problems: list[Problem],
) -> None:
    try:
        facts[field.name] = field.convert(answer)
    except FieldViolation as violation:
        problems.append(Problem(where, violation.code, violation.message))


def decide(
    compiled: CompiledRuleset,
    facts: dict[str, object],
    backend: str = NATIVE,
    judge: Judge | None = None,
) -> Decision:
    """Score instruments and domains, apply the decision rules, and apply the fail-safe.

    Only `judge` — how a stage's conditions are decided — differs between backends; scoring,
    aggregation, the hit policy and the fail-safe are this one code path for all of them.
    A format v2 ruleset is decided exactly over the missing answers (`exact.trace_exact`)."""
    if compiled.format_version != 1:
        return Decision(trace_exact(compiled, facts, backend, judge))
    return Decision(trace_v1(compiled, facts, backend, judge))


__all__ = [
    "NATIVE",
    "Judge",
    "check_applicant",
    "decide",
    "with_screening_date",
]
