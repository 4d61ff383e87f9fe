"""Exact decisions over missing answers (ruleset format v2): what every completion agrees on.

A *completion* gives every missing answer one of its allowed values. Its outcome is the v1
evaluation of the completed answers, except that is_missing / is_known still test the answers as
given. The v2 outcome is the outcome every completion agrees on; where they disagree it is
`defer`, and `needs` holds exactly the missing answers `x` for which two completions that differ
only in `x` have different outcomes. The proofs and the bounds are in docs/decision-semantics.md.

How: one v1 pass on the answers as given, then range evaluation (expressions.ranges) decides
what the ranges decide; what is left is settled by a depth-first search over the missing answers
the undecided rules read, pruned wherever the ranges decide a whole subtree. The subtrees where
the search stops have one outcome each and partition the completions, which is what makes the
outcome and `needs` exact. Past the bounds the answer is the conservative one (the fail-safe),
and the decision says so (`semantics: "exact-bounded"`).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from recovery_screening.compiler import Advisory, CompiledRuleset, DecisionRule, Domain
from recovery_screening.decision import Trace
from recovery_screening.expressions import Name, Node
from recovery_screening.expressions.closures import MISSING_PREFIX
from recovery_screening.expressions.ranges import (
    ANY,
    BOTH,
    FALSE,
    TRUE,
    UNDEFINED,
    RangeEvaluator,
    build_range_evaluator,
    point,
    truth_mask,
)
from recovery_screening.fields import BandTable, InputField
from recovery_screening.outcomes import ADMIT, DEFER, REFER
from recovery_screening.three_valued import Judge, score_range, trace_v1

MAX_OUTCOME_NODES = 256
"""Subtrees the outcome search may visit; beyond it the decision is the conservative defer."""
MAX_RULE_NODES = 128
"""Subtrees the search for one rule's truth may visit; beyond it the rule stays undecided."""
MAX_ENUMERATED = 101
"""A missing whole number with more allowed values than this is not enumerated."""
MAX_COMPLETIONS = 16384
"""A search over more completions than this is not started (it could not finish in its bound)."""

MEMO_SIZE = 4096
"""Entries a ruleset's memo of a pure function keeps before it starts again."""

_MISSING: Any = object()
ADVISORY = -1
"""The `stage` of an advisory in `_rule_truth`."""


_World = tuple[dict[str, Any], list[tuple[int, ...]], list[int]]
"""(environment, domain masks, decision masks) over the completions of one prefix of a search."""
_OpenRule = tuple[int, RangeEvaluator, frozenset[str]]
"""An undecided rule: (its index, its condition, the names it reads)."""
_OpenDomain = tuple[int, str | None, str | None, tuple[_OpenRule, ...]]
"""A domain with undecided rules: (index, score key, band key: None when not needed, rules)."""
_Plan = tuple[tuple[_OpenDomain, ...], tuple[_OpenRule, ...]]
"""What a search evaluates again below its root (`_Applicant._plan`)."""


class _BoundReached(Exception):
    """The search visited its maximum number of subtrees."""


@dataclass(frozen=True)
class _Item:
    key: str
    points: Callable[[Any], int]
    low: int
    high: int


@dataclass(frozen=True)
class _Instrument:
    total_key: str
    band_key: str
    bands: BandTable | None
    items: tuple[_Item, ...]
    subscores: tuple[tuple[str, tuple[str, ...], bool], ...]
    flags: tuple[tuple[str, RangeEvaluator | None], ...]
    derived: tuple[str, ...]
    """The names `_Applicant._scored` writes."""


class _Program:
    """A compiled ruleset's range evaluators and answer domains, built once per ruleset."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.fields: dict[str, str] = {f.name: f.kind for f in compiled.inputs.fields}
        self.whole: dict[str, Any] = {}
        self.values: dict[str, tuple[Any, ...] | None] = {}
        self.fill: dict[str, Any] = {}
        for f in compiled.inputs.fields:
            self.whole[f.name], self.values[f.name], self.fill[f.name] = _answer_domain(f)
        derived = {
            key for domain in compiled.domains for key in (domain.score_key, domain.band_key)
        }
        for instrument in compiled.instruments:
            derived |= {instrument.total_key, instrument.band_key}
            derived |= {s.key for s in instrument.subscores} | {f.key for f in instrument.flags}
        # names that are neither answers nor derived (e.g. a reserved date): never enumerated
        for name, value_type in compiled.symbols.items():
            if name not in self.fields and name not in derived:
                self.fields[name] = value_type.kind
                self.whole[name], self.values[name], self.fill[name] = _kind_domain(value_type.kind)
        self.order = {name: index for index, name in enumerate(self.fields)}
        self.domain_index = {
            key: index
            for index, domain in enumerate(compiled.domains)
            for key in (domain.score_key, domain.band_key)
        }
        self.instruments = tuple(self._instrument(i) for i in compiled.instruments)
        self.item_of: dict[str, tuple[int, _Item, bool]] = {
            item.key: (index, item, any(item.key in keys for _, keys, _ in instrument.subscores))
            for index, instrument in enumerate(self.instruments)
            for item in instrument.items
        }
        self.domain_conditions = tuple(
            tuple(build_range_evaluator(rule.expression) for rule in domain.rules)
            for domain in compiled.domains
        )
        self.decision_conditions = tuple(
            build_range_evaluator(rule.expression) for rule in compiled.decisions
        )
        self.advisory_conditions = tuple(
            build_range_evaluator(rule.expression) for rule in compiled.advisories
        )
        # pure functions of their keys, shared by the evaluations of this ruleset (each dict
        # operation is atomic, and a value computed twice is the same value)
        self._outcomes: dict[tuple[int, ...], int | None] = {}
        self._ranges: dict[tuple[int, tuple[int, ...]], tuple[Any, Any]] = {}
        self._bands: dict[tuple[int, int, int], frozenset[str | None]] = {}
        self._domains_read: dict[tuple[str, ...], tuple[int, ...]] = {}  # keys: rules' references
        self.domain_reads = tuple(
            tuple(_names_read(rule.expression) for rule in domain.rules)
            for domain in compiled.domains
        )
        self.decision_reads = tuple(_names_read(rule.expression) for rule in compiled.decisions)
        self.instrument_keys = tuple(
            frozenset({i.total_key, i.band_key, *i.derived}) for i in self.instruments
        )

    def outcome(self, masks: Sequence[int]) -> int | None:
        """`outcome_over` these decision rule masks, remembered (it is a function of them)."""
        key = tuple(masks)
        found = self._outcomes.get(key, _MISSING)
        if found is _MISSING:
            if len(self._outcomes) >= MEMO_SIZE:
                self._outcomes.clear()
            found = self._outcomes[key] = outcome_over(self.compiled, key)
        return found  # type: ignore[no-any-return]

    def domain_range(self, index: int, masks: tuple[int, ...]) -> tuple[Any, Any]:
        """`_domain_range` of domain `index` under these masks, remembered."""
        key = (index, masks)
        found = self._ranges.get(key)
        if found is None:
            if len(self._ranges) >= MEMO_SIZE:
                self._ranges.clear()
            found = self._ranges[key] = _domain_range(self.compiled.domains[index], masks)
        return found

    def bands_within(self, index: int, low: int, high: int) -> frozenset[str | None]:
        """The bands of instrument `index` that meet [low, high], remembered."""
        key = (index, low, high)
        found = self._bands.get(key)
        if found is None:
            bands = self.instruments[index].bands
            assert bands is not None
            if len(self._bands) >= MEMO_SIZE:
                self._bands.clear()
            found = self._bands[key] = _bands_within(bands, low, high)
        return found

    def domains_read(self, references: Sequence[str]) -> tuple[int, ...]:
        """The domains whose scores `references` read, directly or through other domains, in
        evaluation order."""
        key = tuple(references)
        known = self._domains_read.get(key)
        if known is None:
            known = self._domains_read[key] = self._find_domains_read(key)
        return known

    def _find_domains_read(self, references: Sequence[str]) -> tuple[int, ...]:
        found: set[int] = set()
        pending = [self.domain_index[r] for r in references if r in self.domain_index]
        while pending:
            index = pending.pop()
            if index in found:
                continue
            found.add(index)
            for rule in self.compiled.domains[index].rules:
                pending.extend(
                    self.domain_index[r] for r in rule.references if r in self.domain_index
                )
        return tuple(sorted(found))

    def _instrument(self, instrument: Any) -> _Instrument:
        items = []
        for key, points in instrument.points:
            values = self.values[key]
            assert values is not None, "instrument items have finite answers"
            scored = [points(value) for value in values]
            items.append(_Item(key, points, min(scored), max(scored)))
        flags = tuple(
            (flag.key, _evaluator(flag.expression)) for flag in instrument.flags
        )  # fmt: skip
        subscores = tuple((s.key, s.item_keys, s.mean) for s in instrument.subscores)
        derived = [instrument.total_key]
        if instrument.bands is not None:
            derived.append(instrument.band_key)
        derived.extend(key for key, _, _ in subscores)
        derived.extend(key for key, _ in flags)
        return _Instrument(
            instrument.total_key,
            instrument.band_key,
            instrument.bands,
            tuple(items),
            subscores,
            flags,
            tuple(derived),
        )


def _names_read(node: Node) -> frozenset[str]:
    """Every name `node` reads (its range evaluator reads nothing else that a search changes)."""
    found: set[str] = set()
    pending = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, Name):
            found.add(current.name)
        pending.extend(current.children())
    return frozenset(found)


def _evaluator(node: Node | None) -> RangeEvaluator | None:
    return None if node is None else build_range_evaluator(node)


def _answer_domain(f: InputField) -> tuple[Any, tuple[Any, ...] | None, Any]:
    """(the range of every allowed answer, the answers to enumerate or None, one answer)."""
    kind = f.kind
    if kind == "boolean":
        return BOTH, (False, True), False
    if kind == "enum":
        return frozenset(f.values), tuple(f.values), f.values[0]
    if kind in ("integer", "number"):
        if f.values:
            values = tuple(sorted(f.values))
            return (values[0], values[-1], False), values, values[0]
        low = f.minimum if f.minimum is not None else -math.inf
        high = f.maximum if f.maximum is not None else math.inf
        enumerated: tuple[Any, ...] | None = None
        finite = math.isfinite(low) and math.isfinite(high)
        if kind == "integer" and finite and high - low < MAX_ENUMERATED:
            enumerated = tuple(range(math.ceil(low), math.floor(high) + 1))
        if math.isfinite(low):
            one: Any = math.ceil(low) if kind == "integer" else low
        elif math.isfinite(high):
            one = math.floor(high) if kind == "integer" else high
        else:
            one = 0
        if kind == "number":
            one = float(one)
        return (low, high, False), enumerated, one
    if kind == "date":
        return ANY, None, datetime.date(2000, 1, 1)
    return ANY, None, ""


def _kind_domain(kind: str) -> tuple[Any, None, Any]:
    if kind == "boolean":
        return BOTH, None, False
    if kind in ("integer", "number"):
        return (-math.inf, math.inf, False), None, 0
    if kind == "date":
        return ANY, None, datetime.date(2000, 1, 1)
    return ANY, None, ""


def _program(compiled: CompiledRuleset) -> _Program:
    program = compiled.__dict__.get("_exact_program")
    if program is None:
        program = _Program(compiled)
        object.__setattr__(compiled, "_exact_program", program)
    return program


def _bands_within(bands: BandTable, low: Any, high: Any) -> frozenset[str | None]:
    return frozenset(b.name for b in bands.bands if b.minimum <= high and b.maximum >= low)


def _truth(mask: int) -> object:
    """A decided mask as a v1 truth; an undecided one as None."""
    if mask == TRUE:
        return True
    if mask == FALSE:
        return False
    return None


class _Applicant:
    """One applicant's answers, what the v1 pass on them found, and their range evaluation."""

    def __init__(self, program: _Program, answers: Mapping[str, object], v1: Trace) -> None:
        self.program = program
        self.answers = answers
        self.missing = frozenset(name for name in program.fields if answers.get(name) is None)
        self.markers = {
            MISSING_PREFIX + name: True for name, value in v1.facts.items() if value is None
        }
        self.domain_masks: list[tuple[int, ...]] = [
            tuple(truth_mask(t) if t is not None else 0 for t in truths)
            for truths, _, _ in v1.domains
        ]
        self.decision_masks: list[int] = [truth_mask(t) if t is not None else 0 for t in v1.truths]
        self.advisory_masks: list[int] = [
            truth_mask(t) if t is not None else 0 for t in v1.advisory_truths
        ]
        self.dependencies_of = program.compiled.dependencies
        self.root: dict[str, Any] = {}
        self.last_env: dict[str, Any] = {}
        self._probes: list[Trace] | None = None
        self.answered: dict[str, Any] | None = None
        """The answers and instrument ranges over all completions (what no mask changes)."""
        self.free_items = tuple(
            tuple(item for item in instrument.items if answers[item.key] is None)
            for instrument in program.instruments
        )
        self.item_ranges: list[dict[str, tuple[int, int]]] = []
        self.item_totals: list[tuple[int, int]] = []
        for instrument in program.instruments:
            ranges: dict[str, tuple[int, int]] = {}
            for item in instrument.items:
                value = answers[item.key]
                if value is None:
                    ranges[item.key] = (item.low, item.high)
                else:
                    scored = item.points(value)
                    ranges[item.key] = (scored, scored)
            self.item_ranges.append(ranges)
            self.item_totals.append(
                (sum(low for low, _ in ranges.values()), sum(high for _, high in ranges.values()))
            )
        self._scores: dict[tuple[object, ...], list[tuple[str, Any]]] = {}
        self._reads: dict[tuple[str, ...], frozenset[str]] = {}
        self.refresh()

    def probes(self) -> list[Trace]:
        """Two completions evaluated once: every missing answer at its first allowed value,
        then at its last. A rule (or outcome) they disagree on is undecided, with no search."""
        if self._probes is None:
            firsts: dict[str, object] = {}
            lasts: dict[str, object] = {}
            for name in self.missing:
                values = self.program.values[name]
                if values:
                    firsts[name], lasts[name] = values[0], values[-1]
            self._probes = [self.completion(firsts), self.completion(lasts)]
        return self._probes

    def completions(self, variables: Sequence[str]) -> int:
        """How many completions `variables` have (at most MAX_COMPLETIONS + 1)."""
        count = 1
        for name in variables:
            values = self.program.values[name]
            if values is None:
                return MAX_COMPLETIONS + 1
            count = min(count * len(values), MAX_COMPLETIONS + 1)
        return count

    def refresh(self) -> None:
        """Evaluate everything over all completions; decided masks are kept as they are."""
        program = self.program
        if self.answered is None:
            env: dict[str, Any] = dict(self.markers)
            answers = self.answers
            for name, kind in program.fields.items():
                value = answers.get(name)
                env[name] = program.whole[name] if value is None else point(value, kind)
            for index in range(len(program.instruments)):
                self._score(index, env, {})
            self.answered = env
        self.root = self.answered  # `world` of every domain writes every domain's score and band
        everything = range(len(program.compiled.domains))
        self.domain_masks, self.decision_masks = self.world(
            everything, range(len(program.decision_conditions))
        )
        self.forget_reads()
        self.root = self.last_env
        self.advisory_masks = [
            mask if mask in (TRUE, FALSE) else condition(self.root)
            for condition, mask in zip(
                program.advisory_conditions, self.advisory_masks, strict=True
            )
        ]

    def world(
        self, domains: Sequence[int], decisions: Sequence[int]
    ) -> tuple[list[tuple[int, ...]], list[int]]:
        """Masks over all completions, re-evaluating only `domains` (in evaluation order) and
        `decisions`; the other rules keep their masks. (`_extend` gives the masks over the
        completions of one more answer.)"""
        program = self.program
        compiled = program.compiled
        env = dict(self.root)
        domain_masks = list(self.domain_masks)
        for index in domains:
            domain = compiled.domains[index]
            conditions = program.domain_conditions[index]
            current = domain_masks[index]
            masks = tuple(
                mask if mask in (TRUE, FALSE) else condition(env)
                for condition, mask in zip(conditions, current, strict=True)
            )
            domain_masks[index] = masks
            env[domain.score_key], env[domain.band_key] = program.domain_range(index, masks)
        decision_masks = list(self.decision_masks)
        for index in decisions:
            mask = decision_masks[index]
            if mask not in (TRUE, FALSE):
                decision_masks[index] = program.decision_conditions[index](env)
        self.last_env = env
        return domain_masks, decision_masks

    def _score(self, index: int, env: dict[str, Any], assignment: Mapping[str, object]) -> None:
        """Write instrument `index`'s total, band, subscores and flags over the completions of
        `assignment` into `env`. They are a function of the values `assignment` gives its
        unanswered items (the rest of what they read is this applicant's), so they are
        remembered by those."""
        key = (index, *[assignment.get(item.key, _MISSING) for item in self.free_items[index]])
        derived = self._scores.get(key)
        if derived is None:
            instrument = self.program.instruments[index]
            self._scored(index, instrument, env, assignment)
            derived = self._scores[key] = [(name, env[name]) for name in instrument.derived]
        else:
            env.update(derived)

    def _scored(
        self,
        index: int,
        instrument: _Instrument,
        env: dict[str, Any],
        assignment: Mapping[str, object],
    ) -> None:
        ranges = self.item_ranges[index]
        low, high = self.item_totals[index]
        assigned: dict[str, tuple[int, int]] | None = None
        for item in self.free_items[index]:
            value = assignment.get(item.key, _MISSING)
            if value is not _MISSING:
                scored = item.points(value)
                low += scored - item.low  # whole numbers: the sum of the items' ranges
                high += scored - item.high
                if assigned is None:
                    assigned = dict(ranges)
                assigned[item.key] = (scored, scored)
        if assigned is not None:
            ranges = assigned
        env[instrument.total_key] = (low, high, False)
        if instrument.bands is not None:
            env[instrument.band_key] = self.program.bands_within(index, low, high)
        for key, item_keys, mean in instrument.subscores:
            sub_low = sum(ranges[k][0] for k in item_keys)
            sub_high = sum(ranges[k][1] for k in item_keys)
            if mean:
                env[key] = (sub_low / len(item_keys), sub_high / len(item_keys), False)
            else:
                env[key] = (sub_low, sub_high, False)
        for key, condition in instrument.flags:
            env[key] = BOTH | UNDEFINED if condition is None else condition(env)

    # --- completions --------------------------------------------------------------------

    def completion(self, assignment: Mapping[str, object]) -> Trace:
        """The v1 evaluation of one completion that extends `assignment` (any values for the
        other missing answers), with is_missing still testing the answers as given."""
        program = self.program
        facts = dict(self.answers)
        for name in self.missing:
            value = assignment.get(name, _MISSING)
            facts[name] = program.fill[name] if value is _MISSING else value
        facts.update(self.markers)
        return trace_v1(program.compiled, facts)

    def reads(self, references: Sequence[str]) -> frozenset[str]:
        """The missing answers behind `references`: for a domain score or band, those its
        undecided rules read. (Remembered until the domain masks change: `forget_reads`.)"""
        key = tuple(references)
        found = self._reads.get(key)
        if found is None:
            found = self._reads[key] = frozenset(self._find_reads(key))
        return found

    def forget_reads(self) -> None:
        """The domain masks changed: what `reads` remembered may no longer hold."""
        self._reads.clear()

    def _find_reads(self, references: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for reference in references:
            if reference in self.missing:
                found.add(reference)
            elif reference in self.program.domain_index:
                index = self.program.domain_index[reference]
                domain = self.program.compiled.domains[index]
                for rule, mask in zip(domain.rules, self.domain_masks[index], strict=True):
                    if mask not in (TRUE, FALSE):
                        found |= self.reads(rule.references)
            else:
                keys = self.dependencies_of.get(reference, ())
                found.update(key for key in keys if key in self.missing)
        return found

    def ordered(self, names: AbstractSet[str]) -> tuple[str, ...]:
        return tuple(sorted(names, key=self.program.order.__getitem__))

    def search(
        self,
        variables: tuple[str, ...],
        domains: Sequence[int],
        decisions: Sequence[int],
        settled: Callable[[list[tuple[int, ...]], list[int]], int | None],
        at_leaf: Callable[[Trace], int],
        limit: int,
        *,
        certain_bound: bool = False,
        alone: tuple[int, int] | None = None,
    ) -> Iterator[tuple[tuple[object, ...], int]]:
        """Depth-first over `variables` (in this order): yield (prefix, value) for every subtree
        where `settled(masks)` is not None, and for every full assignment where it is None
        (`at_leaf` of its completion). Raises _BoundReached after `limit` subtrees; with
        `certain_bound`, for a caller that keeps nothing of a search that reaches its bound, as
        soon as the subtrees visited and those waiting to be visited are more than `limit`.
        With `alone` = (domain, rule), for a `settled` that reads no other mask of that domain,
        which nothing else evaluated reads, the other rules of that domain are left as they
        are."""
        values = self.program.values
        plan = self._plan(domains, decisions, alone)
        nodes = 0
        stack: list[tuple[tuple[object, ...], _World | None]] = [((), None)]
        while stack:
            prefix, parent = stack.pop()
            nodes += 1
            if nodes > limit:
                raise _BoundReached
            if parent is None:
                domain_masks, decision_masks = self.world(domains, decisions)
                state: _World = (self.last_env, domain_masks, decision_masks)
            else:
                state = self._extend(parent, variables, prefix, plan)
                self.last_env = state[0]
            found = settled(state[1], state[2])
            if found is not None:
                yield prefix, found
            elif len(prefix) == len(variables):
                yield prefix, at_leaf(self.completion(dict(zip(variables, prefix, strict=True))))
            else:
                choices = values[variables[len(prefix)]]
                assert choices is not None
                stack.extend(((*prefix, value), state) for value in reversed(choices))
                if certain_bound and nodes + len(stack) > limit:
                    raise _BoundReached  # every prefix on the stack is a subtree still to visit

    def _plan(
        self, domains: Sequence[int], decisions: Sequence[int], alone: tuple[int, int] | None
    ) -> _Plan:
        """What `world(domains, decisions)` evaluates again: the rules of those domains (in
        evaluation order) and those decision rules that are undecided over all completions, each
        with the names it reads; of the domain of `alone`, its rule only, and not its score."""
        program = self.program
        compiled = program.compiled
        open_domains: list[_OpenDomain] = []
        for index in domains:
            domain = compiled.domains[index]
            rules = tuple(
                (rule, program.domain_conditions[index][rule], program.domain_reads[index][rule])
                for rule, mask in enumerate(self.domain_masks[index])
                if mask != TRUE
                and mask != FALSE
                and (alone is None or alone[0] != index or alone[1] == rule)
            )
            if rules and alone is not None and alone[0] == index:
                open_domains.append((index, None, None, rules))
            elif rules:
                open_domains.append((index, domain.score_key, domain.band_key, rules))
        open_decisions = tuple(
            (index, program.decision_conditions[index], program.decision_reads[index])
            for index in decisions
            if self.decision_masks[index] != TRUE and self.decision_masks[index] != FALSE
        )
        return tuple(open_domains), open_decisions

    def _extend(
        self,
        parent: _World,
        variables: tuple[str, ...],
        prefix: tuple[object, ...],
        plan: _Plan,
    ) -> _World:
        """The world of `prefix` from that of its parent prefix (one answer fewer): only what
        reads the newly assigned answer, directly or through scores it changes, is evaluated
        again; everything else keeps the parent's value, which is its value here too."""
        program = self.program
        name = variables[len(prefix) - 1]
        env = dict(parent[0])
        env[name] = point(prefix[-1], program.fields[name])
        changed = {name}
        scored = program.item_of.get(name)
        if scored is not None:
            index, item, in_subscore = scored
            if in_subscore:
                self._score(index, env, dict(zip(variables, prefix, strict=False)))
            else:
                _add_item(program, index, item, prefix[-1], env)
            changed |= program.instrument_keys[index]
        open_domains, open_decisions = plan
        domain_masks = parent[1]
        copied = False
        for index, score_key, band_key, rules in open_domains:
            masks = _reevaluated(rules, env, changed, domain_masks[index])
            if masks is None:
                continue
            if not copied:
                domain_masks = list(domain_masks)
                copied = True
            domain_masks[index] = settled_masks = tuple(masks)
            if score_key is None or band_key is None:
                continue  # its score is read by nothing evaluated here
            score, band = program.domain_range(index, settled_masks)
            if env[score_key] != score:
                env[score_key] = score
                changed.add(score_key)
            if env[band_key] != band:
                env[band_key] = band
                changed.add(band_key)
        decision_masks = _reevaluated(open_decisions, env, changed, parent[2])
        return env, domain_masks, parent[2] if decision_masks is None else decision_masks


def _add_item(
    program: _Program, index: int, item: _Item, value: object, env: dict[str, Any]
) -> None:
    """What `_Applicant._scored` writes for instrument `index` once one more of its unanswered
    items, in no subscore, has `value`: its range (item.low, item.high) in the total becomes
    its points (whole numbers, so the sum is the same), and the band and flags follow."""
    instrument = program.instruments[index]
    points = item.points(value)
    low, high, _ = env[instrument.total_key]
    low += points - item.low
    high += points - item.high
    env[instrument.total_key] = (low, high, False)
    if instrument.bands is not None:
        env[instrument.band_key] = program.bands_within(index, low, high)
    for key, condition in instrument.flags:
        env[key] = BOTH | UNDEFINED if condition is None else condition(env)


def _reevaluated(
    rules: Sequence[_OpenRule],
    env: Mapping[str, Any],
    changed: set[str],
    masks: Sequence[int],
) -> list[int] | None:
    """`masks` with each of `rules` (index, condition, names read) that reads a changed name
    evaluated again; None when no mask changes."""
    updated: list[int] | None = None
    for index, condition, reads in rules:
        if reads.isdisjoint(changed):
            continue
        found = condition(env)
        if found != masks[index]:
            if updated is None:
                updated = list(masks)
            updated[index] = found
    return updated


def _domain_range(domain: Domain, masks: tuple[int, ...]) -> tuple[Any, Any]:
    """The domain's score interval and its possible bands, under these rule masks."""
    if any(mask & UNDEFINED or not mask for mask in masks):
        low, high = domain.reachable
        return (low, high, True), frozenset((*domain.bands.names, None))
    low, high = score_range(domain, tuple(_truth(mask) for mask in masks))
    return (low, high, False), _bands_within(domain.bands, low, high)


def outcome_over(compiled: CompiledRuleset, masks: Sequence[int]) -> int | None:
    """The outcome rank every completion of these rule masks has (the v1 outcome of a complete
    applicant), or None when the masks alone do not fix it."""
    rules = compiled.decisions
    if compiled.hit_policy == "first":
        for rule, mask in zip(rules, masks, strict=True):
            if mask == FALSE:
                continue
            return rule.rank if mask == TRUE else None
        return compiled.default.rank
    low = compiled.default.rank
    high = low
    for rule, mask in zip(rules, masks, strict=True):
        if mask & TRUE:
            if mask == TRUE:
                low = max(low, rule.rank)
            high = max(high, rule.rank)
    if low != high:
        return None
    if low == ADMIT:
        above = [mask for rule, mask in zip(rules, masks, strict=True) if rule.rank > ADMIT]
        if UNDEFINED in above:
            return DEFER  # undefined in every completion: the fail-safe of a complete applicant
        if any(mask & UNDEFINED for mask in above):
            return None
    return low


def _affecting(compiled: CompiledRuleset, masks: Sequence[int]) -> list[int]:
    """Indexes of the undecided decision rules whose truth can change the outcome."""
    rules = compiled.decisions
    undecided = [i for i, mask in enumerate(masks) if mask not in (TRUE, FALSE)]
    if compiled.hit_policy == "first":
        first_true = next((i for i, mask in enumerate(masks) if mask == TRUE), len(rules))
        return [i for i in undecided if i < first_true]
    certain = max(
        (rule.rank for rule, mask in zip(rules, masks, strict=True) if mask == TRUE),
        default=compiled.default.rank,
    )
    floor = max(certain, compiled.default.rank)
    return [i for i in undecided if rules[i].rank > floor]


def trace_exact(
    compiled: CompiledRuleset,
    facts: dict[str, object],
    backend: str,
    judge: Judge | None,
) -> Trace:
    """The v2 decision: exact over the completions of the missing answers (within the bounds)."""
    answers = dict(facts)
    v1 = trace_v1(compiled, facts, backend, judge)
    missing_items = any(
        answers[key] is None for instrument in compiled.instruments for key, _ in instrument.points
    )
    undecided = None in v1.truths or None in v1.advisory_truths
    if not (missing_items or undecided or any(None in truths for truths, _, _ in v1.domains)):
        return v1  # every rule is decided as the answers stand: v1 is exact here
    applicant = _Applicant(_program(compiled), answers, v1)
    exact = _settle_rule_truths(applicant)
    ranks, influential, complete = _outcome_ranks(applicant)
    exact = exact and complete
    truths = tuple(_truth(mask) for mask in applicant.decision_masks)
    must_missing = [key for key in compiled.must_answer if answers[key] is None]
    rank, deciding, fail_safe = _decided(compiled, ranks, truths, bool(must_missing))
    needs = set(influential)
    if rank != REFER:
        needs.update(must_missing)
    reported, domain_results = _reported(applicant, v1.facts)
    advisory_truths = tuple(_truth(mask) for mask in applicant.advisory_masks)
    return Trace(
        compiled,
        reported,
        domain_results,
        truths,
        rank,
        deciding,
        fail_safe,
        tuple(sorted(needs)),
        backend,
        _missing_of(applicant, compiled.decisions, truths),
        advisory_truths,
        _missing_of(applicant, compiled.advisories, advisory_truths),
        exact,
    )


def _settle_rule_truths(applicant: _Applicant) -> bool:
    """Give each undecided rule (of the domains, then the decisions, then the advisories) the
    truth every completion agrees on, where they agree; whether every search was complete."""
    program = applicant.program
    compiled = program.compiled
    exact = True
    settled = False
    for stage, domain in enumerate(compiled.domains):
        for index, rule in enumerate(domain.rules):
            mask = applicant.domain_masks[stage][index]
            if mask in (TRUE, FALSE):
                continue
            found, complete = _rule_truth(
                applicant,
                mask,
                rule.references,
                (*program.domains_read(rule.references), stage),
                (),
                stage,
                index,
            )
            exact = exact and complete
            if found is not None and found != mask:
                masks = list(applicant.domain_masks[stage])
                masks[index] = found
                applicant.domain_masks[stage] = tuple(masks)
                applicant.forget_reads()
                settled = True
    for index, decision_rule in enumerate(compiled.decisions):
        mask = applicant.decision_masks[index]
        if mask in (TRUE, FALSE):
            continue
        found, complete = _rule_truth(
            applicant,
            mask,
            decision_rule.references,
            program.domains_read(decision_rule.references),
            (index,),
            None,
            index,
        )
        exact = exact and complete
        if found is not None and found != mask:
            applicant.decision_masks[index] = found
            settled = True
    if settled:
        applicant.refresh()  # (with no mask changed, it would find what it found before)
    for index, advisory in enumerate(compiled.advisories):
        mask = applicant.advisory_masks[index]
        if mask in (TRUE, FALSE):
            continue
        found, complete = _rule_truth(
            applicant,
            mask,
            advisory.references,
            program.domains_read(advisory.references),
            (),
            ADVISORY,
            index,
        )
        exact = exact and complete
        if found is not None:
            applicant.advisory_masks[index] = found
    return exact


def _outcome_ranks(applicant: _Applicant) -> tuple[set[int], set[str], bool]:
    """(the outcome ranks the completions reach, jointly over the missing answers that the
    outcome-changing rules read; the answers among them that change the outcome; whether the
    search was complete: past its bound, every outcome is possible and every answer needed)."""
    compiled = applicant.program.compiled
    rank = outcome_over(compiled, applicant.decision_masks)
    if rank is not None:
        return {rank}, set(), True
    affecting = _affecting(compiled, applicant.decision_masks)
    references = [r for i in affecting for r in compiled.decisions[i].references]
    variables = applicant.ordered(applicant.reads(references))
    cubes: list[tuple[tuple[object, ...], int]] = []
    try:
        if applicant.completions(variables) > MAX_COMPLETIONS:
            raise _BoundReached
        for prefix, found_rank in applicant.search(
            variables,
            applicant.program.domains_read(references),
            affecting,
            lambda _, d: applicant.program.outcome(d),
            lambda t: t.rank,
            MAX_OUTCOME_NODES,
            certain_bound=True,
        ):
            cubes.append((prefix, found_rank))
    except _BoundReached:
        return {ADMIT, REFER}, set(variables), False
    return {found_rank for _, found_rank in cubes}, _influential(variables, cubes), True


def _decided(
    compiled: CompiledRuleset,
    ranks: set[int],
    truths: tuple[object, ...],
    must_missing: bool,
) -> tuple[int, tuple[int, ...], bool]:
    """(outcome rank, deciding rule indexes, fail-safe): one rank reached decides, unless it is
    admit with a must-answer input missing (the fail-safe defer); several ranks defer, on the
    defer rules that apply (the fail-safe when none does, or under the `first` hit policy)."""
    if len(ranks) == 1:
        (rank,) = ranks
        if rank == ADMIT and must_missing:
            return DEFER, (), True
        return rank, _deciding(compiled, truths, rank), False
    deciding: tuple[int, ...] = ()
    if compiled.hit_policy != "first":
        rules = compiled.decisions
        deciding = tuple(i for i, t in enumerate(truths) if t is True and rules[i].rank == DEFER)
    return DEFER, deciding, not deciding


def _reported(
    applicant: _Applicant, facts: Mapping[str, object]
) -> tuple[dict[str, object], tuple[tuple[tuple[object, ...], int, int], ...]]:
    """What the decision reports, following the settled truths: the facts with each domain's
    score and band (where every completion agrees), instrument bands, subscores and flags now
    known; and each domain's (rule truths, lowest score, highest score)."""
    compiled = applicant.program.compiled
    reported = dict(facts)
    domain_results = []
    for domain, found_masks in zip(compiled.domains, applicant.domain_masks, strict=True):
        domain_truths = tuple(_truth(mask) for mask in found_masks)
        low, high = score_range(domain, domain_truths)
        reported[domain.score_key] = low if low == high else None
        band_low = domain.bands.band_of(low)
        same = low == high or band_low == domain.bands.band_of(high)
        reported[domain.band_key] = band_low if same else None
        domain_results.append((domain_truths, low, high))
    for instrument in compiled.instruments:
        if instrument.bands is not None and reported[instrument.band_key] is None:
            bands = applicant.root[instrument.band_key]
            if len(bands) == 1:
                reported[instrument.band_key] = next(iter(bands))
        for subscore in instrument.subscores:
            low, high, _ = applicant.root[subscore.key]
            if reported[subscore.key] is None and low == high:
                reported[subscore.key] = low
        for flag in instrument.flags:
            if reported[flag.key] is None:
                reported[flag.key] = _truth(applicant.root[flag.key])
    return reported, tuple(domain_results)


def _missing_of(
    applicant: _Applicant, rules: Sequence[DecisionRule | Advisory], truths: tuple[object, ...]
) -> tuple[tuple[str, ...], ...]:
    """For each rule, the missing answers it reads when it is undecided (else none)."""
    return tuple(
        applicant.ordered(applicant.reads(rule.references)) if truth is None else ()
        for rule, truth in zip(rules, truths, strict=True)
    )


def _settled_reader(
    applicant: _Applicant, stage: int | None, index: int
) -> Callable[[list[tuple[int, ...]], list[int]], int | None]:
    """The rule's mask once the interval masks settle it (None while they do not)."""

    def settled(domain_masks: list[tuple[int, ...]], decision_masks: list[int]) -> int | None:
        if stage == ADVISORY:
            found = applicant.program.advisory_conditions[index](applicant.last_env)
        elif stage is None:
            found = decision_masks[index]
        else:
            found = domain_masks[stage][index]
        return found if found in (TRUE, FALSE, UNDEFINED) else None

    return settled


def _leaf_reader(stage: int | None, index: int) -> Callable[[Trace], int]:
    """The rule's truth mask in the trace of one complete applicant."""

    def at_leaf(trace: Trace) -> int:
        if stage == ADVISORY:
            return truth_mask(trace.advisory_truths[index])
        if stage is None:
            return truth_mask(trace.truths[index])
        return truth_mask(trace.domains[stage][0][index])

    return at_leaf


def _rule_truth(
    applicant: _Applicant,
    mask: int,
    references: Sequence[str],
    domains: Sequence[int],
    decisions: Sequence[int],
    stage: int | None,
    index: int,
) -> tuple[int | None, bool]:
    """(the mask of rule `index` of domain `stage` (of the decision rules when None, of the
    advisories when ADVISORY) when every completion agrees on its truth, else None; whether the
    search was complete)."""
    if mask == UNDEFINED:
        return UNDEFINED, True
    at_leaf = _leaf_reader(stage, index)
    seen = 0
    for probe in applicant.probes():
        seen |= at_leaf(probe)
    if seen not in (TRUE, FALSE, UNDEFINED):
        return None, True  # two completions disagree: undecided, exactly
    variables = applicant.ordered(applicant.reads(references))
    settled = _settled_reader(applicant, stage, index)
    if applicant.completions(variables) > MAX_COMPLETIONS:
        return None, False
    alone = None
    domains_read = applicant.program.domains_read
    if stage is not None and stage != ADVISORY and stage not in domains_read(references):
        alone = (stage, index)  # nothing the search evaluates reads this rule's domain
    try:
        for _, found in applicant.search(
            variables, domains, decisions, settled, at_leaf, MAX_RULE_NODES, alone=alone
        ):
            seen |= found
            if seen not in (TRUE, FALSE, UNDEFINED):
                return None, True
    except _BoundReached:
        return None, False
    return seen, True


def _deciding(compiled: CompiledRuleset, truths: Sequence[object], rank: int) -> tuple[int, ...]:
    """The rules that decide an outcome every completion agrees on: those of its rank true in
    every completion; failing those, those of its rank that hold in some completion (the
    outcome is certain, its reason is one of them); the default outcome when it is the default's."""
    rules = compiled.decisions
    if compiled.hit_policy == "first":
        first = next((i for i, t in enumerate(truths) if t is not False), None)
        if first is None:
            return ()
        if truths[first] is True and rules[first].rank == rank:
            return (first,)
        last = next((i for i, t in enumerate(truths) if t is True), len(rules) - 1)
        possible = tuple(
            i for i in range(first, last + 1) if truths[i] is not False and rules[i].rank == rank
        )
        return () if rank == compiled.default.rank and truths[last] is not True else possible
    certain = tuple(i for i, t in enumerate(truths) if t is True and rules[i].rank == rank)
    if certain or rank == compiled.default.rank:
        return certain
    return tuple(i for i, t in enumerate(truths) if t is None and rules[i].rank == rank)


def _influential(
    variables: tuple[str, ...], cubes: list[tuple[tuple[object, ...], int]]
) -> set[str]:
    """The variables x for which two completions that differ only in x have different outcomes.

    The cubes (a prefix of `variables` fixed, the rest free) partition the completions and each
    has one outcome, so such a pair exists iff two cubes with different outcomes conflict in x
    alone."""
    # a pair conflicts in position p alone iff the longer one's first len(shorter) values are
    # the shorter one's but at p: index every cube by each of its prefixes with one position
    # left out, then look each cube up by itself with one position left out
    index: dict[tuple[int, int, tuple[object, ...]], dict[object, set[int]]] = {}
    for cube, rank in cubes:
        for length in range(1, len(cube) + 1):
            for position in range(length):
                key = (length, position, cube[:position] + cube[position + 1 : length])
                index.setdefault(key, {}).setdefault(cube[position], set()).add(rank)
    found: set[str] = set()
    for cube, rank in cubes:
        for position, value in enumerate(cube):
            if variables[position] in found:
                continue
            others = index[(len(cube), position, cube[:position] + cube[position + 1 :])]
            if any(
                other != value and ranks != {rank} for other, ranks in others.items()
            ):  # fmt: skip
                found.add(variables[position])
    return found


__all__ = ["MAX_OUTCOME_NODES", "MAX_RULE_NODES", "outcome_over", "trace_exact"]
