"""Format v2 (exact semantics) in the columnar query: interval totals, and the rows they prove.

`exact.trace_exact` decides a v2 applicant over every completion of the missing answers: a v1
pass, then a range evaluation over all completions (`expressions.ranges`: instrument totals are
intervals `[low, high]` over the missing items, bands the bands those meet, flags and rules
masks), then a search for whatever the ranges leave undecided. The query writes the v1 pass and
the range evaluation (the same operations, over the same values) as columns, and decides a row
itself only where that range evaluation and cheap proofs give what the search would give:

- a rule is what the range evaluation says when it decides it; when it does not, the row is the
  query's only if the rule is *provably undecided*, so that every look the scalar engine takes
  at it leaves it undecided: its condition is read-once over independent parts each of which
  two reachable completions give different truths (a part over one instrument: tried on every
  combination of its cells' sums, where the row reaches every whole number between their
  ends), or it reads a few answers only and two combinations of them that agree with the row
  give it different truths, or the two probe completions disagree (`exact._rule_truth`'s
  first test), or the search for it could not start (more than `MAX_COMPLETIONS` completions
  of the answers it reads);
- the outcome is the one the decided rules fix (`exact.outcome_over`); or the conservative
  defer, `needs` every answer the outcome-changing rules read, where the joint search could not
  start or every such answer provably changes the outcome on its own (which is then what the
  search finds): each such rule read-once over independent parts, or on the row a function of
  one instrument's total whose items are runs, differing at the probes; rules that read the
  same answers taken together, over every combination of a few answers.

Every other v2 row is not `certain` and goes to the scalar engine. What the query cannot write
as a range (arithmetic, dates, a choice compared with a choice) is left to v1: a rule of that
kind that v1 leaves undecided makes its row the scalar engine's.
"""

from __future__ import annotations

import datetime
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from recovery_screening.columnar.sql_text import (
    ExpressionWriter,
    _all,
    _any,
    _band_case,
    _domain_range,
    _is_true,
    _list,
    _points_sql,
    literal,
    quote,
    string_literal,
)
from recovery_screening.compiler import CompiledRuleset, DecisionRule, Domain
from recovery_screening.exact import MAX_COMPLETIONS, MAX_ENUMERATED
from recovery_screening.expressions import (
    Call,
    Comparison,
    ListLiteral,
    Literal,
    Logical,
    Name,
    Node,
    Not,
)
from recovery_screening.expressions.closures import build_evaluator
from recovery_screening.expressions.operators import COMPARATORS, enum_values_satisfying
from recovery_screening.fields import BandTable, FieldViolation, InputField
from recovery_screening.instruments import CompiledInstrument
from recovery_screening.outcomes import ADMIT, DEFER, REFER
from recovery_screening.three_valued import score_range

if TYPE_CHECKING:
    from recovery_screening.columnar.sql import _Query, _Rule


_T = TypeVar("_T")

MAX_ANSWER_TRIALS = 64
"""Combinations of answers `UndecidedProof._enumerated` tries for one condition, at most."""
MAX_JOINT_TRIALS = 512
"""Combinations of answers `_Joint` tries for a group of decision rules, at most."""
MAX_CELL_TRIALS = 4096
"""Combinations of cell values `UndecidedProof._cells` tries for one part, at most."""


class _NoRange(Exception):
    """A part of a condition the query does not evaluate over ranges."""


@dataclass(frozen=True)
class _Num:
    """A number's interval as SQL: `low` / `high`, each NULL where that end is infinite (only
    where `open`)."""

    low: str
    high: str
    open: bool = False


@dataclass(frozen=True)
class _Bands:
    """A band's possible values: the bands of `table` that [low, high] meets."""

    table: BandTable
    low: str
    high: str

    def meets(self, name: str) -> str:
        band = next(b for b in self.table.bands if b.name == name)
        return f"({self.low} <= {band.maximum} AND {self.high} >= {band.minimum})"


def _three(can_true: str, can_false: str) -> str:
    """A mask as three-valued SQL: TRUE, FALSE or NULL (both); one of the two always holds."""
    return f"(CASE WHEN NOT {can_false} THEN TRUE WHEN NOT {can_true} THEN FALSE END)"


class RangeWriter:
    """Writes the range evaluation (`expressions.ranges`) of a condition as three-valued SQL
    (NULL: both truths are possible), over the interval columns of the query."""

    def __init__(
        self,
        compiled: CompiledRuleset,
        v1_names: Mapping[str, str],
        numbers: Mapping[str, _Num],
        bands: Mapping[str, _Bands],
        truths: Mapping[str, str],
        bounds: Mapping[str, float],
    ) -> None:
        self.compiled = compiled
        self.bounds = bounds
        self.v1_names = v1_names
        self.numbers = numbers
        self.bands = bands
        self.truths = truths
        self.fields = {f.name: f for f in compiled.inputs.fields}

    def write(self, node: Node) -> str | None:
        """The condition's mask as SQL, or None where the query does not write it."""
        try:
            return self._truth(node)
        except _NoRange:
            return None

    def _truth(self, node: Node) -> str:

        if isinstance(node, Literal):
            return literal(bool(node.value))
        if isinstance(node, Name):
            if node.name in self.truths:
                return self.truths[node.name]
            field_ = self.fields.get(node.name)
            if field_ is not None and field_.kind == "boolean":
                return quote(node.name)
            raise _NoRange
        if isinstance(node, Not):
            return f"(NOT {self._truth(node.operand)})"
        if isinstance(node, Logical):
            joiner = " AND " if node.operator == "and" else " OR "
            return "(" + joiner.join(self._truth(o) for o in node.operands) + ")"
        if isinstance(node, Call):
            if node.function in ("is_missing", "is_known"):
                (argument,) = node.arguments
                if not isinstance(argument, Name):
                    raise _NoRange
                test = "IS NULL" if node.function == "is_missing" else "IS NOT NULL"
                return f"({self.v1_names[argument.name]} {test})"
            if node.function in ("all_of", "any_of"):
                joiner = " AND " if node.function == "all_of" else " OR "
                return "(" + joiner.join(self._truth(a) for a in node.arguments) + ")"
            raise _NoRange
        if isinstance(node, Comparison):
            return self._comparison(node)
        raise _NoRange

    def _comparison(self, node: Comparison) -> str:
        left, right, op = node.left, node.right, node.operator
        kind = left.type.kind if left.type is not None else None
        if op in ("in", "not in"):
            assert isinstance(right, ListLiteral)
            if kind not in ("enum", "string"):
                raise _NoRange
            return self._membership(left, [i.value for i in right.items], op == "in")
        mirrored = COMPARATORS[op].mirrored
        if isinstance(left, Literal) and not isinstance(right, Literal) and mirrored is not None:
            left, right, op = right, left, mirrored
        if kind == "boolean":
            return f"({self._truth(left)} {'=' if op == '==' else '<>'} {self._truth(right)})"
        if kind in ("integer", "number"):
            return self._numeric(self._number(left), self._number(right), op)
        if kind in ("enum", "string") and isinstance(right, Literal):
            if op in ("==", "!="):
                return self._membership(left, [right.value], op == "==")
            assert left.type is not None
            return self._membership(left, enum_values_satisfying(left.type, op, right.value), True)
        raise _NoRange

    def _number(self, node: Node) -> _Num:

        if isinstance(node, Literal) and isinstance(node.value, (int, float)):
            return _Num(literal(node.value), literal(node.value))
        if isinstance(node, Name):
            if node.name in self.numbers:
                return self.numbers[node.name]
            field_ = self.fields.get(node.name)
            if field_ is not None and field_.kind in ("integer", "number"):
                column = quote(node.name)
                if field_.values:
                    low, high = min(field_.values), max(field_.values)
                else:
                    low, high = field_.minimum, field_.maximum
                return _Num(
                    column if low is None else f"COALESCE({column}, {literal(low)})",
                    column if high is None else f"COALESCE({column}, {literal(high)})",
                    low is None or high is None,
                )
        raise _NoRange

    @staticmethod
    def _numeric(a: _Num, b: _Num, op: str) -> str:
        """`_numeric_comparison`: which truths the two intervals allow."""
        opened = a.open or b.open

        def holds(x: str, compare: str, y: str) -> str:
            # a NULL end is infinite in the direction that makes the comparison true
            return f"COALESCE({x} {compare} {y}, TRUE)" if opened else f"({x} {compare} {y})"

        if op == "<":
            can_true, can_false = holds(a.low, "<", b.high), holds(a.high, ">=", b.low)
        elif op == "<=":
            can_true, can_false = holds(a.low, "<=", b.high), holds(a.high, ">", b.low)
        elif op == ">":
            can_true, can_false = holds(a.high, ">", b.low), holds(a.low, "<=", b.high)
        elif op == ">=":
            can_true, can_false = holds(a.high, ">=", b.low), holds(a.low, "<", b.high)
        else:
            overlap = f"({holds(a.low, '<=', b.high)} AND {holds(b.low, '<=', a.high)})"
            single = f"({a.low} = {a.high} AND {a.high} = {b.low} AND {b.low} = {b.high})"
            if opened:
                single = f"COALESCE({single}, FALSE)"
            if op == "==":
                can_true, can_false = overlap, f"(NOT {single})"
            else:
                can_true, can_false = f"(NOT {single})", overlap
        return _three(can_true, can_false)

    def _membership(self, node: Node, values: Sequence[object], inside: bool) -> str:

        if not isinstance(node, Name):
            raise _NoRange
        chosen = set(values)
        if node.name in self.bands:
            bands = self.bands[node.name]
            names = bands.table.names
            can_in = _any(bands.meets(n) for n in names if n in chosen)
            can_out = _any(bands.meets(n) for n in names if n not in chosen)
            if not inside:
                can_in, can_out = can_out, can_in
            return _three(can_in, can_out)
        field_ = self.fields.get(node.name)
        if field_ is None or field_.kind not in ("enum", "string"):
            raise _NoRange
        column = quote(node.name)
        items = ", ".join(literal(v) for v in values) if values else None
        known = (
            f"({column} {'IN' if inside else 'NOT IN'} ({items}))" if items else literal(not inside)
        )
        if field_.kind == "enum":
            outcomes = {(v in chosen) is inside for v in field_.values}
            missing = literal(outcomes.pop()) if len(outcomes) == 1 else "NULL"
        else:
            missing = "NULL"
        return f"(CASE WHEN {column} IS NULL THEN {missing} ELSE {known} END)"


# --- proofs that a rule is undecided -----------------------------------------------------------


def _point_set(instrument: CompiledInstrument, key: str) -> list[int]:
    field_ = next(f for f in instrument.fields if f.name == key)
    points = dict(instrument.points)[key]
    return sorted({points(value) for value in _allowed(field_)})


def _enumerable(field_: InputField) -> tuple[object, ...] | None:
    """Every allowed answer to a field the search enumerates (as `_allowed` lists them), where
    there are few and each is one (else None)."""
    if field_.reserved or _answers_count(field_) > MAX_ANSWER_TRIALS * 8:
        return None
    values = _allowed(field_)
    try:
        for value in values:
            field_.convert(value)
    except FieldViolation:
        return None
    return values if len(values) == _answers_count(field_) else None


def _allowed(field_: InputField) -> tuple[object, ...]:
    if field_.kind == "boolean":
        return (False, True)
    if field_.values:
        return tuple(field_.values)
    low, high = int(field_.minimum or 0), int(field_.maximum or 0)
    return tuple(range(low, high + 1))


def _contiguous(instrument: CompiledInstrument, keys: Sequence[str]) -> bool:
    """Whether every sum of the items' points between the lowest and highest is reachable
    (each item's points are a run of whole numbers)."""
    for key in keys:
        found = _point_set(instrument, key)
        if found != list(range(found[0], found[-1] + 1)):
            return False
    return True


@dataclass(frozen=True)
class _Variable:
    """What a name reads, for the proofs: one answer, or a fact of one instrument (its total,
    a subscore, its band, a flag: functions of its items); `source` is what two independent
    parts must not share (the answer, or the instrument's alias)."""

    key: str
    source: str
    field: InputField | None = None
    instrument: CompiledInstrument | None = None
    items: tuple[str, ...] = ()
    """For a total or a sum subscore: its items (a whole number over them)."""


class UndecidedProof:
    """When the range evaluation leaves a rule undecided, whether the completions disagree on
    it, so that every look the scalar engine takes at it leaves it undecided: SQL true only
    then (the rule's condition is read-once over independent parts, and each part the ranges
    leave undecided has two reachable completions that give it different truths)."""

    def __init__(
        self,
        compiled: CompiledRuleset,
        ranges: RangeWriter,
        extremes: tuple[Mapping[str, str], Mapping[str, str]],
    ) -> None:
        self.compiled = compiled
        self.ranges = ranges
        self.extremes = extremes
        """The names of the two completions with every missing item at its lowest points, or
        highest (`ExactLayers.probes`)."""
        self.variables: dict[str, _Variable] = {}
        self.flags: dict[str, Node] = {}
        self.columns: dict[str, str] = {}
        """Columns the proofs written so far read (name: SQL), for the query to add first."""
        for f in compiled.inputs.fields:
            self.variables[f.name] = _Variable(f.name, f.name, field=f)
        for instrument in compiled.instruments:
            alias = instrument.alias
            items = tuple(key for key, _ in instrument.points)
            for key in items:
                self.variables[key] = _Variable(
                    key, alias, field=self._field(key), instrument=instrument
                )
            self.variables[instrument.total_key] = _Variable(
                instrument.total_key, alias, instrument=instrument, items=items
            )
            if instrument.bands is not None:
                self.variables[instrument.band_key] = _Variable(
                    instrument.band_key, alias, instrument=instrument
                )
            for subscore in instrument.subscores:
                self.variables[subscore.key] = _Variable(
                    subscore.key, alias, instrument=instrument,
                    items=() if subscore.mean else subscore.item_keys,
                )  # fmt: skip
            for flag in instrument.flags:
                assert flag.expression is not None
                self.flags[flag.key] = flag.expression
                self.variables[flag.key] = _Variable(flag.key, alias, instrument=instrument)

    def _field(self, key: str) -> InputField:
        return next(f for f in self.compiled.inputs.fields if f.name == key)

    def proof(self, node: Node) -> str | None:
        """SQL true where the rule, left undecided by the ranges, is undecided in fact; None
        when no such proof is written for its condition."""
        for proof in (self._read_once, self._enumerated, self._over_one_domain):
            found = proof(node)
            if found is not None:
                return found
        return None

    def _over_one_domain(self, node: Node) -> str | None:
        """A condition over one sum domain's score or band alone, whose rules read no domain:
        SQL true where its truths at the domain's lowest and highest scores differ and both
        scores are reached. They are where each rule of the domain is decided or goes both
        ways, and no two undecided ones read the same answers: each then takes either truth
        whatever the others take, and the ends are the sums of the truths that make them."""
        names = set(_names(node))
        domain = next(
            (d for d in self.compiled.domains if names and names <= {d.score_key, d.band_key}),
            None,
        )
        if domain is None or domain.aggregation != "sum" or _tests_missing(node):
            return None
        keys = {key for d in self.compiled.domains for key in (d.score_key, d.band_key)}
        terms = []
        open_rules: list[tuple[str, set[str]]] = []
        for rule in domain.rules:
            if keys & set(rule.references):
                return None
            decided = f"({quote('x:rule:' + rule.id)} IS NOT NULL)"
            reads = self._reads(rule.expression)
            either = self.proof(rule.expression)
            if reads is None or either is None:
                terms.append(decided)
                continue
            terms.append(f"({decided} OR {either})")
            open_rules.append((decided, {variable.source for variable in reads}))
        for index, (decided, sources) in enumerate(open_rules):
            for other, other_sources in open_rules[index + 1 :]:
                if sources & other_sources:
                    terms.append(f"({decided} OR {other})")
        interval = self.ranges.numbers[domain.score_key]
        ends = []
        for score in (interval.low, interval.high):
            names_at = {domain.score_key: score, domain.band_key: _band_case(domain.bands, score)}
            writer = ExpressionWriter(names_at, self.ranges.bounds, self.ranges.v1_names)
            ends.append(writer.write(node))
        terms.append(f"COALESCE({ends[0]} <> {ends[1]}, FALSE)")
        return _all(terms)

    def _enumerated(self, node: Node) -> str | None:
        """A condition over answers only, each with few allowed values: SQL true where two
        completions of the row give it different truths, from its truth on every combination
        of the answers it reads (tried here; a row reaches those that agree with its answers)."""
        reads = self._reads(node)
        if not reads or _tests_missing(node):
            return None
        fields = []
        for variable in sorted(reads, key=lambda v: v.key):
            field_ = variable.field
            if variable.instrument is not None or field_ is None or field_.reserved:
                return None
            fields.append(field_)
        domains = []
        for field_ in fields:
            values = _enumerable(field_)
            if values is None:
                return None
            domains.append(values)
        if math.prod(len(values) for values in domains) > MAX_ANSWER_TRIALS:
            return None
        evaluate = build_evaluator(node)
        reach = {truth: _reaching(fields, domains, evaluate, truth) for truth in (True, False)}
        if "FALSE" in reach.values():
            return None
        return f"({reach[True]} AND {reach[False]})"

    def _read_once(self, node: Node) -> str | None:
        """The condition read once over independent parts, each of which goes both ways."""
        parts: list[tuple[list[_Variable], Node]] = []
        if not self._split(node, parts):
            return None
        sources = [variables[0].source for variables, _ in parts if variables]
        if len(sources) != len(set(sources)):
            return None  # two parts read the same answers: they are not independent
        terms = []
        for variables, part in parts:
            if not variables:
                continue
            if len(variables) == 1 and variables[0].instrument is None:
                field_ = variables[0].field
                assert field_ is not None
                if not _takes_both_values(field_, part):
                    return None
                continue  # a missing answer gives it both truths; an answer given decides it
            written = self._either_way(variables, part)
            if written is None:
                return None
            terms.append(written)
        return _all(terms)

    def every_answer_counts(self, node: Node) -> tuple[str, set[str]] | None:
        """(SQL true where each missing answer the rule reads can change its truth on its own
        in some completion, and the rule is undecided; the sources it reads), or None when no
        such proof is written for its condition (see `ExactLayers._every_answer_changes_it`)."""
        if _tests_missing(node):
            return None  # the answer is_missing reads is among those the rule reads, unneeded
        parts: list[tuple[list[_Variable], Node, list[tuple[str, list[Node]]]]] = []
        if not self._paths(node, [], parts):
            return None
        sources = [variables[0].source for variables, _, _ in parts if variables]
        if len(sources) != len(set(sources)):
            return None
        terms = []
        for variables, part, path in parts:
            if not variables:
                continue
            if len(variables) != 1:
                return None
            term = self._counts(variables[0], part, path)
            if term is None:
                return None
            terms.append(term)
        return _all(terms), set(sources)

    def _counts(
        self, variable: _Variable, part: Node, path: list[tuple[str, list[Node]]]
    ) -> str | None:
        """SQL true where each missing answer the part reads changes the rule's truth on its
        own in some completion: the part goes both ways, depends on each such answer, and the
        other operands of every junction above it can leave it in charge."""
        try:
            relevant = _all(
                f"COALESCE({self._sibling(other)}, TRUE)"
                if junction == "and"
                else f"NOT COALESCE({self._sibling(other)}, FALSE)"
                for junction, others in path
                for other in others
            )
        except _NoRange:
            return None
        if variable.instrument is None:
            assert variable.field is not None
            if not _takes_both_values(variable.field, part):
                return None
            return f"({quote(variable.key)} IS NOT NULL OR {relevant})"
        instrument = variable.instrument
        if not variable.items or not _contiguous(instrument, variable.items):
            return None
        if any(len(_point_set(instrument, key)) < 2 for key in variable.items):
            return None  # an item whose answer never changes its points
        both = self._either_way([variable], part, decided=False)
        if both is None:
            return None
        answered = _all(f"({quote(key)} IS NOT NULL)" for key in variable.items)
        return f"({answered} OR ({both} AND {relevant}))"

    def _sibling(self, node: Node) -> str:
        written = self.ranges.write(node)
        if written is None:
            raise _NoRange
        return written

    def _paths(
        self,
        node: Node,
        path: list[tuple[str, list[Node]]],
        parts: list[tuple[list[_Variable], Node, list[tuple[str, list[Node]]]]],
    ) -> bool:
        """`_split`, keeping for each part the junctions above it and their other operands."""
        reads = self._reads(node)
        if reads is None:
            return False
        if len({variable.source for variable in reads}) <= 1 and not (
            reads and _tests_missing(node)
        ):
            parts.append((reads, node, list(path)))
            return True
        operands: tuple[Node, ...]
        if isinstance(node, Logical):
            junction, operands = node.operator, node.operands
        elif isinstance(node, Call) and node.function in ("all_of", "any_of"):
            junction, operands = ("and" if node.function == "all_of" else "or"), node.arguments
        elif isinstance(node, Not):
            return self._paths(node.operand, path, parts)
        else:
            return False
        for index, operand in enumerate(operands):
            others = [o for i, o in enumerate(operands) if i != index]
            if not self._paths(operand, [*path, (junction, others)], parts):
                return False
        return True

    def _split(self, node: Node, parts: list[tuple[list[_Variable], Node]]) -> bool:
        """The condition as and / or / not over parts that each read one source."""
        reads = self._reads(node)
        if reads is None:
            return False
        if len({variable.source for variable in reads}) <= 1 and not (
            reads and _tests_missing(node)  # is_missing is not a function of the answer
        ):
            parts.append((reads, node))
            return True
        if isinstance(node, Logical):
            return all(self._split(operand, parts) for operand in node.operands)
        if isinstance(node, Not):
            return self._split(node.operand, parts)
        if isinstance(node, Call) and node.function in ("all_of", "any_of"):
            return all(self._split(argument, parts) for argument in node.arguments)
        return False

    def _reads(self, node: Node) -> list[_Variable] | None:
        """The variables `node` reads (None: a name no proof covers)."""
        if isinstance(node, Call) and node.function in ("is_missing", "is_known"):
            return []
        if isinstance(node, Name):
            variable = self.variables.get(node.name)
            return None if variable is None else [variable]
        found: dict[str, _Variable] = {}
        for child in node.children():
            inner = self._reads(child)
            if inner is None:
                return None
            found.update((variable.key, variable) for variable in inner)
        return list(found.values())

    def _either_way(
        self, variables: Sequence[_Variable], part: Node, *, decided: bool = True
    ) -> str | None:
        """A part over one instrument: SQL true where the ranges decide it, or two reachable
        completions give it different truths. Reachable: every missing item at its lowest
        points, or at its highest (where each total and subscore is at its lowest, or highest);
        and, where the row's cells have no gaps (`_cells`), every combination of their sums."""

        instrument = variables[0].instrument
        assert instrument is not None
        ranged = self.ranges.write(part)
        if ranged is None:
            return None
        can_true = [f"COALESCE({self._at_extreme(part, end)}, FALSE)" for end in (0, -1)]
        can_false = [f"NOT COALESCE({self._at_extreme(part, end)}, TRUE)" for end in (0, -1)]
        cells = self._cells(instrument, part)
        if cells is not None:
            contiguous, true_sql, false_sql = cells
            for found, sql in ((can_true, true_sql), (can_false, false_sql)):
                if sql is not None:
                    found.append(sql if contiguous == "TRUE" else f"({contiguous} AND {sql})")
        either = f"{_any(can_true)} AND {_any(can_false)}"
        if not decided:
            return f"({ranged} IS NULL AND {either})"
        return f"({ranged} IS NOT NULL OR ({either}))"

    def _cells(
        self, instrument: CompiledInstrument, part: Node
    ) -> tuple[str, str | None, str | None] | None:
        """A part over one instrument's sums (total, band, sum subscores, flags over those, items
        scored as answered): SQL (the row's cells are runs of whole numbers; some reachable
        completion makes the part true; one makes it false), or None where it reads anything
        else or has more than two cells.

        A cell is the items the part's sums take alike (for `dependence >= 1 and total < 16`:
        items 4-6, and the others); the part is a function of the cells' sums. A cell's sum over
        the completions is every whole number between its ends when its missing items' points
        leave no gap (`_cell_contiguous`), and cells share no item: so a row reaches every
        combination of values in its cells' ranges, and the part's truth at each is known in
        advance (tried here, for every value of the cells' declared ranges)."""
        sums = self._sums(instrument, part)
        if sums is None:
            return None
        keys = [key for key, _ in instrument.points]
        signature = {key: tuple(key in items for items in sums.values()) for key in keys}
        shapes = sorted({s for s in signature.values() if any(s)})
        cells = [[key for key in keys if signature[key] == shape] for shape in shapes]
        if not cells or len(cells) > 2:
            return None
        spans = []
        for cell in cells:
            least = sum(_point_set(instrument, key)[0] for key in cell)
            most = sum(_point_set(instrument, key)[-1] for key in cell)
            spans.append(range(least, most + 1))
        if math.prod(len(span) for span in spans) > MAX_CELL_TRIALS:
            return None
        if len(spans) == 2 and len(spans[1]) < len(spans[0]):  # fewer cases outside
            cells, spans, shapes = cells[::-1], spans[::-1], shapes[::-1]
        truth = _cell_truth(instrument, part, list(sums), shapes)
        ends = [self._cell_ends(instrument, cell) for cell in cells]
        found: dict[object, list[str]] = {True: [], False: []}
        if len(cells) == 1:
            ((low, high),) = ends
            for value, start, stop in _runs([truth((v,)) for v in spans[0]], spans[0].start):
                found[value].append(f"({low} <= {stop} AND {start} <= {high})")
        else:
            (low_a, high_a), (low_b, high_b) = ends
            rows = [
                tuple(_runs([truth((a, b)) for b in spans[1]], spans[1].start)) for a in spans[0]
            ]
            for runs, first, last in _runs(rows, spans[0].start):
                for value, start, stop in runs:
                    found[value].append(
                        f"({low_a} <= {last} AND {first} <= {high_a} "
                        f"AND {low_b} <= {stop} AND {start} <= {high_b})"
                    )
        contiguous = _all(
            found
            for found in (self._cell_contiguous(instrument, c) for c in cells)
            if found != "TRUE"
        )
        return (
            contiguous,
            _any(found[True]) if found[True] else None,
            (_any(found[False]) if found[False] else None),
        )

    def _sums(self, instrument: CompiledInstrument, part: Node) -> dict[str, frozenset[str]] | None:
        """The sums of items the part reads, by name (through the band and flags), or None
        where it reads a mean subscore or an item whose points are not its answer."""
        subscores = {s.key: s for s in instrument.subscores}
        flags = {f.key: f.expression for f in instrument.flags}
        points = dict(instrument.points)
        sums: dict[str, frozenset[str]] = {}
        pending = list(_names(part))
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name == instrument.total_key or (
                instrument.bands is not None and name == instrument.band_key
            ):
                sums[instrument.total_key] = frozenset(points)
            elif name in subscores:
                if subscores[name].mean:
                    return None
                sums[name] = frozenset(subscores[name].item_keys)
            elif name in flags:
                expression = flags[name]
                if expression is None or _tests_missing(expression):
                    return None
                pending.extend(_names(expression))
            elif name in points:
                field_ = self._field(name)
                if any(
                    isinstance(value, bool) or points[name](value) != value
                    for value in _allowed(field_)
                ):
                    return None  # the item's answer is not its points (a yes/no item, say)
                sums[name] = frozenset((name,))
            else:
                return None
        return dict(sorted(sums.items()))

    def _cell_ends(self, instrument: CompiledInstrument, cell: Sequence[str]) -> tuple[str, str]:
        """The row's lowest and highest sum of a cell's points over its completions: the
        interval columns of a total or subscore over exactly those items, else new columns."""
        sums = [(instrument.total_key, tuple(key for key, _ in instrument.points))]
        sums += [(s.key, s.item_keys) for s in instrument.subscores if not s.mean]
        for key, items in sums:
            if set(items) == set(cell) and key in self.ranges.numbers:
                interval = self.ranges.numbers[key]
                return interval.low, interval.high
        lows, highs = [], []
        for key in cell:
            points = _point_set(instrument, key)
            written = _points_sql(instrument, key)
            lows.append(f"COALESCE({written}, {points[0]})")
            highs.append(f"COALESCE({written}, {points[-1]})")
        label = ",".join(cell)
        self.columns[f"xc:lo:{label}"] = "(" + " + ".join(lows) + ")"
        self.columns[f"xc:hi:{label}"] = "(" + " + ".join(highs) + ")"
        return quote(f"xc:lo:{label}"), quote(f"xc:hi:{label}")

    def _cell_contiguous(self, instrument: CompiledInstrument, cell: Sequence[str]) -> str:
        """SQL true where the sums of the cell's missing items' points are every whole number
        between their ends: when the items whose points have gaps are answered, or a missing
        item's points are a run at least as long as the widest gap (adding a set whose gaps are
        at most an interval's length to that interval gives an interval, as long)."""
        gaps: dict[str, int] = {}
        runs: dict[str, int] = {}
        for key in cell:
            found = _point_set(instrument, key)
            widest = max((b - a for a, b in itertools.pairwise(found)), default=0)
            if widest > 1:
                gaps[key] = widest
            else:
                runs[key] = len(found)
        if not gaps:
            return "TRUE"
        widest = max(gaps.values())
        answered = _all(f"({quote(key)} IS NOT NULL)" for key in gaps)
        spanning = [f"({quote(key)} IS NULL)" for key, length in runs.items() if length >= widest]
        return _any([answered, *spanning])

    def _at_extreme(self, part: Node, end: int) -> str:
        """The part's v1 truth on the completion with every missing item at its lowest points
        (`end` 0) or highest (-1)."""
        names = self.extremes[-end]
        return ExpressionWriter(names, self.ranges.bounds, self.ranges.v1_names).write(part)


def provable_with_items_answered(compiled: CompiledRuleset, node: Node) -> bool:
    """Whether, on a row with every instrument item answered, the condition is undecided
    exactly when Kleene logic leaves it so: read-once over independent parts, each part over
    an answer going both ways over its allowed values (a part over an instrument is known)."""
    proof = UndecidedProof(compiled, RangeWriter(compiled, {}, {}, {}, {}, {}), ({}, {}))
    parts: list[tuple[list[_Variable], Node]] = []
    if not proof._split(node, parts):
        return False
    sources = [variables[0].source for variables, _ in parts if variables]
    if len(sources) != len(set(sources)):
        return False
    for variables, part in parts:
        if len(variables) == 1 and variables[0].instrument is None:
            field_ = variables[0].field
            assert field_ is not None
            if not _takes_both_values(field_, part):
                return False
    return True


def _reaching(
    fields: Sequence[InputField],
    domains: Sequence[Sequence[object]],
    evaluate: Callable[[Mapping[str, object]], object],
    truth: bool,
) -> str:
    """SQL true where some completion of the row's answers to `fields` gives `evaluate` the
    truth `truth`: by cases on the first field's answer (the answers with the same cases
    below taken together), each case reached where the row leaves it missing or gives it."""

    def cases(index: int, facts: dict[str, object]) -> str:
        if index == len(fields):
            return "TRUE" if evaluate(facts) is truth else "FALSE"
        field_ = fields[index]
        below: dict[str, list[object]] = {}
        for value in domains[index]:
            found = cases(index + 1, {**facts, field_.name: field_.convert(value)})
            below.setdefault(found, []).append(value)
        if len(below) == 1 and len(next(iter(below.values()))) == len(domains[index]):
            return next(iter(below))  # the same whatever this answer is
        return _by_answer(quote(field_.name), below)

    return cases(0, {})


def _by_answer(column: str, below: Mapping[str, list[object]]) -> str:
    """SQL true where the row reaches a case that holds: `below` maps each case's SQL (what
    must hold of the answers after this one) to the answers of `column` that lead to it; a
    case is reached where the row leaves the answer missing or gives one of those."""
    terms = []
    for found, values in below.items():
        if found == "FALSE":
            continue
        listed = ", ".join(literal(value) for value in values)
        given = f"({column} IS NULL OR {column} IN ({listed}))"
        terms.append(given if found == "TRUE" else f"({given} AND {found})")
    return _any(terms)


def _cell_truth(
    instrument: CompiledInstrument,
    part: Node,
    names: Sequence[str],
    shapes: Sequence[tuple[bool, ...]],
) -> Callable[[Sequence[int]], object]:
    """The part's truth given its cells' sums (`shapes[i][j]`: cell i is in sum `names[j]`),
    with the band and flags those sums give."""
    evaluate = build_evaluator(part)
    flags = [(f.key, build_evaluator(f.expression)) for f in instrument.flags if f.expression]

    def truth(values: Sequence[int]) -> object:
        facts: dict[str, object] = {}
        for index, name in enumerate(names):
            facts[name] = sum(v for v, shape in zip(values, shapes, strict=True) if shape[index])
        total = facts.get(instrument.total_key)
        if isinstance(total, int) and instrument.bands is not None:
            facts[instrument.band_key] = instrument.bands.band_of(total)
        for key, flag in flags:
            try:
                facts[key] = flag(facts)
            except KeyError:  # a flag over a sum the part does not read
                continue
        try:
            return evaluate(facts)
        except KeyError:  # a flag the part reads over another flag: no witness here
            return None

    return truth


def _runs(truths: Sequence[_T | None], first: int) -> list[tuple[_T, int, int]]:
    """(value, first index, last index) of each run of equal values, the first at `first`;
    None values (undefined truths) are left out."""
    found: list[tuple[_T | None, int, int]] = []
    for offset, value in enumerate(truths):
        index = first + offset
        if found and found[-1][0] == value and found[-1][2] == index - 1:
            found[-1] = (value, found[-1][1], index)
        else:
            found.append((value, index, index))
    return [(value, start, stop) for value, start, stop in found if value is not None]


def _names(node: Node) -> list[str]:
    if isinstance(node, Name):
        return [node.name]
    return [name for child in node.children() for name in _names(child)]


def _literal_values(node: Node) -> list[object]:
    if isinstance(node, Literal):
        return [node.value]
    return [value for child in node.children() for value in _literal_values(child)]


def _tests_missing(node: Node) -> bool:
    if isinstance(node, Call) and node.function in ("is_missing", "is_known"):
        return True
    return any(_tests_missing(child) for child in node.children())


def _takes_both_values(field_: InputField, node: Node) -> bool:
    """Whether some two allowed answers to `field_` give `node` different truths."""
    evaluate = build_evaluator(node)
    seen: set[object] = set()
    for answer in _witnesses(field_, node):
        try:
            answer = field_.convert(answer)
        except FieldViolation:  # a candidate that is not an allowed answer
            continue
        seen.add(evaluate({field_.name: answer}))
    return True in seen and False in seen


def _witnesses(field_: InputField, node: Node) -> list[object]:
    if field_.kind == "boolean":
        return [False, True]
    if field_.values:
        return list(field_.values)
    literals = _literal_values(node)
    if field_.kind in ("integer", "number"):
        found: list[float] = [float(b) for b in (field_.minimum, field_.maximum) if b is not None]
        for value in literals:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found += [value, value - 1, value + 1, math.floor(value), math.ceil(value)]
        if field_.kind == "integer":
            return [int(v) for v in found if float(v).is_integer()]
        return list(found)
    if field_.kind == "date":
        return [
            (value + datetime.timedelta(days=days)).isoformat()
            for value in literals
            if isinstance(value, datetime.date)
            for days in (-1, 0, 1)
        ]
    return ["", *[v for v in literals if isinstance(v, str)]]


@dataclass(frozen=True)
class _Atom:
    """An answer the joint enumeration sets: its column, its allowed answers (as the query
    compares them) and their values as facts."""

    name: str
    values: tuple[object, ...]
    facts: tuple[object, ...]


@dataclass(frozen=True)
class _Joint:
    """Every combination of the answers (and instrument items) a group of decision rules reads,
    with the highest rank among the rules that hold on it (-1: none holds)."""

    atoms: tuple[_Atom, ...]
    ranks: Mapping[tuple[int, ...], int]
    """By the index of each atom's value."""

    @staticmethod
    def of(compiled: CompiledRuleset, rules: Sequence[DecisionRule]) -> _Joint | None:
        read = _joint_reads(compiled, rules)
        if read is None:
            return None
        names, instruments, used = read
        fields = {f.name: f for f in compiled.inputs.fields}
        keys = sorted(names) + [k for i in instruments.values() for k, _ in i.points]
        atoms = []
        for key in keys:
            field_ = fields.get(key)
            values = None if field_ is None else _enumerable(field_)
            if field_ is None or values is None:
                return None
            atoms.append(_Atom(key, values, tuple(field_.convert(v) for v in values)))
        if math.prod(len(atom.values) for atom in atoms) > MAX_JOINT_TRIALS:
            return None
        order = [d for d in compiled.domains if d in used]
        evaluators = [(rule.rank, build_evaluator(rule.expression)) for rule in rules]
        ranks: dict[tuple[int, ...], int] = {}
        for combination in itertools.product(*(range(len(atom.values)) for atom in atoms)):
            facts: dict[str, object] = {
                atom.name: atom.facts[i] for atom, i in zip(atoms, combination, strict=True)
            }
            try:
                for instrument in instruments.values():
                    _score_complete(instrument, facts)
                for domain in order:
                    _domain_complete(domain, facts)
                truths = [(rank, evaluate(facts)) for rank, evaluate in evaluators]
            except (KeyError, _NoRange):
                return None
            if any(truth is None for _, truth in truths):
                return None
            ranks[combination] = max((rank for rank, truth in truths if truth), default=-1)
        return _Joint(tuple(atoms), ranks)

    def at_floor(self, floor: int) -> str:
        """SQL true where some combination the row allows holds no rule ranked above `floor`
        (the group's outcome is then the decided rules' outcome)."""
        return self._cases(0, (), lambda combination: self.ranks[combination] <= floor)

    def reaching_free(self, position: int, floor: int) -> str:
        """SQL true where some combination of the other atoms the row allows has two values of
        atom `position` giving the group different outcomes over `floor` (the atom is then
        missing: the caller tests that it is read)."""

        def differs(combination: tuple[int, ...]) -> bool:
            before, after = combination[:position], combination[position:]
            outcomes = set()
            for i in range(len(self.atoms[position].values)):
                whole = (*before, i, *after)
                outcomes.add(max(floor, self.ranks[whole]))
            return len(outcomes) > 1

        return self._cases(0, (), differs, skip=position)

    def _cases(
        self,
        index: int,
        chosen: tuple[int, ...],
        holds: Callable[[tuple[int, ...]], bool],
        skip: int = -1,
    ) -> str:
        if index == skip:
            return self._cases(index + 1, chosen, holds, skip)
        if index == len(self.atoms):
            return "TRUE" if holds(chosen) else "FALSE"
        atom = self.atoms[index]
        below: dict[str, list[object]] = {}
        for i, value in enumerate(atom.values):
            found = self._cases(index + 1, (*chosen, i), holds, skip)
            below.setdefault(found, []).append(value)
        if len(below) == 1:
            return next(iter(below))  # the same whatever this answer is
        return _by_answer(quote(atom.name), below)


def _joint_reads(
    compiled: CompiledRuleset, rules: Sequence[DecisionRule]
) -> tuple[set[str], dict[str, CompiledInstrument], list[Domain]] | None:
    """(the answers, the instruments and the sum domains the rules read, through domains), or
    None where a rule or a domain rule tests a missing answer, a domain is not a sum, or an
    instrument has a mean subscore."""
    names: set[str] = set()
    domains = {key: d for d in compiled.domains for key in (d.score_key, d.band_key)}
    owner = {k: i for i in compiled.instruments for k in _instrument_keys(i)}
    instruments: dict[str, CompiledInstrument] = {}
    used: list[Domain] = []
    if any(_tests_missing(rule.expression) for rule in rules):
        return None
    pending = [r for rule in rules for r in rule.references]
    seen: set[str] = set()
    while pending:
        reference = pending.pop()
        if reference in seen:
            continue
        seen.add(reference)
        if reference in domains:
            domain = domains[reference]
            if domain.aggregation != "sum" or any(
                _tests_missing(scoring.expression) for scoring in domain.rules
            ):
                return None
            if domain not in used:
                used.append(domain)
            pending.extend(r for scoring in domain.rules for r in scoring.references)
        elif reference in owner and reference not in dict(owner[reference].points):
            instrument = owner[reference]
            if any(s.mean for s in instrument.subscores):
                return None
            instruments[instrument.alias] = instrument
        else:
            names.add(reference)  # an answer, or an item read as answered
    for instrument in instruments.values():
        names -= {key for key, _ in instrument.points}
    return names, instruments, used


def _instrument_keys(instrument: CompiledInstrument) -> set[str]:
    keys = {instrument.total_key, instrument.band_key, *(k for k, _ in instrument.points)}
    return keys | {s.key for s in instrument.subscores} | {f.key for f in instrument.flags}


def _score_complete(instrument: CompiledInstrument, facts: dict[str, object]) -> None:
    """An answered instrument's total, band, subscores and flags, from its items in `facts`."""
    points = {key: score(facts[key]) for key, score in instrument.points}
    facts[instrument.total_key] = sum(points.values())
    if instrument.bands is not None:
        facts[instrument.band_key] = instrument.bands.band_of(sum(points.values()))
    for subscore in instrument.subscores:
        facts[subscore.key] = sum(points[key] for key in subscore.item_keys)
    for flag in instrument.flags:
        if flag.expression is None:
            raise _NoRange
        facts[flag.key] = build_evaluator(flag.expression)(facts)


def _domain_complete(domain: Domain, facts: dict[str, object]) -> None:
    """A domain's score and band on answers that decide every one of its rules."""
    truths = tuple(build_evaluator(rule.expression)(facts) for rule in domain.rules)
    if any(truth is None for truth in truths):
        raise _NoRange
    low, _ = score_range(domain, truths)
    facts[domain.score_key] = low
    facts[domain.band_key] = domain.bands.band_of(low)


# --- the layers ----------------------------------------------------------------------------------


def _one_answer(field_: InputField, end: int) -> object:
    """An allowed answer: the first (`end` 0) or last (-1) of those the search enumerates,
    else one allowed value (`exact._answer_domain`)."""
    if field_.kind == "boolean":
        return (False, True)[end]
    if field_.values:
        if field_.kind in ("integer", "number"):
            return sorted(field_.values)[end]
        return field_.values[end]
    if field_.kind in ("integer", "number"):
        low, high = field_.minimum, field_.maximum
        if field_.kind == "integer":
            low = None if low is None else math.ceil(low)
            high = None if high is None else math.floor(high)
        if (
            low is not None
            and high is not None
            and field_.kind == "integer"
            and high - low < MAX_ENUMERATED
        ):
            return (low, high)[end]
        one = low if low is not None else high if high is not None else 0
        return float(one) if field_.kind == "number" else one
    if field_.kind == "date":
        return datetime.date(2000, 1, 1)
    return ""


def _answers_count(field_: InputField) -> int:
    """How many values the scalar search enumerates for a missing answer (`exact._answer_domain`;
    more than MAX_COMPLETIONS where it enumerates none)."""
    if field_.kind == "boolean":
        return 2
    if field_.values:
        return len(field_.values)
    if field_.kind == "integer" and field_.minimum is not None and field_.maximum is not None:
        low, high = math.ceil(field_.minimum), math.floor(field_.maximum)
        if field_.maximum - field_.minimum < MAX_ENUMERATED:
            return high - low + 1
    return MAX_COMPLETIONS + 1


class ExactLayers:
    """The v2 columns `x:...` over the v1 columns of `query` (`rule:<id>`, `lo:`/`hi:`)."""

    def __init__(self, query: _Query) -> None:
        self.query = query
        self.compiled = query.compiled
        self.fields = {f.name: f for f in self.compiled.inputs.fields}
        self.numbers: dict[str, _Num] = {}
        self.bands: dict[str, _Bands] = {}
        self.truths: dict[str, str] = {}
        self.unsure: list[str] = []
        """Conditions under which the row is the scalar engine's."""
        self.domain_of: dict[str, Domain] = {}
        self._probes: tuple[dict[str, str], dict[str, str]] | None = None
        self._proofs: UndecidedProof | None = None
        self._layered: set[str] = set()
        derived = {
            key for domain in self.compiled.domains for key in (domain.score_key, domain.band_key)
        }
        for instrument in self.compiled.instruments:
            derived |= {instrument.total_key, instrument.band_key}
            derived |= {s.key for s in instrument.subscores} | {f.key for f in instrument.flags}
        self.untracked = any(
            n not in self.fields and n not in derived for n in self.compiled.symbols
        )
        """A reserved name the scalar search counts among the missing answers, which `reads`
        does not track: then no proof counts completions."""

    def ranges(self) -> RangeWriter:
        return RangeWriter(
            self.compiled, self.query.names, self.numbers, self.bands, self.truths,
            self.query.bounds,
        )  # fmt: skip

    # --- instruments ---------------------------------------------------------------------

    def instruments(self) -> None:

        columns: list[tuple[str, str]] = []
        for instrument in self.compiled.instruments:
            low_of: dict[str, str] = {}
            high_of: dict[str, str] = {}
            for key, _ in instrument.points:
                points = _point_set(instrument, key)
                written = _points_sql(instrument, key)
                low_of[key] = f"COALESCE({written}, {points[0]})"
                high_of[key] = f"COALESCE({written}, {points[-1]})"
            keys = [key for key, _ in instrument.points]
            sums = [(instrument.total_key, keys, False)]
            sums += [(s.key, list(s.item_keys), s.mean) for s in instrument.subscores]
            for key, items, mean in sums:
                low = "(" + " + ".join(low_of[k] for k in items) + ")"
                high = "(" + " + ".join(high_of[k] for k in items) + ")"
                if mean:
                    low = f"(CAST({low} AS DOUBLE) / {len(items)})"
                    high = f"(CAST({high} AS DOUBLE) / {len(items)})"
                columns += [(f"x:lo:{key}", low), (f"x:hi:{key}", high)]
                self.numbers[key] = _Num(quote(f"x:lo:{key}"), quote(f"x:hi:{key}"))
            if instrument.bands is not None:
                total = self.numbers[instrument.total_key]
                self.bands[instrument.band_key] = _Bands(instrument.bands, total.low, total.high)
                self._covers(instrument.bands, instrument.total_range, total)
        self.query.layer(columns)
        flags = []
        for instrument in self.compiled.instruments:
            for flag in instrument.flags:
                assert flag.expression is not None  # the v1 query refused a flag without one
                ranged = self.ranges().write(flag.expression)
                v1 = quote(flag.key)
                if ranged is None:
                    self.unsure.append(f"({v1} IS NULL)")
                flags.append((f"x:{flag.key}", f"COALESCE({v1}, {ranged or v1})"))
                self.truths[flag.key] = quote(f"x:{flag.key}")
        self.query.layer(flags)

    def _covers(self, bands: BandTable, reachable: tuple[int, int], interval: _Num) -> None:
        """Where the bands leave a gap, a range can meet no band (an empty mask the query does
        not write): those rows are the scalar engine's."""
        low, high = reachable
        edges = sorted((b.minimum, b.maximum) for b in bands.bands)
        covered = bool(edges) and edges[0][0] <= low
        reach = edges[0][1] if edges else low - 1
        for minimum, maximum in edges[1:]:
            covered = covered and minimum <= reach + 1
            reach = max(reach, maximum)
        if not (covered and reach >= high):
            meets = _any(
                f"({interval.low} <= {b.maximum} AND {interval.high} >= {b.minimum})"
                for b in bands.bands
            )
            self.unsure.append(f"(NOT {meets})")

    # --- rules ---------------------------------------------------------------------------

    def stage(self, rules: Sequence[_Rule]) -> None:
        """`x:rule:<id>`: the v1 truth where v1 decides it, else the range evaluation's."""

        columns = []
        for rule in rules:
            v1 = quote(f"rule:{rule.id}")
            written = self.ranges().write(rule.expression)
            if written is None:
                self.unsure.append(f"({v1} IS NULL)")
                written = v1
            columns.append((f"x:rule:{rule.id}", f"COALESCE({v1}, {written})"))
        self.query.layer(columns)

    def domains(self) -> None:
        for domain in self.compiled.domains:
            self.stage(domain.rules)
            truths = [quote(f"x:rule:{rule.id}") for rule in domain.rules]
            low, high = _domain_range(domain, truths)
            self.query.layer([(f"x:lo:{domain.name}", low), (f"x:hi:{domain.name}", high)])
            interval = _Num(quote(f"x:lo:{domain.name}"), quote(f"x:hi:{domain.name}"))
            self.numbers[domain.score_key] = interval
            self.bands[domain.band_key] = _Bands(domain.bands, interval.low, interval.high)
            self._covers(domain.bands, domain.reachable, interval)
            for key in (domain.score_key, domain.band_key):
                self.domain_of[key] = domain
            self._domain_reads(domain)

    # --- the answers a rule reads (exact._Applicant.reads) -------------------------------

    def possible(self, references: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for reference in references:
            domain = self.domain_of.get(reference)
            if domain is not None:
                for rule in domain.rules:
                    found |= self.possible(rule.references)
            elif reference in self.fields:
                found.add(reference)
            else:
                found |= {
                    k for k in self.compiled.dependencies.get(reference, ()) if k in self.fields
                }
        return found

    def reads(self, name: str, references: Sequence[str]) -> str:
        """SQL: the missing answer `name` is among those `references` read (for a domain score
        or band: those its undecided rules read)."""

        return _any(self._read_terms(name, references))

    def direct_or_reads(self, name: str, references: Sequence[str]) -> str | None:
        """`reads`, or None where `references` read `name` itself (counted whenever missing)."""
        terms = self._read_terms(name, references)
        return None if f"({quote(name)} IS NULL)" in terms else _any(terms)

    def _read_terms(self, name: str, references: Sequence[str]) -> list[str]:
        terms = []
        column = quote(name)
        for reference in references:
            domain = self.domain_of.get(reference)
            if domain is not None:
                if name in self.possible([reference]):
                    terms.append(quote(f"xr:{domain.name}:{name}"))
            elif reference == name or (
                reference not in self.fields
                and name in self.compiled.dependencies.get(reference, ())
            ):
                terms.append(f"({column} IS NULL)")
        return list(dict.fromkeys(terms))

    def _domain_reads(self, domain: Domain) -> None:

        columns = []
        for name in sorted(self.possible([domain.score_key])):
            terms = [
                f"({quote('x:rule:' + rule.id)} IS NULL AND {self.reads(name, rule.references)})"
                for rule in domain.rules
                if name in self.possible(rule.references)
            ]
            columns.append((f"xr:{domain.name}:{name}", _any(terms)))
        self.query.layer(columns)

    def counts(self) -> None:
        """`xn:<answer>`: how many values the scalar search tries for it when it is missing
        (1 when answered), and `xn:<total>` the product over an instrument's items."""
        columns = []
        for f in self.compiled.inputs.fields:
            count = _answers_count(f)
            columns.append(
                (
                    f"xn:{f.name}",
                    f"(CASE WHEN {quote(f.name)} IS NULL THEN CAST({count} AS DOUBLE) "
                    "ELSE CAST(1 AS DOUBLE) END)",
                )
            )
        self.query.layer(columns)
        self.query.layer(
            [
                (
                    f"xn:{instrument.total_key}",
                    "(" + " * ".join(quote(f"xn:{key}") for key, _ in instrument.points) + ")",
                )
                for instrument in self.compiled.instruments
            ]
        )

    def too_many(self, names: Sequence[str], member: Callable[[str], str | None]) -> str:
        """SQL: the missing answers among `names` for which `member` holds have more than
        MAX_COMPLETIONS completions (the scalar search is not started). `member` gives None
        for an answer counted whenever it is missing."""
        if not names or self.untracked:
            return "FALSE"
        factors = []
        always = {name for name in names if member(name) is None}
        for instrument in self.compiled.instruments:
            items = {key for key, _ in instrument.points}
            if items <= always:
                factors.append(quote(f"xn:{instrument.total_key}"))
                always -= items
        for name in names:
            condition = member(name)
            if condition is None:
                if name in always:
                    factors.append(quote(f"xn:{name}"))
            else:
                factors.append(f"(CASE WHEN {condition} THEN {quote('xn:' + name)} ELSE 1 END)")
        return f"(({' * '.join(factors)}) > {MAX_COMPLETIONS})"

    def probes(self) -> tuple[dict[str, str], dict[str, str]]:
        """The names of two completions as SQL (`p0:` / `p1:` columns for the bands, flags and
        domain scores): every missing answer at its first allowed value, or its last (an
        instrument item at its lowest points, or highest, so that totals and subscores are
        their intervals' ends). Computed once; `probes` returns them."""
        if self._probes is not None:
            return self._probes
        found: list[dict[str, str]] = []
        for end in (0, -1):
            label = f"p{-end}:"
            names = dict(self.query.names)
            items = set()
            columns: list[tuple[str, str]] = []
            for instrument in self.compiled.instruments:
                items |= self._probe_items(instrument, end, label, names, columns)
            for f in self.compiled.inputs.fields:
                if f.name not in items:
                    names[f.name] = f"COALESCE({quote(f.name)}, {literal(_one_answer(f, end))})"
            writer = ExpressionWriter(names, self.query.bounds, self.query.names)
            for instrument in self.compiled.instruments:
                for flag in instrument.flags:
                    assert flag.expression is not None
                    columns.append((label + flag.key, writer.write(flag.expression)))
            self.query.layer(columns)
            for key, _ in columns:
                names[key[len(label) :]] = quote(key)
            for domain in self.compiled.domains:
                truths = [f"({writer.write(rule.expression)})" for rule in domain.rules]
                score, _ = _domain_range(domain, truths)
                self.query.layer(
                    [
                        (label + domain.score_key, score),
                        (
                            label + domain.band_key,
                            _band_case(domain.bands, quote(label + domain.score_key)),
                        ),
                    ]
                )
                names[domain.score_key] = quote(label + domain.score_key)
                names[domain.band_key] = quote(label + domain.band_key)
            found.append(names)
        self._probes = (found[0], found[1])
        return self._probes

    def _probe_items(
        self,
        instrument: CompiledInstrument,
        end: int,
        label: str,
        names: dict[str, str],
        columns: list[tuple[str, str]],
    ) -> set[str]:
        """An instrument's names at a probe: each missing item at its lowest points (`end` 0)
        or highest (-1); its band as a column. Returns its items."""
        for key, points in instrument.points:
            target = _point_set(instrument, key)[end]
            value = next(v for v in _allowed(self.fields[key]) if points(v) == target)
            names[key] = f"COALESCE({quote(key)}, {literal(value)})"
        for key in (instrument.total_key, *(sub.key for sub in instrument.subscores)):
            interval = self.numbers[key]
            names[key] = interval.high if end else interval.low
        if instrument.bands is not None:
            band = _band_case(instrument.bands, names[instrument.total_key])
            columns.append((label + instrument.band_key, band))
            names[instrument.band_key] = quote(label + instrument.band_key)
        return {key for key, _ in instrument.points}

    def proofs(self) -> UndecidedProof:
        """The proofs that rules are undecided, made once (see `proof_columns`)."""
        if self._proofs is None:
            self._proofs = UndecidedProof(self.compiled, self.ranges(), self.probes())
        return self._proofs

    def proof_columns(self) -> None:
        """Add the columns the proofs written since the last call read."""
        proofs = self.proofs()
        self.query.layer([(n, sql) for n, sql in proofs.columns.items() if n not in self._layered])
        self._layered |= set(proofs.columns)

    def settled(self, rules: Sequence[_Rule]) -> None:
        """`x:ok:<id>`: the rule is decided, or provably undecided (see the module docstring):
        read-once over parts that each go both ways, or the two probe completions disagree
        (`exact._rule_truth`'s first test), or the search for it could not start."""

        proofs = self.proofs()
        first, last = (
            ExpressionWriter(names, self.query.bounds, self.query.names) for names in self.probes()
        )
        columns = []
        for rule in rules:
            truth = quote(f"x:rule:{rule.id}")
            names = sorted(self.possible(rule.references))
            at_first, at_last = first.write(rule.expression), last.write(rule.expression)
            ways = [
                f"COALESCE({at_first} <> {at_last}, FALSE)",
                self.too_many(names, _reader(self, rule.references)),
            ]
            proof = proofs.proof(rule.expression)
            if proof is not None:
                ways.insert(0, proof)
            columns.append((f"x:ok:{rule.id}", f"({truth} IS NOT NULL OR {' OR '.join(ways)})"))
        self.proof_columns()
        self.query.layer(columns)

    # --- the outcome (exact._outcome_ranks, exact._decided) ------------------------------

    def outcome(self) -> None:
        """`x:known`: the decided rules fix the outcome (`exact.outcome_over`); `x:bounded`:
        they do not and the joint search could not start (more than MAX_COMPLETIONS
        completions): the conservative defer. Then `x:rank`, `x:fail_safe`, `x:deciding:<id>`."""

        compiled = self.compiled
        rules = compiled.decisions
        truth = [quote(f"x:rule:{rule.id}") for rule in rules]
        default = compiled.default.rank
        rank0 = quote("x:rank0")
        if compiled.hit_policy == "first":
            cases = " ".join(
                f"WHEN {_is_true(t)} THEN {rule.rank}" for t, rule in zip(truth, rules, strict=True)
            )
            earlier = [_any(_is_true(t) for t in truth[:i]) for i in range(len(rules))]
            affecting = [f"({t} IS NULL AND NOT {e})" for t, e in zip(truth, earlier, strict=True)]
            known_deciding = [
                f"({_is_true(t)} AND NOT {e})" for t, e in zip(truth, earlier, strict=True)
            ]
            bounded_deciding = ["FALSE" for _ in rules]
        else:
            pairs = list(zip(truth, rules, strict=True))
            cases = " ".join(
                f"WHEN {_any(_is_true(t) for t, r in pairs if r.rank == rank)} THEN {rank}"
                for rank in (REFER, DEFER, ADMIT)
                if any(r.rank == rank for r in rules)
            )
            affecting = [f"({t} IS NULL AND {rule.rank} > {rank0})" for t, rule in pairs]
            known_deciding = [f"({_is_true(t)} AND {rule.rank} = {rank0})" for t, rule in pairs]
            bounded_deciding = [
                f"{_is_true(t)}" if rule.rank == DEFER else "FALSE" for t, rule in pairs
            ]
        self.query.layer(
            [("x:rank0", f"(CASE {cases} ELSE {default} END)" if cases else str(default))]
        )
        self.query.layer(
            [(f"x:affecting:{rule.id}", a) for rule, a in zip(rules, affecting, strict=True)]
        )
        self.query.layer(
            [("x:known", f"(NOT {_any(quote('x:affecting:' + rule.id) for rule in rules)})")]
        )
        self.candidates = sorted(set().union(*(self.possible(r.references) for r in rules)))
        variables = []
        for name in self.candidates:
            terms = [
                f"({quote('x:affecting:' + rule.id)} AND {self.reads(name, rule.references)})"
                for rule in rules
                if name in self.possible(rule.references)
            ]
            variables.append((f"x:var:{name}", _any(terms)))
        self.query.layer(variables)
        too_many = self.too_many(self.candidates, lambda name: quote(f"x:var:{name}"))
        must = _any(f"({quote(key)} IS NULL)" for key in compiled.must_answer)
        known = quote("x:known")
        changes = self._every_answer_changes_it()
        self.proof_columns()
        self.query.layer(
            [
                (
                    "x:bounded",
                    f"(NOT {known} AND ({too_many} OR {changes}))",
                ),
                ("x:must", must),
            ]
        )
        admit_unanswered = f"({known} AND {rank0} = {ADMIT} AND {quote('x:must')})"
        self.query.layer(
            [
                (
                    f"x:candidate:{rule.id}",
                    f"(CASE WHEN {known} THEN {k} ELSE {b} END)",
                )
                for rule, k, b in zip(rules, known_deciding, bounded_deciding, strict=True)
            ]
        )
        any_candidate = _any(quote(f"x:candidate:{rule.id}") for rule in rules)
        self.query.layer(
            [
                (
                    "x:fail_safe",
                    f"({admit_unanswered} OR ({quote('x:bounded')} AND NOT {any_candidate}))",
                ),
                (
                    "x:rank",
                    f"(CASE WHEN {known} AND NOT {admit_unanswered} THEN {rank0} ELSE {DEFER} END)",
                ),
            ]
        )
        self.query.layer(
            [
                (
                    f"x:deciding:{rule.id}",
                    f"(NOT {quote('x:fail_safe')} AND {quote('x:candidate:' + rule.id)})",
                )
                for rule in rules
            ]
        )
        applied = []
        for advisory in compiled.advisories:
            ranks = ", ".join(str(rank) for rank in sorted(advisory.ranks))
            holds = _is_true(quote("x:rule:" + advisory.id))
            applied.append(
                (f"x:applied:{advisory.id}", f"({holds} AND {quote('x:rank')} IN ({ranks}))")
            )
        self.query.layer(applied)

    def _every_answer_changes_it(self) -> str:
        """SQL true where every missing answer the outcome-changing rules read changes the
        outcome on its own in some completion (then the search's `needs` is all of them, as
        when it cannot start). The rules are taken in groups that read the same answers (by
        what they may read); a group of one rule: read-once over independent parts, each of
        which that reads a missing answer goes both ways, depends on each answer it reads and
        can change the rule's truth, or a function of one total (`_one_total_changes_it`); a
        larger group: over few answers, tried on every combination (`_joint_changes_it`).
        With every other group at the outcome the decided rules give (each can be: they are
        independent), a group's outcome is then the outcome. Written for the protective hit
        policy."""
        compiled = self.compiled
        if compiled.hit_policy == "first" or self.untracked:
            return "FALSE"
        proofs = self.proofs()
        rules = compiled.decisions
        found: list[tuple[str, set[str]] | None] = []
        for rule in rules:
            proof = proofs.every_answer_counts(rule.expression)
            found.append(proof if proof is not None else self._one_total_changes_it(rule))
        terms = []
        for group in self._groups(rules):
            affecting = [quote(f"x:affecting:{rules[i].id}") for i in group]
            each = []  # every affecting rule on its own, no two reading the same answers
            for i, flag in zip(group, affecting, strict=True):
                proof_of = found[i]
                each.append(
                    f"(NOT {flag})" if proof_of is None else f"(NOT {flag} OR {proof_of[0]})"
                )
            for position, i in enumerate(group):
                for j in group[position + 1 :]:
                    first, second = found[i], found[j]
                    if first is not None and second is not None and first[1] & second[1]:
                        each.append(
                            f"(NOT ({quote('x:affecting:' + rules[i].id)} AND "
                            f"{quote('x:affecting:' + rules[j].id)}))"
                        )
            joint = self._joint_in(group, affecting)
            if joint is None:
                terms.append(_all(each))
            else:
                terms.append(f"({_all(each)} OR NOT {_any(affecting)} OR {joint})")
        return _all(terms)

    def _sources(self, rule: _Rule) -> set[str]:
        """What the rule may read, through domains: answers, and instruments (by alias)."""
        found: set[str] = set()
        owner = {
            key: instrument.alias
            for instrument in self.compiled.instruments
            for key in _instrument_keys(instrument)
        }
        for name in self._expanded(rule.references):
            found.add(owner.get(name, name))
        return found

    def _groups(self, rules: Sequence[_Rule]) -> list[list[int]]:
        """The rules' indexes in groups: two rules that may read the same answer or instrument
        are in one group (transitively)."""
        sources = [self._sources(rule) for rule in rules]
        groups: list[tuple[list[int], set[str]]] = []
        for index, read in enumerate(sources):
            merged = [index]
            union = set(read)
            kept = []
            for members, group_sources in groups:
                if group_sources & union:
                    merged = members + merged
                    union |= group_sources
                else:
                    kept.append((members, group_sources))
            groups = [*kept, (sorted(merged), union)]
        return sorted((members for members, _ in groups), key=lambda m: m[0])

    def _joint_in(self, group: Sequence[int], affecting: Sequence[str]) -> str | None:
        """`_joint_changes_it` for a group of rules, or for those of its rules that have few
        answers where the others do not change the outcome (then their truth is irrelevant
        and they read no answer the search would need)."""
        rules = self.compiled.decisions
        joint = self._joint_changes_it([rules[i] for i in group])
        if joint is not None:
            return joint
        few = [i for i in group if _Joint.of(self.compiled, [rules[i]]) is not None]
        if not few or len(few) == len(group):
            return None
        joint = self._joint_changes_it([rules[i] for i in few])
        if joint is None:
            return None
        others = [f"(NOT {a})" for i, a in zip(group, affecting, strict=True) if i not in few]
        return _all([*others, joint])

    def _joint_changes_it(self, rules: Sequence[DecisionRule]) -> str | None:
        """A group of rules over few answers (or instrument items): SQL true where the group's
        outcome, over every combination of those answers the row allows, can be the decided
        rules' outcome (`x:rank0`), and each missing answer the group's outcome-changing rules
        read changes the group's outcome on its own in some such combination; None where the
        combinations are too many or a rule's truth on one is not known."""
        joint = _Joint.of(self.compiled, rules)
        if joint is None:
            return None
        rank0 = quote("x:rank0")
        cases = []
        for floor in (ADMIT, DEFER):
            if floor < self.compiled.default.rank or not any(r.rank > floor for r in rules):
                continue
            terms = [joint.at_floor(floor)]
            read = []
            for position, atom in enumerate(joint.atoms):
                reads = _any(
                    f"({quote('x:affecting:' + rule.id)} AND "
                    f"{self.reads(atom.name, rule.references)})"
                    for rule in rules
                )
                read.append(reads)
                changes = joint.reaching_free(position, floor)
                terms.append(f"(NOT {reads} OR {changes})")
            terms.append(_any(read))  # some answer the search would need
            cases.append(f"WHEN {floor} THEN {_all(terms)}")
        if not cases:
            return None
        return f"(CASE {rank0} {' '.join(cases)} ELSE FALSE END)"

    def _one_total_changes_it(self, rule: _Rule) -> tuple[str, set[str]] | None:
        """(SQL true where every missing answer the rule reads changes its truth on its own in
        some completion, the sources it reads), or None where no such proof is written.

        The proof: on the row, the rule reads no missing answer but the items of one
        instrument, and reads that instrument only through its total (and band), directly or
        through domains: its truth is a function g of the total. Each item's points are a run
        of whole numbers, so the totals reached are every whole number between the probes'
        (every missing item at its lowest points, or highest), and each missing item, moved by
        one point, moves the total by one from any total but the highest. g differs at the two
        probes, so it differs at two neighbouring totals, and each missing item takes the
        total from one to the other with everything else fixed."""
        if _tests_missing(rule.expression):
            return None
        references = self._expanded(rule.references)
        sources: set[str] = set()
        candidates = []
        for instrument in self.compiled.instruments:
            keys = {instrument.total_key, instrument.band_key, *(k for k, _ in instrument.points)}
            keys |= {s.key for s in instrument.subscores} | {f.key for f in instrument.flags}
            read = references & keys
            if not read:
                continue
            sources.add(instrument.alias)
            items = [key for key, _ in instrument.points]
            through_total = read <= {instrument.total_key, instrument.band_key}
            if (
                through_total
                and _contiguous(instrument, items)
                and all(len(_point_set(instrument, key)) >= 2 for key in items)
            ):
                candidates.append(items)
        sources |= references & set(self.fields)
        if not candidates:
            return None
        first, last = (
            ExpressionWriter(names, self.query.bounds, self.query.names) for names in self.probes()
        )
        differs = (
            f"COALESCE({first.write(rule.expression)} <> {last.write(rule.expression)}, FALSE)"
        )
        possible = self.possible(rule.references)
        ways = []
        for items in candidates:
            others = sorted(possible - set(items))
            alone = _all(f"(NOT {self.reads(name, rule.references)})" for name in others)
            ways.append(alone)
        return f"({differs} AND {_any(ways)})", sources

    def _expanded(self, references: Sequence[str]) -> set[str]:
        """The names `references` read, with each domain score or band replaced by what its
        rules read (recursively)."""
        found: set[str] = set()
        pending = list(references)
        seen: set[str] = set()
        while pending:
            reference = pending.pop()
            if reference in seen:
                continue
            seen.add(reference)
            domain = self.domain_of.get(reference)
            if domain is None:
                found.add(reference)
            else:
                pending.extend(r for scoring in domain.rules for r in scoring.references)
        return found

    def needs(self) -> str:
        """`needs`: the unanswered must-answer inputs unless the outcome is refer; past the
        search's bound, every answer the outcome-changing rules read as well."""

        must = set(self.compiled.must_answer)
        items = []
        for name in sorted(set(self.candidates) | must):
            terms = []
            if name in self.candidates:
                terms.append(f"({quote('x:bounded')} AND {quote('x:var:' + name)})")
            if name in must:
                terms.append(f"({quote(name)} IS NULL AND {quote('x:rank')} <> {REFER})")
            items.append(f"CASE WHEN {' OR '.join(terms)} THEN {string_literal(name)} END")
        return _list(items)

    def outputs(self) -> dict[str, str]:
        """The SQL of each v2 result column that is not the v1 column of that name."""

        compiled = self.compiled
        found: dict[str, str] = {}
        for rule in compiled.decisions:
            found[f"rule:{rule.id}"] = quote(f"x:rule:{rule.id}")
        for advisory in compiled.advisories:
            found[f"rule:{advisory.id}"] = quote(f"x:rule:{advisory.id}")
        for domain in compiled.domains:
            for scoring in domain.rules:
                found[f"rule:{scoring.id}"] = quote(f"x:rule:{scoring.id}")
            lo, hi = quote(f"x:lo:{domain.name}"), quote(f"x:hi:{domain.name}")
            found[domain.score_key] = f"(CASE WHEN {lo} = {hi} THEN {lo} END)"
            band_lo, band_hi = _band_case(domain.bands, lo), _band_case(domain.bands, hi)
            found[domain.band_key] = f"(CASE WHEN {band_lo} = {band_hi} THEN {band_lo} END)"
            found[f"{domain.name}.score_low"] = lo
            found[f"{domain.name}.score_high"] = hi
        for instrument in compiled.instruments:
            if instrument.bands is not None:
                bands = self.bands[instrument.band_key]
                meets = [bands.meets(b.name) for b in instrument.bands.bands]
                count = " + ".join(f"(CASE WHEN {m} THEN 1 ELSE 0 END)" for m in meets)
                only = " ".join(
                    f"WHEN {m} THEN {literal(b.name)}"
                    for m, b in zip(meets, instrument.bands.bands, strict=True)
                )
                found[instrument.band_key] = (
                    f"(CASE WHEN {quote(instrument.band_key)} IS NOT NULL "
                    f"THEN {quote(instrument.band_key)} "
                    f"WHEN ({count}) = 1 THEN (CASE {only} END) END)"
                )
            for subscore in instrument.subscores:
                lo, hi = quote(f"x:lo:{subscore.key}"), quote(f"x:hi:{subscore.key}")
                found[subscore.key] = (
                    f"COALESCE({quote(subscore.key)}, CASE WHEN {lo} = {hi} THEN {lo} END)"
                )
            for flag in instrument.flags:
                found[flag.key] = quote(f"x:{flag.key}")
        return found

    def certain(self, rules: Sequence[_Rule]) -> list[str]:
        """Terms any one of which makes the row the scalar engine's."""

        terms = [f"NOT {quote('x:ok:' + rule.id)}" for rule in rules]
        terms.append(f"NOT ({quote('x:known')} OR {quote('x:bounded')})")
        return terms + self.unsure


def _literal(value: object) -> str:

    return literal(value)


def _reader(layers: ExactLayers, references: Sequence[str]) -> Callable[[str], str | None]:
    return lambda name: layers.direct_or_reads(name, references)


__all__ = ["ExactLayers", "RangeWriter", "UndecidedProof"]
