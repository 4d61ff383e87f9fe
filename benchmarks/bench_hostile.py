"""What hostile input costs: reading adversarial documents, and compiling a large valid ruleset.

    python benchmarks/bench_hostile.py [--sizes 131072 1048576 2097152]

Reading: for each shape in tests/hostile/generators.py and each size, the time the reader takes
to refuse (too deep) or read it, as JSON and as YAML; linear reading shows as time growing with
the size, not its square. Times are medians of three runs, in milliseconds.

Compiling: a valid ruleset of `--domains` domains of 100 rules whose scores range from 0 to
100,000 (`wide-ruleset`), then a ruleset with `--schema-errors` schema errors: the time, and the
peak memory the compilation allocates (tracemalloc, which slows it down; the document itself is
built before and not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hostile.generators import GENERATORS, schema_errors, wide_ruleset  # noqa: E402
from tests.hostile.test_hostile import DEFAULTS  # noqa: E402

from recovery_screening import ScreeningError, load_document  # noqa: E402
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


def compile_cost(document: dict[str, Any]) -> tuple[float, float, str]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        load_document(document)
        outcome = "compiled"
    except ScreeningError as error:
        outcome = f"refused, {getattr(error, 'total', '?')} problems"
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak, outcome


def bench_compiling(domains: int, errors: int) -> None:
    cases = {
        f"{domains} domains x 100 rules, scores 0-100000": wide_ruleset(domains, 100),
        f"{errors} schema errors": schema_errors(errors),
    }
    for name, body in cases.items():
        document = {**DEFAULTS, **body}
        size = len(json.dumps(document)) / 2**20
        elapsed, peak, outcome = compile_cost(document)
        print(f"{name} ({size:.2f} MiB as JSON): {elapsed:.1f} s, peak {peak:.0f} MiB, {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[128 * 1024, 1024 * 1024, 2 * 1024 * 1024]
    )
    parser.add_argument("--domains", type=int, default=320)
    parser.add_argument("--schema-errors", type=int, default=20_000)
    parser.add_argument("--skip-reading", action="store_true")
    arguments = parser.parse_args()
    if not arguments.skip_reading:
        bench_reading(arguments.sizes)
    bench_compiling(arguments.domains, arguments.schema_errors)


if __name__ == "__main__":
    main()
