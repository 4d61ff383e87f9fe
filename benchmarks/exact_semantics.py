"""v1 against v2 (exact) semantics on the intake: changed outcomes, and the cost per evaluation.

    python benchmarks/exact_semantics.py [--v2 tests/fixtures/v2/peer-support-intake.yaml]
                                         [--cohort examples/cohort-1000.jsonl] [--rounds 5]

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
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--v2", type=Path, default=ROOT / "tests/fixtures/v2/peer-support-intake.yaml"
    )
    parser.add_argument("--cohort", type=Path, default=ROOT / "examples" / "cohort-1000.jsonl")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    arguments = parser.parse_args()
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
