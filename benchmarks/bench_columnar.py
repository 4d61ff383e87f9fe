"""The columnar engine against the scalar engine, side by side in one run, on a generated cohort.

    python examples/generate_cohort.py --count 1000000 --seed 1 --ruleset-version 1.0.0 \\
        --out /tmp/cohort-1m.jsonl
    python benchmarks/bench_columnar.py --cohort /tmp/cohort-1m.jsonl \\
        --ruleset peer-support-intake@1.0.0 [--old VERSION] [--sample 20000] [--part 100000] \\
        [--agreement sample|cohort] [--workers 1 2]

Each measurement runs in a fresh process (so its peak memory is its own). The columnar engine
runs on the whole cohort; the scalar engine, which takes minutes on a million applicants, on
the first `--sample` applicants, and its per-applicant rate is what the table compares. Printed:
the agreement count (every column of every row, columnar against scalar: of the sample, or with
`--agreement cohort` of the whole cohort, compared on the largest `--workers` count of
processes, default 2), how many rows of the whole cohort the scalar engine had to decide, and
for each target the time, rate, peak memory and the ratio columnar / scalar.

Targets (design.md): simulate of 1,000,000 applicants from JSONL with the HTML report < 5 s and
< 500 MB, flat in the cohort size; diff in under twice that; evaluate_batch on an in-memory
table >= 1,000,000 rows/s. `diff` compares `--old` (default: the ruleset itself) with the
ruleset over the cohort. A format v2 ruleset (intake 1.1.0) sends the rows its SQL cannot prove
exact to the scalar engine's exact search, a few milliseconds each: its figures are dominated
by that share, which the benchmark prints. `--workers` gives the worker processes simulate and
diff decide those rows on (the library's default when not given: `default_workers()`); several
values measure the columnar simulate and diff once for each, side by side. `peak MB` is the
main process's (worker processes, forked from a fork server, are not counted in it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _simulate(
    cohort: str, reference: str, engine: str, workers: int | None = None
) -> tuple[float, float, int]:
    from recovery_screening import load_ruleset
    from recovery_screening.designer.report import html_report
    from recovery_screening.designer.simulate import simulate

    ruleset = load_ruleset(reference)
    start = time.perf_counter()
    result = simulate(ruleset, cohort, engine=engine, workers=workers)
    with tempfile.NamedTemporaryFile("w", suffix=".html") as report:
        report.write(html_report(result))
    return time.perf_counter() - start, _peak_mb(), result.tally.applicants


def _diff(
    cohort: str, old: str, new: str, engine: str, workers: int | None = None
) -> tuple[float, float, int]:
    from recovery_screening import load_ruleset
    from recovery_screening.designer.diff import diff_rulesets
    from recovery_screening.designer.report import diff_html_report

    before, after = load_ruleset(old), load_ruleset(new)
    start = time.perf_counter()
    result = diff_rulesets(before, after, cohort, engine=engine, workers=workers)
    with tempfile.NamedTemporaryFile("w", suffix=".html") as report:
        report.write(diff_html_report(result))
    assert result.behaviour is not None
    return time.perf_counter() - start, _peak_mb(), result.behaviour.applicants


def _table(cohort: str) -> Any:
    import pyarrow.json as pj

    return pj.read_json(cohort)


def _evaluate_batch(cohort: str, reference: str) -> tuple[float, float, int]:
    from recovery_screening import load_ruleset

    ruleset = load_ruleset(reference)
    table = _table(cohort)
    ruleset.evaluate_batch(table.slice(0, 10))  # compile once, as a host would
    start = time.perf_counter()
    result = ruleset.evaluate_batch(table)
    return time.perf_counter() - start, _peak_mb(), len(result)


def _evaluate_scalar(cohort: str, reference: str) -> tuple[float, float, int]:
    from recovery_screening import load_ruleset

    ruleset = load_ruleset(reference)
    applicants = [json.loads(line) for line in Path(cohort).read_text().splitlines()]
    start = time.perf_counter()
    for applicant in applicants:
        ruleset.evaluate(applicant)
    return time.perf_counter() - start, _peak_mb(), len(applicants)


def _agreement(cohort: str, reference: str) -> tuple[int, int]:
    """(rows whose every result column is the scalar engine's, rows): the columnar engine's
    result tables streamed in row order, each row compared with `evaluate()` of the same line
    (an invalid row agrees when the table says so)."""
    from recovery_screening import load_ruleset
    from recovery_screening.columnar.batch import BatchStream, scalar_columns
    from recovery_screening.errors import ScreeningError

    ruleset = load_ruleset(reference)
    stream = BatchStream(ruleset, cohort)
    names = [column.name for column in stream.columns]
    agree = rows = 0
    with Path(cohort).open("rb") as handle:
        lines = (line for line in handle if line.strip())
        for table in stream:
            for row in table.to_pylist():
                rows += 1
                try:
                    decision = ruleset.evaluate(json.loads(next(lines)))
                except (ScreeningError, ValueError, AttributeError):
                    agree += row["valid"] is False
                    continue
                expected = scalar_columns(ruleset, decision, stream.columns)
                agree += all(row[name] == expected[name] for name in names)
        if next(lines, None) is not None:
            raise SystemExit(f"{cohort}: the columnar engine gave fewer rows than it has lines")
    return agree, rows


def _parts(cohort: str, count: int, directory: str) -> list[str]:
    """The cohort's lines dealt into `count` consecutive part files (for agreement workers)."""
    with Path(cohort).open("rb") as source:
        total = sum(1 for _ in source)
    paths = []
    with Path(cohort).open("rb") as source:
        for part in range(count):
            path = Path(directory) / f"part-{part}.jsonl"
            size = total // count + (part < total % count)
            with path.open("wb") as target:
                target.writelines(itertools.islice(source, size))
            paths.append(str(path))
    return paths


def _agreement_of(cohort: str, reference: str, workers: int, directory: str) -> tuple[int, int]:
    """(agreeing rows, rows) over the whole cohort, its parts compared on `workers` processes."""
    parts = _parts(cohort, workers, directory) if workers > 1 else [cohort]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(parts), mp_context=context) as pool:
        found = list(pool.map(_agreement, parts, [reference] * len(parts)))
    for part in parts:
        if part != cohort:
            Path(part).unlink()
    return sum(agree for agree, _ in found), sum(rows for _, rows in found)


def _fallback(cohort: str, reference: str) -> tuple[int, int, tuple[str, ...]]:
    """(rows, rows the SQL leaves to the scalar engine, notes), counted by DuckDB (the scalar
    engine's rows are not decided here)."""
    from recovery_screening import load_ruleset
    from recovery_screening.columnar.batch import BatchStream

    stream = BatchStream(load_ruleset(reference), cohort)
    aggregated = stream.aggregate([])
    if aggregated.rows is None:  # no query: every row is the scalar engine's
        rows = sum(table.num_rows for table in aggregated.others)
        return rows, rows, stream.notes
    return aggregated.rows, aggregated.rows - aggregated.decided, stream.notes


def _in_process(function: Callable[..., Any], *arguments: Any) -> Any:
    """Run `function(*arguments)` in a fresh (non-daemonic) process and return its result."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return pool.submit(function, *arguments).result()


def _head(cohort: str, count: int, directory: str) -> str:
    path = Path(directory) / f"head-{count}.jsonl"
    with Path(cohort).open() as source, path.open("w") as target:
        target.writelines(itertools.islice(source, count))
    return str(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", required=True)
    parser.add_argument("--ruleset", default="peer-support-intake@1.1.0")
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument(
        "--part",
        type=int,
        default=100_000,
        help="the smaller cohort simulate's memory is compared on",
    )
    parser.add_argument(
        "--old", help="the version diff compares --ruleset with (default: --ruleset itself)"
    )
    parser.add_argument(
        "--agreement",
        choices=("sample", "cohort"),
        default="sample",
        help="the rows compared column by column with the scalar engine: the sample, or every "
        "row of the cohort (minutes per million rows)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        help="worker processes for simulate and diff; several values: the columnar runs once "
        "for each (default: the library's); the most of them compare the cohort's rows for "
        "--agreement cohort (default: 2)",
    )
    arguments = parser.parse_args()
    cohort, reference = arguments.cohort, arguments.ruleset
    old = arguments.old or reference
    counts: list[int | None] = arguments.workers or [None]
    with tempfile.TemporaryDirectory() as directory:
        sample = _head(cohort, arguments.sample, directory)
        tenth = _head(cohort, arguments.part, directory)
        if arguments.agreement == "cohort":
            agree, compared = _agreement_of(
                cohort, reference, max(arguments.workers or [2]), directory
            )
        else:
            agree, compared = _in_process(_agreement, sample, reference)
        rows, fallback, notes = _in_process(_fallback, cohort, reference)
        print(f"ruleset {reference}, cohort {cohort}: {rows} applicants")
        print(f"agreement ({arguments.agreement}, every column): {agree} of {compared} rows")
        share = 100 * fallback / rows
        print(f"rows decided by the scalar engine: {fallback} of {rows} ({share:.1f}%)")
        for note in notes:
            print(f"  note: {note}")
        jobs: dict[str, tuple[Any, ...]] = {}
        for workers in counts:
            at = _at(workers)
            jobs[f"simulate+HTML columnar{at} (whole cohort)"] = (
                _simulate, cohort, reference, "columnar", workers,
            )  # fmt: skip
        jobs["simulate+HTML columnar (part)"] = (_simulate, tenth, reference, "columnar", counts[0])
        jobs["simulate+HTML scalar (sample)"] = (_simulate, sample, reference, "scalar")
        for workers in counts:
            jobs[f"diff+HTML columnar{_at(workers)} (whole cohort)"] = (
                _diff, cohort, old, reference, "columnar", workers,
            )  # fmt: skip
        jobs["diff+HTML scalar (sample)"] = (_diff, sample, old, reference, "scalar")
        jobs["evaluate_batch in memory (whole cohort)"] = (_evaluate_batch, cohort, reference)
        jobs["evaluate() per row (sample)"] = (_evaluate_scalar, sample, reference)
        print()
        print(f"{'measurement':<48}{'rows':>10}{'seconds':>10}{'rows/s':>12}{'peak MB':>10}")
        measured = {}
        for name, job in jobs.items():
            seconds, peak, count = measured[name] = _in_process(*job)
            print(
                f"{name:<48}{count:>10}{seconds:>10.2f}{count / seconds:>12,.0f}{peak:>10.0f}",
                flush=True,
            )
    pairs = [
        *(
            (f"simulate{_at(w)}", f"simulate+HTML columnar{_at(w)} (whole cohort)",
             "simulate+HTML scalar (sample)")
            for w in counts
        ),
        *(
            (f"diff{_at(w)}", f"diff+HTML columnar{_at(w)} (whole cohort)",
             "diff+HTML scalar (sample)")
            for w in counts
        ),
        ("evaluate", "evaluate_batch in memory (whole cohort)", "evaluate() per row (sample)"),
    ]  # fmt: skip
    print()
    for label, fast, slow in pairs:
        fast_rate = measured[fast][2] / measured[fast][0]
        slow_rate = measured[slow][2] / measured[slow][0]
        print(f"{label}: columnar {fast_rate:,.0f} rows/s, scalar {slow_rate:,.0f} rows/s, "
              f"ratio {fast_rate / slow_rate:.1f}x; 1,000,000 rows: columnar "
              f"{1e6 / fast_rate:.1f} s, scalar {1e6 / slow_rate:.0f} s")  # fmt: skip
    for verb in ("simulate", "diff"):
        for workers in counts[1:]:
            first = measured[f"{verb}+HTML columnar{_at(counts[0])} (whole cohort)"][0]
            then = measured[f"{verb}+HTML columnar{_at(workers)} (whole cohort)"][0]
            print(f"{verb} columnar: {workers} workers {first / then:.2f}x as fast as {counts[0]}")
    big, small = (
        measured[f"simulate+HTML columnar{_at(counts[0])} (whole cohort)"],
        measured["simulate+HTML columnar (part)"],
    )
    print(
        f"simulate peak memory: {small[1]:.0f} MB at {small[2]} rows, {big[1]:.0f} MB at {big[2]}"
    )


def _at(workers: int | None) -> str:
    """How a measurement's name says its worker count (nothing for the library's default)."""
    return "" if workers is None else f", {workers} worker{'s' if workers != 1 else ''}"


if __name__ == "__main__":
    main()
