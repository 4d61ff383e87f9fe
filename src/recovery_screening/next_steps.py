"""Next steps: the smallest changes to actionable answers that make a decision more permissive.

An outer module: `next_steps(decision, ruleset)` takes the core's objects and evaluates every
candidate with `ruleset.evaluate()`, so exact semantics, the fail-safe and missing answers decide
a candidate exactly as they decide any applicant. The search is exact and bounded:

- only answered inputs the ruleset marks `actionable` change, each only in its improving
  direction; waiting (when some input `grows_with_time`) is one more change, "come back in N
  days", which moves those inputs and the screening date on together;
- a set is reported only if no set with fewer changes reaches that outcome (levels of 1, 2, …
  changes are searched in turn, each level completely before the next);
- pruning through the deciding rules: a rule's truth depends only on the answers it reads, so a
  set that changes no answer some blocking rule reads leaves that rule applying and is skipped
  without evaluation;
- never past a safety rule: a rule with `next_steps: false` (every refer rule unless the
  ruleset allows it, every safety rule always) that applies keeps the outcome at least as
  protective as that rule;
- bounded by `max_changes` and `max_evaluations` (a count of evaluations, never a clock), and
  the result says which bound, if any, cut the search short.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recovery_screening.compiler import SCREENING_DATE, CompiledRuleset, DecisionRule
from recovery_screening.errors import ScreeningError
from recovery_screening.expressions.nodes import Call, Comparison, Literal, Name, Node
from recovery_screening.fields import InputField, JsonScalar
from recovery_screening.outcomes import ADMIT, OUTCOMES, Outcome

if TYPE_CHECKING:
    from recovery_screening.decision import Decision
    from recovery_screening.ruleset import Ruleset

MAX_CHANGES = 3
"""Default bound: sets of at most this many changes are searched."""
MAX_EVALUATIONS = 5000
"""Default bound: at most this many candidate applicants are evaluated."""
MAX_WAIT_DAYS = 365
"""Default bound: waiting is considered up to this many days."""
DAYS_PER_MONTH = 31
"""A month of `grows_with_time: months` counts as 31 days, so a date is never suggested early."""
WAIT = "wait"
"""The name of the waiting dimension in a set of changes."""

_MISSING = object()
_ANALYSES: dict[tuple[str, frozenset[str]], tuple[tuple[Node, float], ...] | None] = {}
"""The time comparisons of a ruleset (by content hash) given which growing answers are known:
a memo of a pure function of the ruleset's content, so it never changes a result."""
_SHAPES: dict[str, _Shape] = {}
"""What the search needs of a ruleset (by content hash) whatever the applicant: a memo, as
above."""
_ANALYSES_KEPT = 256


class NextStepsError(ScreeningError):
    """Next steps were asked with a ruleset that did not make the decision."""


@dataclass(frozen=True)
class Change:
    """One changed answer (or the wait) in a set of next steps."""

    input: str
    """The input's name, or `wait`."""
    label: str
    before: JsonScalar
    after: JsonScalar
    """The new answer; for `wait`, the number of days."""
    text: str
    """The change in plain words ("agree to the group agreements")."""
    rules: tuple[str, ...]
    """The rules that stop applying and read this answer."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "label": self.label,
            "before": self.before,
            "after": self.after,
            "text": self.text,
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class StepSet:
    """A smallest set of changes and the outcome it gives."""

    outcome: Outcome
    outcome_label: str | None
    changes: tuple[Change, ...]
    wait_days: int | None
    """Days to wait, when waiting is one of the changes."""
    come_back_after_days: int | None
    """When waiting: the later of the wait and the decision's `rescreen_after_days`."""
    rules: tuple[str, ...]
    """The rules that applied (or were undecided) and no longer hold."""
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "outcome_label": self.outcome_label,
            "changes": [change.to_dict() for change in self.changes],
            "wait_days": self.wait_days,
            "come_back_after_days": self.come_back_after_days,
            "rules": list(self.rules),
            "text": self.text,
        }


@dataclass(frozen=True)
class Hold:
    """What holds the outcome where it is, that no actionable change can lift."""

    rule: str
    """A decision rule's id, or `needs` (unanswered required or safety-critical inputs)."""
    why: str
    """`safety-rule`, `not-passable` (the ruleset keeps next steps from passing it),
    `not-actionable` (it reads no actionable answer) or `needs`."""

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "why": self.why}


_HOLD_TEXT = {
    "safety-rule": "{rule} is a safety rule: next steps never lead past it.",
    "not-passable": "{rule}: the ruleset does not let next steps lead past this rule.",
    "not-actionable": "{rule} reads no answer that a person can change.",
    "needs": "Unanswered required or safety-critical questions hold back admit: answer them "
    "first ({needs}).",
}


@dataclass(frozen=True)
class NextSteps:
    """The smallest sets of changes to actionable answers that give a more permissive outcome.

    `sets` are ordered by outcome (most permissive first), then by size, then in the ruleset's
    order of inputs. `held_by` says what no actionable change can lift: rules, or `needs`
    when unanswered required or safety-critical inputs hold back admit. `bound` is
    None when the search was complete, else `max-changes` or `max-evaluations`.
    """

    outcome: Outcome
    sets: tuple[StepSet, ...]
    held_by: tuple[Hold, ...]
    come_back_after_days: int | None
    """When every set for the most permissive outcome reached involves waiting: the soonest."""
    bound: str | None
    evaluations: int
    max_changes: int
    max_evaluations: int
    actionable: tuple[str, ...] = field(default=())
    """The answered actionable inputs the search could change (and `wait`)."""
    needs: tuple[str, ...] = field(default=())
    """The decision's `needs`: missing answers, which next steps never fill in."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "sets": [step_set.to_dict() for step_set in self.sets],
            "held_by": [hold.to_dict() for hold in self.held_by],
            "come_back_after_days": self.come_back_after_days,
            "bound": self.bound,
            "evaluations": self.evaluations,
            "max_changes": self.max_changes,
            "max_evaluations": self.max_evaluations,
            "actionable": list(self.actionable),
            "needs": list(self.needs),
        }

    def explain(self) -> str:
        """The next steps as plain text for a person."""
        return render_text(self)


@dataclass(frozen=True)
class _Shape:
    """A ruleset's actionable inputs (not instrument items), and for each answer the decision
    rules that read it (through domains and instruments)."""

    actionable: tuple[InputField, ...]
    readers: Mapping[str, tuple[int, ...]]


def _shape(compiled: CompiledRuleset) -> _Shape:
    shape = _SHAPES.get(compiled.content_hash)
    if shape is None:
        readers: dict[str, list[int]] = {}
        for index, rule in enumerate(compiled.decisions):
            for answer in sorted(_answers_read(compiled, rule)):
                readers.setdefault(answer, []).append(index)
        shape = _Shape(
            tuple(
                f
                for f in compiled.inputs.fields
                if f.instrument is None and f.actionable is not None
            ),
            {answer: tuple(indexes) for answer, indexes in readers.items()},
        )
        if len(_SHAPES) >= _ANALYSES_KEPT:
            _SHAPES.clear()
        _SHAPES[compiled.content_hash] = shape
    return shape


@dataclass(frozen=True)
class _Dimension:
    """Something that can change: an actionable input, or the wait (`WAIT`)."""

    name: str
    values: tuple[Any, ...]
    """The new values it can take, least change first (for the wait: days)."""


@dataclass
class _Found:
    assignment: tuple[tuple[int, int], ...]
    """(dimension index, value index) for each change."""
    decision: Decision


def next_steps(
    decision: Decision,
    ruleset: Ruleset | None = None,
    *,
    max_changes: int = MAX_CHANGES,
    max_evaluations: int = MAX_EVALUATIONS,
    max_wait_days: int = MAX_WAIT_DAYS,
) -> NextSteps:
    """The smallest sets of changes to actionable answers that make `decision` more permissive.

    `ruleset` evaluates the candidates (it must be the version that made the decision); by
    default the decision's own compiled ruleset on the native backend, which gives the same
    decisions as every backend.
    """
    if max_changes < 1 or max_evaluations < 1 or max_wait_days < 0:
        raise ValueError("max_changes and max_evaluations must be positive, max_wait_days >= 0")
    compiled = decision.trace.ruleset
    if ruleset is None:
        from recovery_screening.ruleset import Ruleset

        ruleset = Ruleset(compiled, {}, None)
    elif ruleset.content_hash != compiled.content_hash:
        raise NextStepsError(
            f"next steps need the ruleset that made the decision ({compiled.id} "
            f"{compiled.version}), not {ruleset.id} {ruleset.version}"
        )
    return _Search(decision, ruleset, max_changes, max_evaluations, max_wait_days).run()


class _Search:
    def __init__(
        self,
        decision: Decision,
        ruleset: Ruleset,
        max_changes: int,
        max_evaluations: int,
        max_wait_days: int,
    ) -> None:
        self.decision = decision
        self.ruleset = ruleset
        self.compiled: CompiledRuleset = decision.trace.ruleset
        self.facts = decision.facts
        self.max_changes = max_changes
        self.max_evaluations = max_evaluations
        self.max_wait_days = max_wait_days
        self.evaluations = 0
        self.rank = decision.trace.rank
        self.truths = decision.trace.truths
        shape = _shape(self.compiled)
        self.fields = {f.name: f for f in shape.actionable}
        """The actionable inputs, by name."""
        self.growing = {
            f.name: f.actionable.grows_with_time
            for f in self.fields.values()
            if f.actionable is not None
            and f.actionable.grows_with_time
            and self.facts.get(f.name) is not None
        }
        self.dimensions = self._dimensions()
        self.reads = self._rule_dimensions(shape.readers)

    @functools.cached_property
    def base(self) -> dict[str, Any]:
        """The applicant as given: built only when a candidate is evaluated."""
        return self.decision.applicant()

    # --- what can change ----------------------------------------------------------------

    def _dimensions(self) -> list[_Dimension]:
        dimensions = []
        for f in self.fields.values():
            actionable = f.actionable
            value = self.facts.get(f.name)
            if actionable is None or value is None or actionable.grows_with_time:
                continue
            values = _improvements(f, value)
            if values:
                dimensions.append(_Dimension(f.name, values))
        if self.growing:
            days = self._wait_days()
            if days:
                dimensions.append(_Dimension(WAIT, days))
        return dimensions

    def _wait_days(self) -> tuple[int, ...]:
        """The days worth trying: the first day each comparison over a growing answer could
        change its truth (every day when a condition reads time in another way)."""
        limit = self.max_wait_days
        for name, unit in self.growing.items():
            maximum = self.fields[name].maximum
            if maximum is not None:
                room = int(maximum - float(self.facts[name]))  # type: ignore[arg-type]
                limit = min(limit, room * (DAYS_PER_MONTH if unit == "months" else 1))
        if limit < 1:
            return ()
        comparisons = self._time_comparisons()
        if comparisons is None:
            return tuple(range(1, limit + 1))
        points: set[int] = set()
        for term, constant in comparisons:
            current = self._term(term)
            assert current is not None  # a growing term, as when it was collected
            value, unit = current
            if value is not _MISSING:
                points.update(_crossings(value, unit, constant))  # type: ignore[arg-type]
        return tuple(sorted(day for day in points if 1 <= day <= limit))

    def _time_comparisons(self) -> tuple[tuple[Node, float], ...] | None:
        """Every comparison of a growing quantity with a number in the ruleset's conditions, as
        (the growing term, the number); None when a condition reads time in another way. It
        depends only on the ruleset and on which growing answers are given, so it is worked
        out once for each such pair (`_ANALYSES`)."""
        key = (self.compiled.content_hash, frozenset(self.growing))
        if key in _ANALYSES:
            return _ANALYSES[key]
        found: list[tuple[Node, float]] | None = []
        for expression in self._expressions():
            found = self._collect(expression, found)
        result = None if found is None else tuple(found)
        if len(_ANALYSES) >= _ANALYSES_KEPT:
            _ANALYSES.clear()
        _ANALYSES[key] = result
        return result

    def _expressions(self) -> Iterator[Node]:
        for domain in self.compiled.domains:
            for rule in domain.rules:
                yield rule.expression
        for decision_rule in self.compiled.decisions:
            yield decision_rule.expression

    def _collect(
        self, node: Node, found: list[tuple[Node, float]] | None
    ) -> list[tuple[Node, float]] | None:
        """Add each comparison of a growing term with a number in `node`; None: not
        analysable (a growing answer or the screening date read in another way)."""
        if found is None:
            return None
        if isinstance(node, Comparison):
            for term, other in ((node.left, node.right), (node.right, node.left)):
                if self._term(term) is None:
                    continue
                if not isinstance(other, Literal) or isinstance(other.value, bool):
                    return None
                if not isinstance(other.value, int | float):
                    return None
                found.append((term, other.value))
                return found
        if isinstance(node, Call) and node.function in ("is_missing", "is_known"):
            return found
        if isinstance(node, Name) and self._grows(node.name):
            return None
        for child in node.children():
            found = self._collect(child, found)
        return found

    def _grows(self, name: str) -> bool:
        return name in self.growing or name == SCREENING_DATE

    def _term(self, node: Node) -> tuple[object, str] | None:
        """(current value, unit) of a quantity that grows with time, else None."""
        if isinstance(node, Name) and node.name in self.growing:
            value = self.facts.get(node.name)
            return (_MISSING if value is None else value), self.growing[node.name]
        if (
            isinstance(node, Call)
            and node.function == "days_between"
            and len(node.arguments) == 2
            and isinstance(node.arguments[1], Name)
            and node.arguments[1].name == SCREENING_DATE
        ):
            start = node.arguments[0]
            since: object = None
            if isinstance(start, Literal) and isinstance(start.value, datetime.date):
                since = start.value
            elif isinstance(start, Name) and not self._grows(start.name):
                since = self.facts.get(start.name)
            else:
                return None
            today = self.facts.get(SCREENING_DATE)
            if not isinstance(since, datetime.date) or not isinstance(today, datetime.date):
                return _MISSING, "days"
            return (today - since).days, "days"
        return None

    def _rule_dimensions(self, readers: Mapping[str, tuple[int, ...]]) -> list[frozenset[int]]:
        """For each decision rule, the dimensions it reads: an answer it reads, or the wait
        when it reads the screening date or a growing answer."""
        found: list[set[int]] = [set() for _ in self.compiled.decisions]
        for index, dimension in enumerate(self.dimensions):
            names = (SCREENING_DATE, *self.growing) if dimension.name == WAIT else (dimension.name,)
            for name in names:
                for rule in readers.get(name, ()):
                    found[rule].add(index)
        return [frozenset(dimensions) for dimensions in found]

    # --- the search ---------------------------------------------------------------------

    def _floor(self) -> tuple[int, list[Hold]]:
        """The most permissive rank next steps may reach, and the rules that hold it there."""
        floor, holding = ADMIT, list[Hold]()
        for rule, truth in zip(self.compiled.decisions, self.truths, strict=True):
            if truth is not True or rule.next_steps or rule.rank < floor or rule.rank == ADMIT:
                continue
            if rule.rank > floor:
                floor, holding = rule.rank, []
            holding.append(Hold(rule.id, "safety-rule" if rule.safety else "not-passable"))
        return floor, holding

    def _blockers(self, target: int) -> list[int] | None:
        """Indexes of the rules every set must touch to reach `target` (protective hit
        policy); None when the hit policy allows no such conjunction."""
        if self.compiled.hit_policy != "protective":
            return None
        return [
            index
            for index, (rule, truth) in enumerate(
                zip(self.compiled.decisions, self.truths, strict=True)
            )
            if rule.rank > target and truth is not False
        ]

    def _unanswered_policy(self) -> bool:
        return any(self.facts.get(name) is None for name in self.compiled.must_answer)

    def _needs_enabler(self, target: int) -> bool:
        """The outcome is the default's and only a rule that starts to apply can lower it."""
        trace = self.decision.trace
        return not trace.fail_safe and not trace.deciding and self.compiled.default.rank > target

    def run(self) -> NextSteps:
        floor, holding = self._floor()
        targets = list(range(floor, self.rank))
        blocked: list[Hold] = holding
        possible: dict[int, tuple[list[frozenset[int]], frozenset[int] | None]] = {}
        for target in targets:
            prune = self._prune(target, blocked)
            if prune is not None:
                possible[target] = prune
        found: dict[int, list[_Found]] = {}
        closed: set[int] = set()
        bound: str | None = None
        for size in range(1, self.max_changes + 1):
            open_targets = [t for t in possible if t not in closed]
            if not open_targets or size > len(self.dimensions):
                break
            level: list[_Found] = []
            for combination in itertools.combinations(range(len(self.dimensions)), size):
                if not any(_touches(combination, *possible[t]) for t in open_targets):
                    continue
                if not self._try(combination, floor, level):
                    bound = "max-evaluations"
                    break
            for target in open_targets:
                reached = [f for f in level if f.decision.trace.rank <= target]
                if reached:
                    found[target] = reached
                    closed.add(target)
            if bound is not None:
                break
        else:
            if any(t not in closed for t in possible) and len(self.dimensions) > self.max_changes:
                bound = "max-changes"
        return self._result(found, blocked, bound)

    def _prune(
        self, target: int, blocked: list[Hold]
    ) -> tuple[list[frozenset[int]], frozenset[int] | None] | None:
        """(sets every candidate must touch, a set it must touch for a new rule to apply), or
        None when no change can reach `target` (its blocking rules are added to `blocked`)."""
        if target == ADMIT and self._unanswered_policy():
            _hold(blocked, Hold("needs", "needs"))
            return None
        blockers = self._blockers(target)
        if blockers is None:
            every = frozenset().union(*self.reads) if self.reads else frozenset()
            return ([every], None) if every else None
        must = []
        for index in blockers:
            if target != ADMIT and self.truths[index] is not True:
                continue  # left undecided, it gives at most the fail-safe's defer: need not change
            if not self.reads[index]:
                _hold(blocked, Hold(self.compiled.decisions[index].id, "not-actionable"))
                return None
            must.append(self.reads[index])
        enabler = None
        if self._needs_enabler(target):
            enablers = [
                self.reads[i]
                for i, rule in enumerate(self.compiled.decisions)
                if rule.rank <= target
            ]
            enabler = frozenset().union(*enablers) if enablers else frozenset()
            if not enabler:
                return None
        return must, enabler

    def _try(self, combination: tuple[int, ...], floor: int, level: list[_Found]) -> bool:
        """Evaluate every assignment of new values to `combination`, least change first,
        skipping those that only add change to one already found at the floor. False when
        the evaluation budget ran out."""
        dimensions = [self.dimensions[i] for i in combination]
        best: list[tuple[int, ...]] = []
        for indexes in itertools.product(*(range(len(d.values)) for d in dimensions)):
            if any(all(b <= i for b, i in zip(done, indexes, strict=True)) for done in best):
                continue
            if self.evaluations >= self.max_evaluations:
                return False
            self.evaluations += 1
            candidate = self.ruleset.evaluate(self._applicant(dimensions, indexes))
            if not self._valid(candidate, floor):
                continue
            level.append(_Found(tuple(zip(combination, indexes, strict=True)), candidate))
            if candidate.trace.rank == floor:
                best.append(indexes)
        return True

    def _applicant(
        self, dimensions: Sequence[_Dimension], indexes: Sequence[int]
    ) -> dict[str, Any]:
        applicant = dict(self.base)
        for dimension, index in zip(dimensions, indexes, strict=True):
            value = dimension.values[index]
            if dimension.name != WAIT:
                applicant[dimension.name] = value
                continue
            for name, unit in self.growing.items():
                applicant[name] = self.facts[name] + _growth(value, unit)  # type: ignore[operator]
            today = self.facts.get(SCREENING_DATE)
            if isinstance(today, datetime.date):
                applicant[SCREENING_DATE] = (today + datetime.timedelta(days=value)).isoformat()
        return applicant

    def _valid(self, candidate: Decision, floor: int) -> bool:
        rank = candidate.trace.rank
        if rank >= self.rank or rank < floor:
            return False
        return all(
            rule.next_steps or truth is not True or rank >= rule.rank
            for rule, truth in zip(self.compiled.decisions, candidate.trace.truths, strict=True)
        )

    # --- the result ---------------------------------------------------------------------

    def _result(
        self, found: Mapping[int, list[_Found]], blocked: list[Hold], bound: str | None
    ) -> NextSteps:
        chosen: list[_Found] = []
        seen: set[tuple[tuple[int, int], ...]] = set()
        for target in sorted(found):
            for candidate in _least(found[target]):
                if candidate.assignment not in seen:
                    seen.add(candidate.assignment)
                    chosen.append(candidate)
        chosen.sort(key=lambda f: (f.decision.trace.rank, len(f.assignment)))
        sets = tuple(self._step_set(candidate) for candidate in chosen)
        come_back = None
        if sets:
            best = [s for s in sets if s.outcome == sets[0].outcome]
            if all(s.wait_days is not None for s in best):
                come_back = min(s.come_back_after_days or 0 for s in best)
        if sets and sets[0].outcome == OUTCOMES[ADMIT]:
            blocked = []
        return NextSteps(
            outcome=self.decision.outcome,
            sets=sets,
            held_by=tuple(blocked),
            come_back_after_days=come_back,
            bound=bound,
            evaluations=self.evaluations,
            max_changes=self.max_changes,
            max_evaluations=self.max_evaluations,
            actionable=tuple(d.name for d in self.dimensions),
            needs=self.decision.needs,
        )

    def _step_set(self, candidate: _Found) -> StepSet:
        new_truths = candidate.decision.trace.truths
        rank = candidate.decision.trace.rank
        lifted = [
            (index, rule)
            for index, (rule, before, after) in enumerate(
                zip(self.compiled.decisions, self.truths, new_truths, strict=True)
            )
            if before is not False and after is False and rule.rank > rank
        ]
        changes = []
        wait_days = next(
            (
                self.dimensions[d].values[v]
                for d, v in candidate.assignment
                if self.dimensions[d].name == WAIT
            ),
            None,
        )
        rescreen = self.decision.rescreen_after_days
        come_back = None if wait_days is None else max(wait_days, rescreen or 0)
        for dimension_index, value_index in candidate.assignment:
            dimension = self.dimensions[dimension_index]
            value = dimension.values[value_index]
            rules = tuple(rule.id for index, rule in lifted if dimension_index in self.reads[index])
            if dimension.name == WAIT:
                text = f"come back in {_days(come_back or value)}"
                changes.append(Change(WAIT, "Time", 0, value, text, rules))
                continue
            f = self.fields[dimension.name]
            before = self.base.get(dimension.name)
            changes.append(Change(f.name, f.label, before, value, _change_text(f, value), rules))
        outcome = OUTCOMES[rank]
        label = self.compiled.outcome_labels.get(outcome)
        return StepSet(
            outcome=outcome,
            outcome_label=label,
            changes=tuple(changes),
            wait_days=wait_days,
            come_back_after_days=come_back,
            rules=tuple(rule.id for _, rule in lifted),
            text=_sentence(changes, come_back, outcome, label),
        )


def _answers_read(compiled: CompiledRuleset, rule: DecisionRule) -> frozenset[str]:
    answers: set[str] = set()
    for reference in rule.references:
        answers |= compiled.dependencies.get(reference, frozenset({reference}))
    return frozenset(answers)


def _hold(holds: list[Hold], hold: Hold) -> None:
    if hold not in holds:
        holds.append(hold)


def _touches(
    combination: tuple[int, ...], must: list[frozenset[int]], enabler: frozenset[int] | None
) -> bool:
    chosen = set(combination)
    if enabler is not None and chosen.isdisjoint(enabler):
        return False
    return all(not chosen.isdisjoint(reads) for reads in must)


def _least(found: Iterable[_Found]) -> list[_Found]:
    """The smallest sets found, and among sets on the same answers only the least changes."""
    found = list(found)
    if not found:
        return []
    size = min(len(f.assignment) for f in found)
    smallest = [f for f in found if len(f.assignment) == size]
    kept = []
    for candidate in smallest:
        dims = [d for d, _ in candidate.assignment]
        values = [v for _, v in candidate.assignment]
        dominated = any(
            other is not candidate
            and [d for d, _ in other.assignment] == dims
            and other.decision.trace.rank <= candidate.decision.trace.rank
            and all(o <= v for (_, o), v in zip(other.assignment, values, strict=True))
            and other.assignment != candidate.assignment
            for other in smallest
        )
        if not dominated:
            kept.append(candidate)
    return kept


def _improvements(f: InputField, value: Any) -> tuple[Any, ...]:
    """The improving answers of an actionable boolean or enum input, least change first."""
    assert f.actionable is not None
    towards = f.actionable.towards
    if value == towards and type(value) is type(towards):
        return ()
    if f.kind == "enum" and f.value_type.ordered:
        values = list(f.values)
        here, there = values.index(value), values.index(towards)
        step = 1 if there > here else -1
        return tuple(values[i] for i in range(here + step, there + step, step))
    return (towards,)


def _growth(days: int, unit: str) -> int:
    return days // DAYS_PER_MONTH if unit == "months" else days


def _crossings(value: float, unit: str, constant: float) -> set[int]:
    """The first days on which `value`, grown by time, reaches `constant` and passes it."""
    scale = DAYS_PER_MONTH if unit == "months" else 1
    gap = constant - value
    return {units * scale for units in (math.ceil(gap), math.floor(gap) + 1) if units >= 1}


def _days(days: int) -> str:
    return "1 day" if days == 1 else f"{days} days"


def _value_text(f: InputField, value: Any) -> str:
    label = f.label_of(value)
    if label:
        return label
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value)


def _change_text(f: InputField, value: Any) -> str:
    step = f.actionable.step if f.actionable is not None else None
    if step and (f.kind == "boolean" or value == f.actionable.towards):  # type: ignore[union-attr]
        return step
    if step:
        return f"{step} (at least: {_value_text(f, value)})"
    return f"answer '{f.label}' with '{_value_text(f, value)}'"


def _sentence(
    changes: Sequence[Change], come_back: int | None, outcome: Outcome, label: str | None
) -> str:
    actions = [c.text for c in changes if c.input != WAIT]
    if come_back is not None:
        actions.append(f"come back in {_days(come_back)}")
    separator = "; " if any("," in a or " and " in a for a in actions) else ", "
    if len(actions) == 1:
        joined = actions[0]
    elif len(actions) == 2:
        joined = f"{actions[0]}{' and ' if separator == ', ' else ', and '}{actions[1]}"
    else:
        joined = separator.join(actions[:-1]) + f"{separator}and {actions[-1]}"
    result = f"{label} ({outcome})" if label else outcome
    return f"If you {joined}, the outcome would be: {result}."


def render_text(steps: NextSteps) -> str:
    """Next steps as plain text: each set's sentence and the rules it lifts."""
    lines = [f"Next steps from {steps.outcome}:"]
    if not steps.sets:
        if steps.outcome == OUTCOMES[ADMIT]:
            lines.append("  none needed: the outcome is already admit.")
        elif not steps.held_by:
            lines.append("  none found.")
    for step_set in steps.sets:
        lines.append(f"  - {step_set.text}")
        lines.append(f"    lifts: {', '.join(step_set.rules) or 'default'}")
    for hold in steps.held_by:
        text = _HOLD_TEXT[hold.why].format(rule=hold.rule, needs=", ".join(steps.needs))
        lines.append("  " + text)
    if steps.come_back_after_days is not None:
        when = _days(steps.come_back_after_days)
        best = steps.sets[0]
        goal = f"{best.outcome_label} ({best.outcome})" if best.outcome_label else best.outcome
        if all(len(s.changes) == 1 for s in steps.sets if s.outcome == best.outcome):
            lines.append(f"  Time is the only way to {goal}: come back in {when}.")
        else:
            lines.append(
                f"  Every way to {goal} includes waiting: come back in {when} at the earliest."
            )
    if steps.bound is not None:
        lines.append(
            f"  The search stopped at a bound ({steps.bound}: at most {steps.max_changes} "
            f"changes, {steps.max_evaluations} evaluations); a set may be missing."
        )
    return "\n".join(lines)


__all__ = [
    "DAYS_PER_MONTH",
    "MAX_CHANGES",
    "MAX_EVALUATIONS",
    "MAX_WAIT_DAYS",
    "WAIT",
    "Change",
    "Hold",
    "NextSteps",
    "NextStepsError",
    "StepSet",
    "next_steps",
    "render_text",
]
