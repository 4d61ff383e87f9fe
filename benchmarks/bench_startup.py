"""Start-up cost: `import recovery_screening` and `recovery-screening --help`, side by side.

    python benchmarks/bench_startup.py [--runs 10]

Runs each command `--runs` times in a fresh interpreter (this one, `sys.executable`, and the
`recovery-screening` script beside it) and prints the median wall and CPU time, with a bare
`python -c pass` as the floor. design.md asks for both well under 200 ms. The commands run
with bytecode caching on (PYTHONDONTWRITEBYTECODE removed from their environment), as an
installed package has its modules compiled: the first, untimed run writes the cache.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _run(command: list[str]) -> None:
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env=ENVIRONMENT)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_ms(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall-clock and CPU (user + system) milliseconds of running `command` to
    completion, output discarded. CPU time drifts less than wall time on a loaded machine."""
    _run(command)  # untimed: writes the bytecode cache
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _children_cpu()
        _run(command)
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((_children_cpu() - start_cpu) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    arguments = parser.parse_args()
    script = Path(sys.executable).with_name("recovery-screening")
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("import recovery_screening", [sys.executable, "-c", "import recovery_screening"]),
        ("recovery-screening --help", [str(script), "--help"]),
    ]
    print(f"{arguments.runs} runs each, medians")
    print(f"| {'command':28s} | wall ms | CPU ms |")
    print(f"|{'-' * 30}|--------:|-------:|")
    for name, command in rows:
        wall, cpu = median_ms(command, arguments.runs)
        print(f"| {name:28s} | {wall:7.1f} | {cpu:6.1f} |")


if __name__ == "__main__":
    main()
