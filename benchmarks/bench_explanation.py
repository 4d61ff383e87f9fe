"""The explanation's cost against the hand-written floor, measured side by side in one run.

    python benchmarks/bench_explanation.py [--cohort examples/cohort-1000.jsonl] [--rounds 5]

Times, per applicant of the cohort (already parsed), the hand-written intake function
(benchmarks/handwritten_intake.py: outcome only, and its explanation as dicts) and the native
backend's `evaluate()` followed by `to_json()`, by `explain()` (the staff text), by
`explain("applicant")` and by the pydantic model, all on peer-support-intake 1.0.0 (the logic
the hand-written function implements); then the two texts of 1.2.0, whose applicant text
searches next steps for the people it does not admit, over the cohort of its inputs
(`--cohort-v1-1`); each after every row has run once (so imports done lazily by a later row
do not weigh on an earlier one). Prints
median thread-CPU µs per evaluation and each row's ratio to the hand-written explanation, the
floor design.md's targets are stated against (evaluate + JSON within 3x of it).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten_intake

from recovery_screening import load_ruleset

ROOT = Path(__file__).resolve().parent.parent
COHORT = ROOT / "examples" / "cohort-1000.jsonl"
COHORT_V1_1 = ROOT / "examples" / "cohort-1000-v1.1.jsonl"
FLOOR = "hand-written, explanation as dicts"


def median_cpu_us(
    work: Callable[[dict[str, Any]], object], cohort: list[dict[str, Any]], rounds: int
) -> float:
    """Median thread-CPU µs of one call of `work`, over every applicant of every round."""
    cpu = time.thread_time_ns
    for applicant in cohort[:50]:
        work(applicant)
    used: list[int] = []
    for _ in range(rounds):
        for applicant in cohort:
            start = cpu()
            work(applicant)
            used.append(cpu() - start)
    return statistics.median(used) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=COHORT)
    parser.add_argument("--cohort-v1-1", type=Path, default=COHORT_V1_1)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    cohort = _cohort(arguments.cohort)
    cohort_v1_1 = _cohort(arguments.cohort_v1_1)
    native = load_ruleset("peer-support-intake@1.0.0")  # the logic of the hand-written floor
    evaluate = native.evaluate
    later = load_ruleset("peer-support-intake@1.2.0").evaluate
    Rows = list[tuple[str, Callable[[dict[str, Any]], object]]]
    rows: Rows = [
        ("hand-written, outcome only", handwritten_intake.outcome),
        (FLOOR, handwritten_intake.explained),
        ("evaluate() (outcome read)", lambda a: evaluate(a).outcome),
        ("evaluate() + to_json()", lambda a: evaluate(a).to_json()),
        ("evaluate() + explain()", lambda a: evaluate(a).explain()),
        ("evaluate() + explain('applicant')", lambda a: evaluate(a).explain("applicant")),
        ("evaluate() + pydantic model", lambda a: evaluate(a).model),
    ]
    rows_1_2: Rows = [
        ("1.2.0: evaluate() + explain()", lambda a: later(a).explain()),
        ("1.2.0: evaluate() + explain('applicant')", lambda a: later(a).explain("applicant")),
    ]
    for group, people in ((rows, cohort), (rows_1_2, cohort_v1_1)):
        for _, work in group:  # every row warmed first, so that all are timed on the same heap
            for applicant in people[:50]:
                work(applicant)
    gc.collect()
    gc.freeze()  # what is loaded by now (pydantic, the models) is not scanned by the collector
    results = [(name, median_cpu_us(work, cohort, arguments.rounds)) for name, work in rows]
    results += [(n, median_cpu_us(work, cohort_v1_1, arguments.rounds)) for n, work in rows_1_2]
    floor = dict(results)[FLOOR]
    print(
        f"cohort: {arguments.cohort.name}, {len(cohort)} applicants (1.2.0: "
        f"{arguments.cohort_v1_1.name}, {len(cohort_v1_1)}), {arguments.rounds} rounds"
    )
    print(f"| {'row':40s} | median µs (CPU) | × {FLOOR} |")
    print(f"|{'-' * 42}|----------------:|---:|")
    for name, used in results:
        print(f"| {name:40s} | {used:15.1f} | {used / floor:.2f} |")


def _cohort(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


if __name__ == "__main__":
    main()
