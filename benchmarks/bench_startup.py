"""Start-up cost: `import recovery_screening` and `recovery-screening --help`, side by side.

    python benchmarks/bench_startup.py [--runs 10]

Runs each command `--runs` times in a fresh interpreter (this one, `sys.executable`, and the
`recovery-screening` script beside it) and prints the median wall time, with a bare `python -c
pass` as the floor. design.md asks for both well under 200 ms.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def median_ms(command: list[str], runs: int) -> float:
    """Median wall-clock milliseconds of running `command` to completion, output discarded."""
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)  # warm the file cache
    times: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


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
    print(f"{arguments.runs} runs each, median wall time")
    print(f"| {'command':28s} | median ms |")
    print(f"|{'-' * 30}|----------:|")
    for name, command in rows:
        print(f"| {name:28s} | {median_ms(command, arguments.runs):9.1f} |")


if __name__ == "__main__":
    main()
