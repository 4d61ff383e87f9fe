"""Throughput and peak memory of `simulate` on a cohort file.

    python benchmarks/bench_simulate.py [--cohort examples/cohort-1000.jsonl] [--workers 2]

For a large cohort, generate it first (it streams; do not commit it):

    python examples/generate_cohort.py --count 1000000 --seed 7 --out /tmp/cohort-1m.jsonl
    python benchmarks/bench_simulate.py --cohort /tmp/cohort-1m.jsonl

Prints wall time, CPU time of this process and its workers, applicants per second and the
peak resident memory of the largest process (Linux reports kilobytes).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from recovery_screening import load_ruleset
from recovery_screening.designer.simulate import simulate

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default=str(ROOT / "examples" / "cohort-1000.jsonl"))
    parser.add_argument("--ruleset", default="peer-support-intake@1.0.0")
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    ruleset = load_ruleset(arguments.ruleset)
    start = time.perf_counter()
    result = simulate(ruleset, arguments.cohort, workers=arguments.workers)
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    count = result.tally.applicants
    print(f"applicants       {count}")
    print(f"workers          {arguments.workers}")
    print(f"wall             {wall:.2f} s ({count / wall:,.0f} applicants/s)")
    print(f"cpu (all procs)  {cpu:.2f} s ({1e6 * cpu / max(count, 1):.0f} us/applicant)")
    print(f"peak RSS         main {own.ru_maxrss} KiB, largest worker {children.ru_maxrss} KiB")


if __name__ == "__main__":
    main()
