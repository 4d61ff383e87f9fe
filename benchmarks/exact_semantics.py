"""v1 against v2 (exact) semantics on the intake: changed outcomes, and the cost per evaluation.

    python benchmarks/exact_semantics.py [--v2 tests/fixtures/v2/peer-support-intake.yaml]
                                         [--cohort examples/cohort-1000.jsonl] [--rounds 5]

The exact search alone, on the applicants it is for, this checkout against an earlier one:

    python examples/generate_cohort.py --count 20000 --seed 11 --ruleset-version 1.1.0 \
        --out /tmp/c11-20k.jsonl
    python benchmarks/exact_semantics.py --fallback-of /tmp/c11-20k.jsonl [--limit 300] \
        [--ruleset peer-support-intake@1.2.0] [--against REV] [--repeat 3]
    python benchmarks/exact_semantics.py --corpus applicants.jsonl [--against REV]

`--fallback-of` keeps the rows of a cohort that the columnar engine leaves to the scalar exact
search (needs the `columnar` extra); `--corpus` takes applicants as they are. Each applicant is
evaluated `--repeat` times by this checkout's exact search and, with `--against`, by the one of
git revision REV (its exact.py, expressions/ranges.py and three_valued.py loaded side by side),
alternately, and its fastest CPU time (time.process_time, steadier than the wall clock on a
shared machine) is kept. Prints the mean and the median µs per evaluation of each and their
ratio, after checking that both give every applicant the same decision JSON.

The v2 ruleset is a format v2 copy of the intake 1.0.0 (same rules), so every difference comes
from the semantics. For every applicant of the cohort, one or two answered instrument items
(seeded, so the run is repeatable) are removed, as people skip questions. Prints how many of
those applicants get a different outcome under v2 than under v1 and which way, how many v2
decisions reached the search bound, then the median µs per evaluation (outcome read, and
evaluate + to_json) for both rulesets side by side in the same run, on the cohort as it is and
on the cohort with the items removed.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import recovery_screening.evaluate
from recovery_screening import Ruleset, load_ruleset

ROOT = Path(__file__).resolve().parent.parent
INSTRUMENTS = ("audit", "dast10", "phq9", "gad7", "readiness")


def with_items_removed(applicants: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """Each applicant with one or two of its answered instrument items removed."""
    chooser = random.Random(seed)
    result = []
    for applicant in applicants:
        paths = [
            (alias, item)
            for alias in INSTRUMENTS
            if isinstance(applicant.get(alias), dict)
            for item in sorted(applicant[alias])
        ]
        removed = set(chooser.sample(paths, min(len(paths), chooser.choice((1, 2)))))
        result.append(
            {
                key: (
                    {i: v for i, v in value.items() if (key, i) not in removed}
                    if isinstance(value, dict)
                    else value
                )
                for key, value in applicant.items()
            }
        )
    return result


def changed_outcomes(v1: Ruleset, v2: Ruleset, applicants: list[dict[str, Any]]) -> None:
    flips: collections.Counter[tuple[str, str]] = collections.Counter()
    bounded = 0
    needs_smaller = 0
    for applicant in applicants:
        old, new = v1.evaluate(applicant), v2.evaluate(applicant)
        if new.to_dict().get("semantics") == "exact-bounded":
            bounded += 1
        if old.outcome != new.outcome:
            flips[(old.outcome, new.outcome)] += 1
        elif set(new.needs) < set(old.needs):
            needs_smaller += 1
    changed = sum(flips.values())
    print(f"{len(applicants)} applicants with 1-2 instrument items removed:")
    print(f"  outcome differs between v1 and v2: {changed} ({changed / len(applicants):.1%})")
    for (old, new), count in sorted(flips.items()):
        print(f"    {old:>6} -> {new:<6} {count}")
    print(f"  same outcome, strictly smaller needs under v2: {needs_smaller}")
    print(f"  v2 decisions that reached the search bound: {bounded}")


def median_us(work: Callable[[], object], count: int, rounds: int) -> float:
    work()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(samples)


def fallback_rows(ruleset: Ruleset, cohort: Path, limit: int) -> list[dict[str, Any]]:
    """The first `limit` valid rows of `cohort` that the columnar engine leaves to the scalar
    engine."""
    result = ruleset.evaluate_batch(cohort)
    engines = result.table["engine"].to_pylist()
    valid = result.table["valid"].to_pylist()
    rows = [
        i for i, (engine, ok) in enumerate(zip(engines, valid, strict=True))
        if engine == "scalar" and ok
    ]  # fmt: skip
    return [result.applicant(i) for i in rows[:limit]]


def earlier_trace_exact(revision: str) -> Callable[..., Any]:
    """`exact.trace_exact` as of git `revision`, with the ranges and v1 semantics it used."""
    names = {
        "expressions/ranges.py": "recovery_screening._before_ranges",
        "three_valued.py": "recovery_screening._before_three_valued",
        "exact.py": "recovery_screening._before_exact",
    }
    module = None
    for path, name in names.items():
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{revision}:src/recovery_screening/{path}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        source = (
            source.replace(
                "from recovery_screening.expressions.ranges import",
                f"from {names['expressions/ranges.py']} import",
            )
            .replace(
                "from recovery_screening.three_valued import",
                f"from {names['three_valued.py']} import",
            )
            .replace('"_exact_program"', '"_exact_program_before"')
        )
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)
    assert module is not None
    return module.trace_exact  # type: ignore[no-any-return]


def search_cost(
    ruleset: Ruleset, people: list[dict[str, Any]], against: str | None, repeat: int
) -> None:
    engines = {"this checkout": recovery_screening.evaluate.trace_exact}
    if against is not None:
        engines = {f"at {against}": earlier_trace_exact(against), **engines}
    fastest: dict[str, list[float]] = {label: [] for label in engines}
    bounded = 0
    for applicant in people:
        decisions = set()
        for trace_exact in engines.values():
            recovery_screening.evaluate.trace_exact = trace_exact
            decisions.add(ruleset.evaluate(applicant).to_json())
        assert len(decisions) == 1, "the two exact searches disagree"
        bounded += '"semantics":"exact-bounded"' in decisions.pop()
        best = {label: math.inf for label in engines}
        for _ in range(repeat):
            for label, trace_exact in engines.items():
                recovery_screening.evaluate.trace_exact = trace_exact
                start = time.process_time()
                ruleset.evaluate(applicant)
                best[label] = min(best[label], time.process_time() - start)
        for label in engines:
            fastest[label].append(best[label] * 1e6)
    recovery_screening.evaluate.trace_exact = engines["this checkout"]
    print(
        f"{len(people)} applicants of {ruleset.id}@{ruleset.version}, identical decisions, "
        f"{bounded} reached the search bound; CPU µs per evaluation (fastest of {repeat}):"
    )
    for label, times in fastest.items():
        mean, median = statistics.mean(times), statistics.median(times)
        print(f"  {label:22s} mean {mean:9.0f}  median {median:9.0f}")
    if against is not None:
        before, after = fastest.values()
        mean = statistics.mean(before) / statistics.mean(after)
        median = statistics.median(before) / statistics.median(after)
        print(f"  {'ratio (before / after)':22s} mean {mean:9.2f}  median {median:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--v2", type=Path, default=ROOT / "tests/fixtures/v2/peer-support-intake.yaml"
    )
    parser.add_argument("--cohort", type=Path, default=ROOT / "examples" / "cohort-1000.jsonl")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--corpus", type=Path, help="applicants (JSONL) for the exact search alone")
    parser.add_argument("--fallback-of", type=Path, help="a cohort whose fallback rows to time")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--ruleset", default="peer-support-intake@1.2.0")
    parser.add_argument("--against", help="a git revision to time side by side")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    if arguments.corpus or arguments.fallback_of:
        ruleset = load_ruleset(arguments.ruleset)
        if arguments.corpus:
            lines = arguments.corpus.read_text(encoding="utf-8").splitlines()
            people = [json.loads(line) for line in lines if line][: arguments.limit]
        else:
            people = fallback_rows(ruleset, arguments.fallback_of, arguments.limit)
        search_cost(ruleset, people, arguments.against, arguments.repeat)
        return
    cohort = [json.loads(line) for line in arguments.cohort.read_text().splitlines() if line]
    v1 = load_ruleset("peer-support-intake@1.0.0")
    v2 = load_ruleset(arguments.v2)
    partial = with_items_removed(cohort, arguments.seed)
    changed_outcomes(v1, v2, partial)
    print(f"\nmedian µs per evaluation ({arguments.rounds} rounds), v1 vs v2 {v2.version}")
    for label, people in (("cohort as is", cohort), ("1-2 items removed", partial)):
        for name, as_json in (("outcome", False), ("evaluate + to_json", True)):
            v1_us, v2_us = (
                median_us(_work(ruleset, people, as_json), len(people), arguments.rounds)
                for ruleset in (v1, v2)
            )
            print(
                f"  {label:18s} {name:19s} v1 {v1_us:8.1f}  v2 {v2_us:8.1f}"
                f"  v2/v1 {v2_us / v1_us:5.2f}"
            )


def _work(ruleset: Ruleset, people: list[dict[str, Any]], as_json: bool) -> Callable[[], object]:
    evaluate = ruleset.evaluate
    if as_json:
        return lambda: [evaluate(a).to_json() for a in people]
    return lambda: [evaluate(a).outcome for a in people]


if __name__ == "__main__":
    main()
