"""What hostile input costs: reading adversarial documents, and compiling a large valid ruleset.

    python benchmarks/bench_hostile.py [--sizes 131072 1048576 2097152]

Reading: for each shape in tests/hostile/generators.py and each size, the time the reader takes
to refuse (too deep) or read it, as JSON and as YAML; linear reading shows as time growing with
the size, not its square. Times are medians of three runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile.generators import GENERATORS  # noqa: E402

from recovery_screening import ScreeningError  # noqa: E402
from recovery_screening.document.reader import parse_document_bytes  # noqa: E402


def read_ms(data: bytes, yaml_syntax: bool) -> tuple[float, str]:
    samples = []
    outcome = "read"
    for _ in range(3):
        start = time.perf_counter()
        try:
            parse_document_bytes(data, "bench", yaml_syntax=yaml_syntax, limit=len(data))
        except ScreeningError as error:
            outcome = getattr(error, "problems", ())[0].code
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples), outcome


def bench_reading(sizes: list[int]) -> None:
    print(f"{'shape':<18}{'syntax':<7}" + "".join(f"{size // 1024:>14} KiB" for size in sizes))
    for name, generator in GENERATORS.items():
        for syntax in ("json", "yaml"):
            cells = []
            for size in sizes:
                data = generator(size=size).encode("utf-8")
                elapsed, outcome = read_ms(data, syntax == "yaml")
                cells.append(f"{elapsed:>9.1f} {outcome:<8}")
            print(f"{name:<18}{syntax:<7}" + "".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[128 * 1024, 1024 * 1024, 2 * 1024 * 1024]
    )
    arguments = parser.parse_args()
    bench_reading(arguments.sizes)


if __name__ == "__main__":
    main()
