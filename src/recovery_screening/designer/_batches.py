"""Designer tools on the columnar engine: the same tallies, counted by DuckDB or from Arrow.

`simulate` and `diff` choose the engine: `columnar` (the default where the `columnar` extra is
installed and the cohort is JSON Lines) evaluates the cohort with `BatchStream`; `scalar` is the
process pool over `Ruleset.evaluate`. On the columnar engine the rows its SQL leaves to the
scalar engine are decided by the same kind of pool (`scalar_pool`), started only when there are
such rows. `simulate` has DuckDB count the rows its SQL decides
(`_Tallies`: SQL aggregates) and counts the rows the scalar engine decides from their result
tables; `diff` counts each pair of result batches with Arrow compute. Both engines give the
same tally; tests/designer and tests/columnar hold them equal.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recovery_screening.columnar.sql import literal, quote
from recovery_screening.compiler import CompiledRuleset
from recovery_screening.designer._cohort import WorkerPool, default_workers
from recovery_screening.designer.defaults import ENGINES
from recovery_screening.errors import DocumentError, MissingExtra, Problem, ScreeningError
from recovery_screening.outcomes import DEFAULT_RULE, INCOMPLETE_RULE, OUTCOMES

if TYPE_CHECKING:
    import pyarrow as pa

    from recovery_screening.designer.simulate import Tally
    from recovery_screening.ruleset import Ruleset

AUTO_MIN_BYTES = 8 * 1024 * 1024
"""`auto` takes the columnar engine from this file size up (about 6,000 applicants): below it,
DuckDB's planning of the query (a second or so) costs more than the scalar pool saves."""
_COLUMNAR_SUFFIXES = (".jsonl", ".ndjson", ".json")


def columnar_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("duckdb", "pyarrow"))


def chosen_engine(engine: str, cohort: str | Path) -> str:
    """`columnar` or `scalar`: `auto` is columnar for a JSON Lines cohort of AUTO_MIN_BYTES or
    more when the extra is installed. Asking for `columnar` without the extra raises
    MissingExtra."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    suffix = Path(cohort).suffix.lower()
    if engine == "scalar":
        return "scalar"
    if engine == "columnar":
        if not columnar_available():
            raise MissingExtra("columnar", "duckdb")
        if suffix not in _COLUMNAR_SUFFIXES:
            raise DocumentError(
                str(cohort),
                [Problem((), "bad-format", "the columnar engine reads JSON Lines cohorts")],
            )
        return "columnar"
    path = Path(cohort)
    large = path.is_file() and path.stat().st_size >= AUTO_MIN_BYTES
    return (
        "columnar" if large and suffix in _COLUMNAR_SUFFIXES and columnar_available() else "scalar"
    )


def _sidecar(rulesets: tuple[Ruleset, ...]) -> frozenset[str]:
    """The side-car key (`cohort`) every row is stripped of, as `Grouping.split` strips it."""
    from recovery_screening.designer.equity import SIDECAR, Grouping

    return frozenset({SIDECAR}) if Grouping.for_rulesets(rulesets, ()).strip else frozenset()


@contextmanager
def scalar_pool(rulesets: Sequence[Ruleset], workers: int | None) -> Iterator[WorkerPool | None]:
    """The `workers` processes (default: `default_workers()`) that decide the rows the SQL
    leaves to the scalar engine, each compiling `rulesets` from their documents when it starts;
    None for one worker: those rows are then decided in this process. No process starts before
    the first such row."""
    count = workers if workers is not None else default_workers()
    if count <= 1:
        yield None
        return
    from recovery_screening.columnar.workers import ScalarRows
    from recovery_screening.ruleset import ruleset_data

    shipped = tuple(ruleset_data(ruleset) for ruleset in rulesets)
    with WorkerPool(ScalarRows, (shipped,), count) as pool:
        yield pool


def stream(
    ruleset: Ruleset,
    cohort: str | Path,
    *,
    ignore: frozenset[str] = frozenset(),
    columns: list[str] | None = None,
    pool: WorkerPool | None = None,
) -> Any:
    from recovery_screening.columnar.batch import BatchStream

    if not Path(cohort).is_file():
        raise DocumentError(str(cohort), [Problem((), "unreadable", "cannot open file")])
    return BatchStream(ruleset, cohort, ignore=ignore, columns=columns, pool=pool)


def _counts(array: Any) -> Counter[Any]:
    """value -> count of an Arrow array (nulls counted under None)."""
    import pyarrow.compute as pc

    counted: Counter[Any] = Counter()
    for entry in pc.value_counts(array).to_pylist():
        counted[entry["values"]] += entry["counts"]
    return counted


def _flat_counts(array: Any) -> Counter[Any]:
    import pyarrow.compute as pc

    return _counts(pc.list_flatten(array))


def _true_count(array: Any) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(pc.fill_null(array, False).cast("int64")).as_py() or 0)


def tally_batch(
    compiled: CompiledRuleset,
    table: pa.Table,
    tally: Tally,
    line_of: Callable[[int], int | None],
) -> None:
    """Add a batch of results to a simulation tally (what `SimulationWorker._count` counts)."""
    import pyarrow.compute as pc

    tally.applicants += table.num_rows
    invalid = table.filter(pc.invert(table["valid"]))
    for row, problems in zip(
        invalid["row"].to_pylist(), invalid["problems"].to_pylist(), strict=True
    ):
        line = line_of(row)
        for problem in problems or ():
            tally.count_invalid(problem["path"], problem["code"], line if line is not None else row)
    valid = table.filter(table["valid"])
    tally.evaluated += valid.num_rows
    if not valid.num_rows:
        return
    tally.outcomes.update(_counts(valid["outcome"]))
    codes = {rule.id: rule.code for rule in compiled.decisions}
    codes[DEFAULT_RULE] = compiled.default.code
    codes[INCOMPLETE_RULE] = compiled.incomplete.code
    for rule_id, count in _flat_counts(valid["deciding"]).items():
        tally.reasons[codes[rule_id]] += count
    tally.referrals.update(_flat_counts(valid["referrals"]))
    for rule in compiled.decisions:
        fired = _true_count(valid[f"rule:{rule.id}"])
        if fired:
            tally.decision_fired[rule.id] += fired
    for domain in compiled.domains:
        for scoring in domain.rules:
            fired = _true_count(valid[f"rule:{scoring.id}"])
            if fired:
                tally.scoring_fired[scoring.id] += fired
        tally.scores.setdefault(domain.name, Counter()).update(_counts(valid[domain.score_key]))
        tally.bands.setdefault(domain.name, Counter()).update(_counts(valid[domain.band_key]))
    tally.needs.update(_flat_counts(valid["needs"]))
    alone = pc.and_(
        pc.equal(pc.list_value_length(valid["needs"]), 1), pc.equal(valid["outcome"], "defer")
    )
    tally.needs_alone.update(_flat_counts(valid["needs"].filter(alone)))


def without(applicant: Any, keys: frozenset[str]) -> Any:
    from recovery_screening.columnar.batch import without as strip

    return strip(applicant, keys)


class TallyMismatch(ScreeningError):
    """DuckDB's counts miss a value the tally lists (a bug: the counts would be incomplete)."""


class _Tallies:
    """A simulation tally's counts as SQL aggregates over the result columns (`count_if` for
    each value a column can hold, known from the ruleset), and how each is added to a `Tally`:
    what `tally_batch` counts from Arrow. Each column's counts are checked complete against its
    number of values, so a value the ruleset does not list cannot be left out silently."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.sql: list[str] = []
        self._add: list[Callable[[Tally, Any], None]] = []
        self._checks: list[tuple[str, int, int]] = []
        codes = {rule.id: rule.code for rule in compiled.decisions}
        codes[DEFAULT_RULE] = compiled.default.code
        codes[INCOMPLETE_RULE] = compiled.incomplete.code
        self.values("outcome", OUTCOMES, lambda t: t.outcomes)
        self.items("deciding", list(codes), lambda t: t.reasons, codes)
        self.items("referrals", _targets(compiled), lambda t: t.referrals)
        names = [field.name for field in compiled.inputs.fields]
        self.items("needs", names, lambda t: t.needs)
        alone = "CASE WHEN outcome = 'defer' AND len(needs) = 1 THEN needs[1] END"
        self.values(alone, names, lambda t: t.needs_alone, total=f"count({alone})")
        for rule in compiled.decisions:
            self.fired(rule.id, lambda t: t.decision_fired)
        for domain in compiled.domains:
            for scoring in domain.rules:
                self.fired(scoring.id, lambda t: t.scoring_fired)
            low, high = domain.reachable
            scores = _domain_counter("scores", domain.name)
            self.values(quote(domain.score_key), range(low, high + 1), scores, nulls=True)
            bands = _domain_counter("bands", domain.name)
            self.values(quote(domain.band_key), domain.bands.names, bands, nulls=True)

    def _aggregate(self, sql: str, add: Callable[[Tally, Any], None]) -> int:
        self.sql.append(sql)
        self._add.append(add)
        return len(self.sql) - 1

    def values(
        self,
        column: str,
        values: Iterable[Any],
        counter: Callable[[Tally], Counter[Any]],
        *,
        nulls: bool = False,
        total: str | None = None,
    ) -> None:
        """Count each of a column's `values` (and its NULLs with `nulls`)."""
        listed = list(values)
        first = len(self.sql)
        for value in listed:
            self._aggregate(f"count_if({column} = {literal(value)})", _adder(counter, value))
        if nulls:
            self._aggregate(f"count_if({column} IS NULL)", _adder(counter, None))
        total = total or ("count(*)" if nulls else f"count({column})")
        checked = self._aggregate(total, _ignored)
        self._checks.append((column, first, checked))

    def items(
        self,
        column: str,
        items: Sequence[str],
        counter: Callable[[Tally], Counter[Any]],
        names: Mapping[str, str] | None = None,
    ) -> None:
        """Count each of `items` in a list column (counted through `names`); a list holds an
        item at most once."""
        first = len(self.sql)
        for item in items:
            named = names[item] if names is not None else item
            self._aggregate(
                f"count_if(list_contains({column}, {literal(item)}))", _adder(counter, named)
            )
        checked = self._aggregate(f"sum(len({column}))", _ignored)
        self._checks.append((column, first, checked))

    def fired(self, rule_id: str, counter: Callable[[Tally], Counter[Any]]) -> None:
        self._aggregate(f"count_if({quote('rule:' + rule_id)})", _adder(counter, rule_id))

    def add(self, tally: Tally, values: tuple[Any, ...], rows: int) -> None:
        for column, first, checked in self._checks:
            if sum(int(value or 0) for value in values[first:checked]) != int(values[checked] or 0):
                raise TallyMismatch(f"the columnar counts of {column} are incomplete")
        tally.applicants += rows
        tally.evaluated += rows
        for add, value in zip(self._add, values, strict=True):
            add(tally, value)


def _adder(counter: Callable[[Tally], Counter[Any]], key: Any) -> Callable[[Tally, Any], None]:
    def add(tally: Tally, count: Any) -> None:
        if count:
            counter(tally)[key] += int(count)

    return add


def _ignored(tally: Tally, value: Any) -> None:
    """A check's aggregate adds nothing."""


def _targets(compiled: CompiledRuleset) -> list[str]:
    """Every referral target a decision can name, once each."""
    targets = [*compiled.default.referrals, *compiled.incomplete.referrals]
    targets += [t for rule in compiled.decisions for t in rule.referrals]
    targets += [t for advisory in compiled.advisories for t in advisory.referrals]
    return list(dict.fromkeys(targets))


def _domain_counter(kind: str, domain: str) -> Callable[[Tally], Counter[Any]]:
    """The tally's counter of one domain's scores (`kind` "scores") or bands ("bands")."""

    def counter(tally: Tally) -> Counter[Any]:
        counters: dict[str, Counter[Any]] = getattr(tally, kind)
        return counters.setdefault(domain, Counter())

    return counter


def simulate_columnar(
    ruleset: Ruleset,
    cohort: str | Path,
    progress: Callable[[int], None] | None,
    total: Tally,
    workers: int | None = None,
) -> Tally:
    """Fill `total` (a fresh simulation tally): DuckDB counts the rows its SQL decides, and the
    rows the scalar engine decides (on `workers` processes) are counted from their result
    tables."""
    compiled = ruleset.compiled
    for domain in compiled.domains:
        total.scores.setdefault(domain.name, Counter())
        total.bands.setdefault(domain.name, Counter())
    with scalar_pool((ruleset,), workers) as pool:
        batches = stream(ruleset, cohort, ignore=_sidecar((ruleset,)), pool=pool)
        tallies = _Tallies(compiled)
        aggregated = batches.aggregate(tallies.sql)
        if aggregated.values is not None:
            tallies.add(total, aggregated.values, aggregated.decided)
            if progress is not None:
                progress(aggregated.decided)
        for table in aggregated.others:
            tally_batch(compiled, table, total, batches.line)
            if progress is not None:
                progress(table.num_rows)
    return total


def rows_of(table: pa.Table, names: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """The rows of `table` as dicts of the columns in `names` (column -> key)."""
    columns = {key: table[column].to_pylist() for column, key in names.items()}
    for index in range(table.num_rows):
        yield {key: values[index] for key, values in columns.items()}


def _aligned(first: Iterator[pa.Table], second: Iterator[pa.Table]) -> Iterator[tuple[Any, Any]]:
    """Pairs of tables over the same rows from two streams of the same rows in order."""
    left: Any = None
    right: Any = None
    while True:
        if left is None or left.num_rows == 0:
            left = next(first, None)
        if right is None or right.num_rows == 0:
            right = next(second, None)
        if left is None or right is None:
            return
        size = min(left.num_rows, right.num_rows)
        yield left.slice(0, size), right.slice(0, size)
        left, right = left.slice(size), right.slice(size)


def _group_counts(*arrays: Any) -> Counter[tuple[Any, ...]]:
    """(value of each array) -> count over arrays of the same rows (nulls counted as None)."""
    import pyarrow as pa

    names = [f"k{index}" for index in range(len(arrays))]
    grouped = (
        pa.table(dict(zip(names, arrays, strict=True)))
        .group_by(names)
        .aggregate([([], "count_all")])
    )
    keys = zip(*(grouped[name].to_pylist() for name in names), strict=True)
    return Counter(dict(zip(keys, grouped["count_all"].to_pylist(), strict=True)))


def _count_problems(
    tally: Tally, table: Any, line_of: Callable[[int], int | None], first: bool
) -> None:
    for row, problems in zip(table["row"].to_pylist(), table["problems"].to_pylist(), strict=True):
        line = line_of(row)
        for problem in (problems or [])[: 1 if first else None]:
            tally.count_invalid(problem["path"], problem["code"], line if line is not None else row)


def diff_columnar(
    old: Ruleset,
    new: Ruleset,
    cohort: str | Path,
    tally: Any,
    only_old: frozenset[str],
    only_new: frozenset[str],
    show_values: bool,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> None:
    """Fill a `DiffTally` from the two versions' result streams (what `DiffWorker` counts); the
    rows either version's SQL leaves to the scalar engine are decided on `workers` processes."""
    with scalar_pool((old, new), workers) as pool:
        _diff_columnar(old, new, cohort, tally, only_old, only_new, show_values, progress, pool)


def _diff_columnar(
    old: Ruleset,
    new: Ruleset,
    cohort: str | Path,
    tally: Any,
    only_old: frozenset[str],
    only_new: frozenset[str],
    show_values: bool,
    progress: Callable[[int], None] | None,
    pool: WorkerPool | None,
) -> None:
    import pyarrow.compute as pc

    sidecar = _sidecar((old, new))
    old_domains = {d.name: d for d in old.compiled.domains}
    shared = [(old_domains[d.name], d) for d in new.compiled.domains if d.name in old_domains]
    # only what the tally reads: the SQL then computes nothing else (needs, referrals, ...)
    read = ["outcome", "deciding"]
    before_stream = stream(
        old, cohort, ignore=only_new | sidecar,
        columns=[*read, *(a.band_key for a, _ in shared)], pool=pool,
    )  # fmt: skip
    after_stream = stream(
        new, cohort, ignore=only_old | sidecar,
        columns=[*read, *(b.band_key for _, b in shared)], pool=pool,
    )  # fmt: skip
    line_of = before_stream.line
    for before, after in _aligned(iter(before_stream), iter(after_stream)):
        tally.applicants += before.num_rows
        if progress is not None:
            progress(before.num_rows)
        readable = before["readable"]
        _count_problems(tally.invalid_old, before.filter(pc.invert(readable)), line_of, True)
        before, after = before.filter(readable), after.filter(readable)
        _count_problems(
            tally.invalid_old, before.filter(pc.invert(before["valid"])), line_of, False
        )
        _count_problems(tally.invalid_new, after.filter(pc.invert(after["valid"])), line_of, False)
        both = pc.and_(before["valid"], after["valid"])
        before, after = before.filter(both), after.filter(both)
        if not before.num_rows:
            continue
        tally.compared += before.num_rows
        tally.transitions.update(_group_counts(before["outcome"], after["outcome"]))
        band_moves = []
        for previous, domain in shared:
            old_band, new_band = before[previous.band_key], after[domain.band_key]
            same = pc.fill_null(pc.equal(old_band, new_band), False)
            same = pc.or_(same, pc.and_(pc.is_null(old_band), pc.is_null(new_band)))
            moved = pc.invert(same)
            for (a, b), count in _group_counts(
                old_band.filter(moved), new_band.filter(moved)
            ).items():
                tally.band_changes[(domain.name, str(a), str(b))] += count
            band_moves.append((domain.name, moved, old_band, new_band))
        old_cause = pc.binary_join(before["deciding"], " + ")
        new_cause = pc.binary_join(after["deciding"], " + ")
        changed = pc.or_(
            pc.not_equal(before["outcome"], after["outcome"]), pc.not_equal(old_cause, new_cause)
        )
        changed_count = int(pc.sum(changed.cast("int64")).as_py() or 0)
        if not changed_count:
            continue
        tally.changed_count += changed_count
        tally.causes.update(
            _group_counts(
                before["outcome"].filter(changed),
                after["outcome"].filter(changed),
                old_cause.filter(changed),
                new_cause.filter(changed),
            )
        )
        room = tally.limit - len(tally.changed)
        if room <= 0:
            continue
        indices = pc.indices_nonzero(changed).to_pylist()[:room]
        for index in indices:
            row = before["row"][index].as_py()
            entry: dict[str, Any] = {
                "line": line_of(row) if line_of(row) is not None else row,
                "old": {
                    "outcome": before["outcome"][index].as_py(),
                    "deciding": before["deciding"][index].as_py(),
                },
                "new": {
                    "outcome": after["outcome"][index].as_py(),
                    "deciding": after["deciding"][index].as_py(),
                },
                "band_changes": [
                    {"domain": name, "old": old_band[index].as_py(), "new": new_band[index].as_py()}
                    for name, moved, old_band, new_band in band_moves
                    if moved[index].as_py()
                ],
            }
            if show_values:
                entry["applicant"] = without(before_stream.source.applicant(row), sidecar)
            tally.changed.append(entry)
