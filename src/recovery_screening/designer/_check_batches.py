"""`check` on the columnar engine: the generated applicants evaluated in batches.

For each property the search tries the same exhaustive sweep over the test cases' answers as
the scalar search, in the same order, then `examples` applicants from a generator seeded by
the seed and the property (half of them variations of the test cases, as the scalar search
draws them). The applicants are evaluated in Arrow tables (chunks growing to CHUNK_ROWS rows) by
`evaluate_batch`, and each property is tested on the result columns: `valid`, `outcome`, the
instrument flags, and for a declared property its `given`, evaluated by its compiled condition
over the row's facts (the answers and the result columns), so it is exact. The first candidate
that breaks a property, in the order generated, is confirmed with the scalar engine by the very
verdict the scalar search uses (a disagreement raises ColumnarMismatch: nothing differs
silently) and, unless the sweep found it, shrunk while the scalar engine still finds the
property broken: each answer put back to the test case's (or removed), then made simpler.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from recovery_screening.designer._properties import (
    DECLARED,
    FAIL_SAFE,
    MONOTONIC,
    SAFETY_FLAG,
    Properties,
    PropertyCheck,
    PropertyResult,
    answer_of,
    counterexample_result,
    one_step_worse,
    with_answer,
)
from recovery_screening.fields import InputField
from recovery_screening.outcomes import RANK

FIRST_CHUNK_ROWS = 512
CHUNK_ROWS = 65_536
"""Rows per evaluated table. The first has FIRST_CHUNK_ROWS: a search stops at its first
counterexample, which the sweep often finds among the first rows. Each next one has four times
as many, up to CHUNK_ROWS, while the SQL decides most rows itself (DuckDB plans the query once a
table, about a second for the intake); twice as many where the scalar engine decides many
(format v2 rows with undecided rules, milliseconds each)."""
_FAST_BELOW = 0.1
"""The share of rows decided by the scalar engine under which the chunks grow fourfold."""
MAX_SHRINK_ROUNDS = 20
_EARLIEST = datetime.date(1990, 1, 1)
_DAYS = (datetime.date(2040, 12, 31) - _EARLIEST).days
_LETTERS = string.ascii_letters + string.digits


class _Candidate:
    """One applicant the search tries: its answers in `ruleset.inputs` order (None when
    unanswered), the test case it varies (-1: a random applicant), for a swept one the change
    the sweep made, for monotonic the field made worse; `row` is its row in the chunk (its
    worse twin is the next row), -1 for one the scalar engine decides alone."""

    __slots__ = ("field", "row", "seed", "swept", "values")

    def __init__(
        self,
        values: tuple[Any, ...] | None,
        seed: int,
        swept: tuple[InputField, Any] | None = None,
        field: InputField | None = None,
    ) -> None:
        self.values = values
        self.seed = seed
        self.swept = swept
        self.field = field
        self.row = -1


class _Generator:
    """Random answers from the input contract, drawn as `designer.strategies` draws them."""

    def __init__(
        self, fields: Sequence[InputField], seeds: Sequence[tuple[Any, ...]], rng: random.Random
    ) -> None:
        self.fields = fields
        self.seeds = seeds
        self.rng = rng
        self.samplers = [self.sampler(field) for field in fields]

    def sampler(self, field: InputField) -> Callable[[], Any]:
        """A function drawing one valid answer to `field`."""
        draw = self.rng.random
        if field.kind == "boolean":
            return lambda: draw() < 0.5
        if field.kind == "enum" or field.values:
            values = tuple(field.values)
            return lambda: values[int(draw() * len(values))]
        if field.kind in ("integer", "number"):
            low = int(field.minimum) if field.minimum is not None else -1000
            high = int(field.maximum) if field.maximum is not None else 1000
            span = high - low + 1
            near = min(high - low, 30) + 1
            floor = float(field.minimum) if field.minimum is not None else -1000.0
            ceiling = float(field.maximum) if field.maximum is not None else 1000.0
            decimal = field.kind == "number"

            def number() -> Any:
                if decimal and draw() < 0.5:
                    return floor + (ceiling - floor) * draw()
                pick = draw()
                if pick < 0.1:
                    return low
                if pick < 0.2:
                    return high
                if pick < 0.45:  # near the floor, where most thresholds are
                    return low + int(draw() * near)
                return low + int(draw() * span)

            return number
        if field.kind == "string":
            longest = (field.max_length or 0) + 1
            return lambda: "".join(
                _LETTERS[int(draw() * len(_LETTERS))] for _ in range(int(draw() * longest))
            )
        return lambda: (_EARLIEST + datetime.timedelta(days=int(draw() * (_DAYS + 1)))).isoformat()

    def random_values(self, missing: float) -> list[Any]:
        draw = self.rng.random
        return [None if draw() < missing else sample() for sample in self.samplers]

    def variation(self, focus: Sequence[int]) -> tuple[list[Any], int]:
        """A test case with up to three answers changed (the first one of `focus`)."""
        rng = self.rng
        seed = rng.randrange(len(self.seeds))
        values = list(self.seeds[seed])
        for change in range(rng.randint(1 if focus else 0, 3)):
            if focus and change == 0:
                index = rng.choice(focus)
                values[index] = self.samplers[index]()
            else:
                index = rng.randrange(len(self.fields))
                values[index] = None if rng.random() < 0.5 else self.samplers[index]()
        return values, seed

    def generated(self, missing: float, focus: Sequence[int]) -> tuple[list[Any], int]:
        if self.seeds and self.rng.random() < 0.5:
            return self.variation(focus)
        return self.random_values(missing), -1


class _Chunk:
    """The candidates of one evaluated table, and its rows."""

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.candidates: dict[int, list[_Candidate]] = {}

    def add(self, check: int, candidate: _Candidate, twin: tuple[Any, ...] | None) -> None:
        if candidate.values is not None:
            candidate.row = len(self.rows)
            self.rows.append(candidate.values)
            if twin is not None:
                self.rows.append(twin)
        self.candidates.setdefault(check, []).append(candidate)


class _Columns:
    """A chunk's result columns as Python lists, converted on first use."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.names = frozenset(table.column_names)
        self._lists: dict[str, list[Any]] = {}

    def __getitem__(self, name: str) -> list[Any]:
        found = self._lists.get(name)
        if found is None:
            found = self._lists[name] = self.table[name].to_pylist()
        return found


class _RowFacts(Mapping[str, object]):
    """The facts a condition reads for one row: its answers (converted as the applicant check
    converts them) and its result columns (totals, flags, scores, bands)."""

    def __init__(self, search: BatchSearch, columns: _Columns, candidate: _Candidate) -> None:
        self.search = search
        self.columns = columns
        self.candidate = candidate

    def __getitem__(self, name: str) -> object:
        index = self.search.index.get(name)
        if index is not None:
            assert self.candidate.values is not None
            value = self.candidate.values[index]
            return None if value is None else self.search.fields[index].convert(value)
        if name not in self.columns.names:
            raise KeyError(name)
        return self.columns[name][self.candidate.row]

    def __iter__(self) -> Iterator[str]:
        yield from self.search.index
        yield from self.columns.names

    def __len__(self) -> int:
        return len(self.search.index) + len(self.columns.names)


class BatchSearch:
    """One run of `check_properties` on the columnar engine."""

    def __init__(
        self, properties: Properties, checks: list[PropertyCheck], *, examples: int, seed: int
    ) -> None:
        self.properties = properties
        self.ruleset = properties.ruleset
        self.checks = checks
        self.examples = examples
        self.seed = seed
        self.fields = tuple(self.ruleset.inputs)
        self.index = {field.name: position for position, field in enumerate(self.fields)}
        self.must_answer = [self.index[name] for name in self.ruleset.compiled.must_answer]
        self.seed_values = [self._flat_seed(applicant) for applicant in properties.seeds]

    # --- applicants as answer tuples ------------------------------------------------------

    def _flat_seed(self, applicant: dict[str, Any]) -> tuple[Any, ...] | None:
        """A test case's answers, or None when the scalar engine refuses it (its sweep is then
        decided by the scalar engine: a tuple of answers cannot hold what is wrong with it)."""
        if self.ruleset.applicant_problems(applicant):
            return None
        return tuple(answer_of(applicant, field) for field in self.fields)

    def applicant(self, values: Sequence[Any]) -> dict[str, Any]:
        applicant: dict[str, Any] = {}
        for field, value in zip(self.fields, values, strict=True):
            if value is None:
                continue
            if field.instrument:
                applicant.setdefault(field.instrument, {})[field.item] = value
            else:
                applicant[field.name] = value
        return applicant

    def exact(self, check: PropertyCheck, candidate: _Candidate) -> Any:
        """The candidate as the scalar search has it: a swept one exactly as the sweep built it
        (the test case's own dict, one answer changed), else rebuilt from its answers."""
        if candidate.swept is not None:
            field, value = candidate.swept
            applicant = with_answer(self.properties.seeds[candidate.seed], field, value)
        else:
            assert candidate.values is not None
            applicant = self.applicant(candidate.values)
        return (applicant, candidate.field) if check.kind == MONOTONIC else applicant

    # --- the candidates of one property, in order -----------------------------------------

    def candidates(self, check: PropertyCheck) -> Iterator[_Candidate]:
        for seed, swept, value in self.properties.sweep_steps(check):
            base = self.seed_values[seed]
            answers = None
            if base is not None:
                changed = list(base)
                changed[self.index[swept.name]] = value
                answers = tuple(changed)
            yield _Candidate(
                answers, seed, (swept, value), swept if check.kind == MONOTONIC else None
            )
        usable = [values for values in self.seed_values if values is not None]
        seeds = [position for position, values in enumerate(self.seed_values) if values is not None]
        generator = _Generator(self.fields, usable, random.Random(f"{self.seed} {check.id}"))
        focus = [self.index[f.name] for f in self.properties.focus_of(check.references)]
        for _ in range(self.examples):
            field: InputField | None = None
            if check.kind == MONOTONIC:
                field = generator.rng.choice(check.directed)
                focus = [self.index[field.name]]
            values, seed = generator.generated(check.missing, focus)
            yield _Candidate(tuple(values), seeds[seed] if seed >= 0 else -1, field=field)

    def twin(self, candidate: _Candidate) -> tuple[Any, ...] | None:
        """A monotonic candidate's answers with its field one step worse (None: no such)."""
        assert candidate.field is not None and candidate.values is not None
        index = self.index[candidate.field.name]
        value = candidate.values[index]
        worse = None if value is None else one_step_worse(candidate.field, value)
        if worse is None:
            return None
        changed = list(candidate.values)
        changed[index] = worse
        return tuple(changed)

    # --- the search -------------------------------------------------------------------------

    def run(self, record: Callable[[list[PropertyResult]], None]) -> list[PropertyResult]:
        """Every property's result, in order; `record(results so far)` as each is known."""
        checks = self.checks
        pending = [self.candidates(check) for check in checks]
        exhausted = [False] * len(checks)
        decided: dict[int, PropertyResult] = {}
        results: list[PropertyResult] = []
        size = FIRST_CHUNK_ROWS
        while len(results) < len(checks):
            chunk = self.fill(pending, exhausted, decided, size)
            if chunk.rows or chunk.candidates:
                fast = self.evaluate(chunk, decided) < _FAST_BELOW
                size = min(size * (4 if fast else 2), CHUNK_ROWS)
            while len(results) < len(checks):
                position = len(results)
                if position in decided:
                    results.append(decided[position])
                elif exhausted[position]:
                    check = checks[position]
                    results.append(PropertyResult(check.id, check.text, True))
                else:
                    break
                record(results)
        return results

    def fill(
        self,
        pending: list[Iterator[_Candidate]],
        exhausted: list[bool],
        decided: Mapping[int, PropertyResult],
        size: int,
    ) -> _Chunk:
        """The next chunk: candidates of the open properties, in order, up to `size` rows."""
        chunk = _Chunk()
        for position, candidates in enumerate(pending):
            if exhausted[position] or position in decided:
                continue
            monotonic = self.checks[position].kind == MONOTONIC
            for candidate in candidates:
                twin = None
                if monotonic and candidate.values is not None:
                    twin = self.twin(candidate)
                    if twin is None:
                        continue  # nothing to make worse: it cannot break the property
                chunk.add(position, candidate, twin)
                if len(chunk.rows) >= size:
                    return chunk
            exhausted[position] = True
        return chunk

    def table(self, rows: list[tuple[Any, ...]]) -> Any:
        import pyarrow as pa

        types = {
            "boolean": pa.bool_(),
            "integer": pa.int64(),
            "number": pa.float64(),
            "enum": pa.string(),
            "string": pa.string(),
            "date": pa.string(),
        }
        by_field = list(zip(*rows, strict=True)) if rows else [() for _ in self.fields]
        return pa.table(
            {
                field.name: pa.array(values, types[field.kind])
                for field, values in zip(self.fields, by_field, strict=True)
            }
        )

    def evaluate(self, chunk: _Chunk, decided: dict[int, PropertyResult]) -> float:
        """Decide the chunk's properties; return the share of its rows the scalar engine
        decided."""
        from recovery_screening.columnar.batch import evaluate_batch

        columns = None
        scalar_share = 0.0
        if chunk.rows:
            result = evaluate_batch(self.ruleset, self.table(chunk.rows))
            columns = _Columns(result.table)
            scalar_share = result.scalar_rows / len(chunk.rows)
        for position, candidates in chunk.candidates.items():
            check = self.checks[position]
            for candidate in candidates:
                if self.breaks(check, candidate, columns):
                    decided[position] = self.confirmed(check, candidate)
                    break
        return scalar_share

    def breaks(self, check: PropertyCheck, candidate: _Candidate, columns: _Columns | None) -> bool:
        """Whether the candidate breaks the property, by the result columns (by the scalar
        engine for a candidate with no row)."""
        if candidate.row < 0 or columns is None:
            return check.broken(self.exact(check, candidate)) is not None
        row = candidate.row
        valid = columns["valid"]
        if not valid[row]:
            return False
        outcome = columns["outcome"]
        if check.kind == FAIL_SAFE:
            assert candidate.values is not None
            values = candidate.values
            return outcome[row] == "admit" and any(values[i] is None for i in self.must_answer)
        if check.kind == MONOTONIC:
            return bool(valid[row + 1]) and RANK[outcome[row + 1]] < RANK[outcome[row]]
        if check.kind == SAFETY_FLAG:
            assert check.flag is not None
            return columns[check.flag][row] is True and outcome[row] != "refer"
        assert check.kind == DECLARED and check.spec is not None
        spec = check.spec
        if outcome[row] in spec.outcome_in:
            return False
        if spec.given is None:
            return True
        try:
            return spec.given(_RowFacts(self, columns, candidate)) is True
        except KeyError:  # a fact with no column: the scalar engine's facts decide
            return check.broken(self.exact(check, candidate)) is not None

    def confirmed(self, check: PropertyCheck, candidate: _Candidate) -> PropertyResult:
        """The result for a candidate the columns say breaks the property: confirmed by the
        scalar engine, then (unless swept) shrunk."""
        found = self.exact(check, candidate)
        if check.broken(found) is None:
            self.mismatch(check, candidate)
        if candidate.swept is None:
            found = self.shrunk(check, candidate)
        return counterexample_result(self.ruleset, check, found)

    def mismatch(self, check: PropertyCheck, candidate: _Candidate) -> None:
        """Raise ColumnarMismatch: the columns and the scalar engine disagree on a candidate."""
        from recovery_screening.columnar.batch import ColumnarMismatch, evaluate_batch

        assert candidate.values is not None
        rows = [candidate.values]
        if check.kind == MONOTONIC:
            twin = self.twin(candidate)
            assert twin is not None
            rows.append(twin)
        result = evaluate_batch(self.ruleset, self.table(rows))
        for row in range(len(rows)):
            result.decision(row)  # raises ColumnarMismatch naming the columns that differ
        raise ColumnarMismatch(
            f"{self.ruleset.id} {self.ruleset.version}", candidate.row, [check.id]
        )

    # --- shrinking ----------------------------------------------------------------------------

    def shrunk(self, check: PropertyCheck, candidate: _Candidate) -> Any:
        """The candidate made smaller while it still breaks the property (by the scalar
        engine): each answer put back to the test case's (removed, for a random applicant),
        then each answer that differs made simpler, until nothing changes."""
        assert candidate.values is not None
        seed = self.seed_values[candidate.seed] if candidate.seed >= 0 else None
        base = seed if seed is not None else (None,) * len(self.fields)
        values = list(candidate.values)

        def breaks(trial: list[Any]) -> bool:
            applicant = self.applicant(trial)
            found = (applicant, candidate.field) if check.kind == MONOTONIC else applicant
            return check.broken(found) is not None

        for _ in range(MAX_SHRINK_ROUNDS):
            changed = False
            for index in range(len(values)):
                if _same(values[index], base[index]):
                    continue
                trial = [*values[:index], base[index], *values[index + 1 :]]
                if breaks(trial):
                    values, changed = trial, True
            for index, field in enumerate(self.fields):
                if values[index] is None or _same(values[index], base[index]):
                    continue
                for simpler in simpler_values(field, values[index]):
                    trial = [*values[:index], simpler, *values[index + 1 :]]
                    if breaks(trial):
                        values, changed = trial, True
                        break
            if not changed:
                break
        applicant = self.applicant(values)
        return (applicant, candidate.field) if check.kind == MONOTONIC else applicant


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def simpler_values(field: InputField, value: Any) -> list[Any]:
    """Answers simpler than `value`, simplest first: false; an earlier allowed value; a number
    nearer zero (within the range); the empty string."""
    if field.kind == "boolean":
        return [False] if value is True else []
    if field.values:
        values = list(field.values)
        return values[: values.index(value)] if value in values else []
    if field.kind in ("integer", "number"):
        low = field.minimum if field.minimum is not None else -1000
        high = field.maximum if field.maximum is not None else 1000
        target = min(max(0, low), high)
        if field.kind == "integer":
            target = int(target)
        found: list[Any] = []
        step = 1 if value < target else -1
        for candidate in (target, value - (value - target) // 2, value + step):
            if field.kind == "integer":
                candidate = int(candidate)
            nearer = abs(candidate - target) < abs(value - target)
            if nearer and candidate not in found and low <= candidate <= high:
                found.append(candidate)
        if field.kind == "number" and isinstance(value, float) and int(value) != value:
            truncated = int(value)
            if low <= truncated <= high and truncated not in found:
                found.append(truncated)
        return found
    if field.kind == "string":
        return [""] if value else []
    return []
