"""Median time per evaluation of the shipped intake ruleset over the example cohort.

    python benchmarks/bench_evaluate.py [--cohort examples/cohort-1000.jsonl] [--rounds 7]

Prints medians in microseconds per applicant for: the outcome alone, the decision with its whole
explanation determined (`evaluate`), the explanation as dicts, and the decision's JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from recovery_screening import load_ruleset

ROOT = Path(__file__).resolve().parent.parent


def median_us(work: Callable[[], object], count: int, rounds: int) -> float:
    """Median over `rounds` of the mean time per item of one pass over `count` items."""
    work()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) / count * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=ROOT / "examples" / "cohort-1000.jsonl")
    parser.add_argument("--rounds", type=int, default=7)
    arguments = parser.parse_args()
    applicants: list[dict[str, Any]] = [
        json.loads(line) for line in arguments.cohort.read_text().splitlines() if line.strip()
    ]
    start = time.perf_counter()
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    load_ms = (time.perf_counter() - start) * 1e3
    evaluate = ruleset.evaluate
    count = len(applicants)
    rows = [
        ("evaluate (outcome read)", lambda: [evaluate(a).outcome for a in applicants]),
        ("evaluate + to_dict()", lambda: [evaluate(a).to_dict() for a in applicants]),
        ("evaluate + to_json()", lambda: [evaluate(a).to_json() for a in applicants]),
        ("evaluate + pydantic model", lambda: [evaluate(a).model for a in applicants]),
    ]
    print(f"intake ruleset {ruleset.version}, {count} applicants, {arguments.rounds} rounds")
    print(f"load + compile: {load_ms:.1f} ms")
    for name, work in rows:
        print(f"{name:28s} {median_us(work, count, arguments.rounds):8.1f} µs median")


if __name__ == "__main__":
    main()
