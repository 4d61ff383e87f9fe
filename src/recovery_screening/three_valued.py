"""The v1 semantics: three-valued rules (True / False / None for unknown), a domain's score range
from its undecided rules, settling conditions on unsettled scores, the hit policy and the fail-safe.

Both semantics build on it: `evaluate.decide` for v1 rulesets, `exact` for each completion of a
v2 ruleset's missing answers. Pure: no I/O, clock, randomness or shared state."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from recovery_screening.backends import NATIVE
from recovery_screening.compiler import CompiledRuleset, Condition, Domain
from recovery_screening.decision import Trace
from recovery_screening.outcomes import ADMIT, DEFER, REFER

MAX_SETTLE_COMBINATIONS = 64
Truths = tuple[object, ...]

Judge = Callable[[int, Mapping[str, object]], tuple[object, ...]]
"""Decides one stage's conditions three-valued (True / False / None for unknown): stage `i` is
the rules of `compiled.domains[i]`, stage `len(compiled.domains)` the decision rules and stage
`len(compiled.domains) + 1` the advisories (v2). The native evaluator calls the compiled
closures; another backend (durable-rules) supplies its own."""


def trace_v1(
    compiled: CompiledRuleset,
    facts: dict[str, object],
    backend: str = NATIVE,
    judge: Judge | None = None,
) -> Trace:
    """The v1 semantics: three-valued rules, a domain range from its undecided rules, and the
    fail-safe (no admit while an undecided rule could raise the outcome). Writes the derived
    values into `facts`."""
    for instrument in compiled.instruments:
        instrument.score(facts)
    domain_results: list[tuple[Truths, int, int]] = []
    open_domains: list[tuple[Domain, int, int]] = []
    open_missing: dict[str, frozenset[str]] = {}
    for stage, domain in enumerate(compiled.domains):
        truths = _stage_truths(
            compiled, stage, domain.rules, domain.conditions, facts, judge, open_domains
        )
        low, high = score_range(domain, truths)
        facts[domain.score_key] = low if low == high else None
        band_low = domain.bands.band_of(low)
        same = low == high or band_low == domain.bands.band_of(high)
        facts[domain.band_key] = band_low if same else None
        domain_results.append((truths, low, high))
        if low != high:
            open_domains.append((domain, low, high))
            missing = frozenset().union(
                *(
                    missing_inputs(rule.references, facts, compiled.dependencies, open_missing)
                    for rule, truth in zip(domain.rules, truths, strict=True)
                    if truth is None
                )
            )
            open_missing[domain.score_key] = open_missing[domain.band_key] = missing
    decisions = compiled.decisions
    truths = _stage_truths(
        compiled, len(compiled.domains), decisions, compiled.decision_conditions, facts, judge,
        open_domains,
    )  # fmt: skip
    rank, deciding, blocking, fail_safe = outcome_of(compiled, facts, truths)
    undecided_missing = _missing_by_rule(compiled, decisions, truths, facts, open_missing)
    needs: set[str] = set()
    for index in blocking:
        needs.update(undecided_missing[index])
    if rank != REFER:
        needs.update(key for key in compiled.must_answer if facts[key] is None)
    advisory_truths, advisory_missing = (
        _advise(compiled, facts, judge, open_domains, open_missing)
        if compiled.advisories
        else ((), ())
    )
    return Trace(
        compiled,
        facts,
        tuple(domain_results),
        truths,
        rank,
        deciding,
        fail_safe,
        tuple(sorted(needs)),
        backend,
        undecided_missing,
        advisory_truths,
        advisory_missing,
    )


def _advise(
    compiled: CompiledRuleset,
    facts: Mapping[str, object],
    judge: Judge | None,
    open_domains: Sequence[tuple[Domain, int, int]],
    open_missing: Mapping[str, frozenset[str]],
) -> tuple[Truths, tuple[tuple[str, ...], ...]]:
    """v2 advisories, decided once the outcome is: their truths and, where unknown, the missing
    answers. They read the same facts as the decision rules and change none of them."""
    truths = _stage_truths(
        compiled, len(compiled.domains) + 1, compiled.advisories, compiled.advisory_conditions,
        facts, judge, open_domains,
    )  # fmt: skip
    return truths, _missing_by_rule(compiled, compiled.advisories, truths, facts, open_missing)


def _stage_truths(
    compiled: CompiledRuleset,
    stage: int,
    rules: Sequence[Any],
    conditions: Sequence[Condition],
    facts: Mapping[str, object],
    judge: Judge | None,
    open_domains: Sequence[tuple[Domain, int, int]],
) -> Truths:
    """One stage's conditions decided three-valued (by `judge` or the compiled closures), then
    settled where they are unknown only because they read a domain not yet settled."""
    if judge is None:
        truths: Truths = tuple([condition(facts) for condition in conditions])
    else:
        truths = judge(stage, facts)
    if open_domains and None in truths:
        truths = settle(
            rules, truths, facts, open_domains, _stage_judge(compiled, judge, stage),
            conditions=conditions if judge is None else None,
        )  # fmt: skip
    return truths


def _missing_by_rule(
    compiled: CompiledRuleset,
    rules: Sequence[Any],
    truths: Truths,
    facts: Mapping[str, object],
    open_missing: Mapping[str, frozenset[str]],
) -> tuple[tuple[str, ...], ...]:
    """For each rule left undecided, the unanswered inputs that would decide it (sorted)."""
    if None not in truths:
        return ((),) * len(truths)
    return tuple(
        tuple(sorted(missing_inputs(rule.references, facts, compiled.dependencies, open_missing)))
        if truth is None
        else ()
        for rule, truth in zip(rules, truths, strict=True)
    )


def score_range(domain: Domain, truths: Truths) -> tuple[int, int]:
    """The lowest and highest score the domain can have, whatever the undecided rules turn out."""
    if domain.aggregation == "sum":
        low = high = 0
        for points, truth in zip(domain.points, truths, strict=True):
            if truth is True:
                low += points
                high += points
            elif truth is None:
                if points > 0:
                    high += points
                else:
                    low += points
        if domain.cap is not None:
            low, high = min(low, domain.cap), min(high, domain.cap)
        return low, high
    fired = [points for points, truth in zip(domain.points, truths, strict=True) if truth is True]
    pending = [points for points, truth in zip(domain.points, truths, strict=True) if truth is None]
    low = max(fired, default=0)
    high = max(low, *pending) if pending else low
    if pending and not fired:
        low = min(0, *pending)
    return low, high


def _stage_judge(
    compiled: CompiledRuleset, judge: Judge | None, stage: int
) -> Callable[[Mapping[str, object]], Truths]:
    """Decide one stage's conditions on other facts (used only while settling)."""
    if judge is not None:
        return lambda facts: judge(stage, facts)
    if stage < len(compiled.domains):
        conditions = compiled.domains[stage].conditions
    elif stage == len(compiled.domains):
        conditions = compiled.decision_conditions
    else:
        conditions = compiled.advisory_conditions
    return lambda facts: tuple([condition(facts) for condition in conditions])


def settle(
    rules: Sequence[Any],
    truths: Truths,
    facts: Mapping[str, object],
    open_domains: Sequence[tuple[Domain, int, int]],
    judge: Callable[[Mapping[str, object]], Truths],
    *,
    conditions: Sequence[Condition] | None = None,
) -> Truths:
    """Decide conditions left unknown only because they read an unsettled domain score or band.

    Each score the missing answers still allow is tried (with its band); a condition that comes
    out the same for every one of them is decided. Beyond MAX_SETTLE_COMBINATIONS it stays unknown,
    which is always the safe side. With `conditions` (the stage's compiled closures, which `judge`
    would call), only the conditions still settling are evaluated.
    """
    ranges = {domain.name: (low, high) for domain, low, high in open_domains}
    keys = {
        key: domain for domain, _, _ in open_domains for key in (domain.score_key, domain.band_key)
    }
    pending = [
        index
        for index, truth in enumerate(truths)
        if truth is None and any(reference in keys for reference in rules[index].references)
    ]
    involved = sorted(
        {keys[ref].name: keys[ref] for i in pending for ref in rules[i].references if ref in keys}
        .values(),
        key=lambda domain: domain.name,
    )  # fmt: skip
    combinations = 1
    for domain in involved:
        low, high = ranges[domain.name]
        combinations *= high - low + 1
    if not pending or combinations > MAX_SETTLE_COMBINATIONS:
        return truths
    seen: dict[int, set[object]] = {index: set() for index in pending}
    trial = dict(facts)
    choices = [range(ranges[d.name][0], ranges[d.name][1] + 1) for d in involved]
    settling = pending
    for scores in itertools.product(*choices):
        for domain, score in zip(involved, scores, strict=True):
            trial[domain.score_key] = score
            trial[domain.band_key] = domain.bands.band_of(score)
        if conditions is None:
            results = judge(trial)
            for index in pending:
                seen[index].add(results[index])
            continue
        still = []
        for index in settling:
            values = seen[index]
            value = conditions[index](trial)
            values.add(value)
            if value is not None and len(values) == 1:
                still.append(index)  # the others can no longer settle
        settling = still
        if not settling:
            break
    settled = list(truths)
    for index, values in seen.items():
        if len(values) == 1 and None not in values:
            settled[index] = values.pop()
    return tuple(settled)


def missing_inputs(
    references: Sequence[str],
    facts: Mapping[str, object],
    dependencies: Mapping[str, frozenset[str]],
    open_missing: Mapping[str, frozenset[str]],
) -> set[str]:
    """The unanswered inputs behind the unknown values among `references`.

    A known value needs nothing; an unsettled domain needs only what its undecided rules read;
    anything else needs its unanswered inputs.
    """
    found: set[str] = set()
    for reference in references:
        if facts[reference] is not None:
            continue
        if reference in open_missing:
            found |= open_missing[reference]
        else:
            found.update(key for key in dependencies.get(reference, ()) if facts[key] is None)
    return found


def outcome_of(
    compiled: CompiledRuleset, facts: Mapping[str, object], truths: tuple[object, ...]
) -> tuple[int, tuple[int, ...], tuple[int, ...], bool]:
    """(rank, deciding rule indexes, blocking undecided rule indexes, fail-safe applied)."""
    rules = compiled.decisions
    if compiled.hit_policy == "first":
        winner = next((i for i, truth in enumerate(truths) if truth is True), None)
        rank = rules[winner].rank if winner is not None else compiled.default.rank
        deciding: tuple[int, ...] = (winner,) if winner is not None else ()
        before = range(winner if winner is not None else len(rules))
        blocking = tuple(i for i in before if truths[i] is None and rules[i].rank > rank)
    else:
        fired = [i for i, truth in enumerate(truths) if truth is True]
        rank = max((rules[i].rank for i in fired), default=compiled.default.rank)
        deciding = tuple(i for i in fired if rules[i].rank == rank)
        blocking = tuple(
            i for i, truth in enumerate(truths) if truth is None and rules[i].rank > rank
        )
    fail_safe = False
    if rank == ADMIT and (blocking or any(facts[key] is None for key in compiled.must_answer)):
        rank, deciding, fail_safe = DEFER, (), True
    return rank, deciding, blocking, fail_safe
