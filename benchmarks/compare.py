"""Side-by-side benchmark of the intake screening: native backend, durable-rules backend, a
hand-written Python function and GoRules zen-engine, on the example cohort.

    pip install -e ".[durable,bench]"
    python benchmarks/compare.py [--rounds 5] [--memory-evaluations 1000000]

Every engine is first checked to give the native backend's outcome for every applicant of the
cohort (and durable-rules its whole decision JSON); then each is timed per evaluation over the
cohort (applicants already parsed). Prints median µs per evaluation, evaluations per second and
the ratio to the native backend's `evaluate + to_json`, load + compile times, and peak RSS
over many evaluations, each measured in a fresh process so the figures do not mix.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten_intake

from recovery_screening import load_ruleset
from recovery_screening.cli._progress import Progress, quiet_option

ROOT = Path(__file__).resolve().parent.parent
COHORT = ROOT / "examples" / "cohort-1000.jsonl"


def read_cohort(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def measure(work: Callable[[dict[str, Any]], object], cohort: list[dict[str, Any]], rounds: int,
            progress: Progress | None = None) -> tuple[float, float, float]:  # fmt: skip
    """(median wall-clock µs of one evaluation, median thread-CPU µs of one evaluation,
    evaluations per second over all rounds). CPU time is the fairer figure on a shared machine:
    it leaves out the time this process waited for a core."""
    clock = time.perf_counter_ns
    cpu = time.thread_time_ns
    for applicant in cohort[:50]:
        work(applicant)
    wall: list[int] = []
    used: list[int] = []
    started = clock()
    for _ in range(rounds):
        for applicant in cohort:
            start, start_cpu = clock(), cpu()
            work(applicant)
            used.append(cpu() - start_cpu)
            wall.append(clock() - start)
        if progress is not None:
            progress.update(len(cohort))
    elapsed = (clock() - started) / 1e9
    return (
        statistics.median(wall) / 1e3,
        statistics.median(used) / 1e3,
        rounds * len(cohort) / elapsed,
    )


def timed_load(load: Callable[[], Any], repeat: int = 5) -> tuple[Any, float]:
    """The loaded object and the median load time in ms (each load from scratch)."""
    times = []
    loaded = None
    for _ in range(repeat):
        start = time.perf_counter()
        loaded = load()
        times.append((time.perf_counter() - start) * 1e3)
    return loaded, statistics.median(times)


def engines(durable: bool, zen: bool) -> dict[str, Callable[[], Any]]:
    loaders: dict[str, Callable[[], Any]] = {
        "native": lambda: load_ruleset("peer-support-intake@1.0.0")
    }
    if durable:
        loaders["durable"] = lambda: load_ruleset("peer-support-intake@1.0.0", backend="durable")
    if zen:
        import zen_intake

        loaders["zen"] = zen_intake.load
    return loaders


def check(native: Any, loaded: dict[str, Any], cohort: list[dict[str, Any]],
          progress: Progress | None = None) -> None:  # fmt: skip
    """Refuse to time an engine that disagrees with the native backend on the cohort."""
    for applicant in cohort:
        if progress is not None:
            progress.update()
        decision = native.evaluate(applicant)
        expected = decision.outcome
        if handwritten_intake.outcome(applicant) != expected:
            raise SystemExit("hand-written outcome differs from native")
        explained = handwritten_intake.explained(applicant)
        # The hand-written function takes needs from each rule's static dependencies, a
        # cheaper and coarser rule than the engine's (only the answers behind unknown values):
        # it must name every answer the engine names, and may name more.
        if explained["deciding"] != list(decision.deciding) or not set(decision.needs) <= set(
            explained["needs"]
        ):
            raise SystemExit("hand-written explanation differs from native")
        if "durable" in loaded:
            ours = json.loads(decision.to_json())
            theirs = json.loads(loaded["durable"].evaluate(applicant).to_json())
            ours["engine"].pop("backend")
            theirs["engine"].pop("backend")
            if ours != theirs:
                raise SystemExit("durable decision differs from native")
        if "zen" in loaded:
            import zen_intake

            if zen_intake.outcome(loaded["zen"], applicant) != expected:
                raise SystemExit("zen-engine outcome differs from native")


def memory_worker(engine: str, count: int) -> None:
    """Run `count` evaluations cycling over the cohort; print RSS after warm-up and at peak."""
    cohort = read_cohort(COHORT)
    if engine == "handwritten":

        def work(applicant: dict[str, Any]) -> object:
            return handwritten_intake.explained(applicant)

    elif engine == "zen":
        import zen_intake

        decision = zen_intake.load()

        def work(applicant: dict[str, Any]) -> object:
            return zen_intake.outcome(decision, applicant)

    else:
        ruleset = load_ruleset("peer-support-intake@1.0.0", backend=engine)

        def work(applicant: dict[str, Any]) -> object:
            return ruleset.evaluate(applicant).to_json()

    size = len(cohort)
    for index in range(min(count, 2 * size)):
        work(cohort[index % size])
    warm = _rss_mb()
    for index in range(2 * size, count):
        work(cohort[index % size])
    print(json.dumps({"warm_mb": warm, "peak_mb": _peak_mb(), "count": count}))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mb() -> float:
    """VmHWM: this process's peak resident set (ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def memory(engine: str, count: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--memory-worker", engine, "--memory-evaluations", str(count)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line
        )
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    with open("/proc/loadavg") as loadavg:
        load = loadavg.read().split()[0]
    import os

    return (
        f"{model}, {os.cpu_count()} CPUs, load average {load}; Python "
        f"{platform.python_version()} ({platform.python_implementation()}) on {platform.system()}"
    )


def _rows(native: Any, loaded: dict[str, Any], has_durable: bool, has_zen: bool
          ) -> list[tuple[str, Callable[[dict[str, Any]], object]]]:  # fmt: skip
    """The timed rows: name and one evaluation."""
    rows: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("hand-written, outcome only", handwritten_intake.outcome),
        ("hand-written, explanation as dicts", handwritten_intake.explained),
        ("native: evaluate() (outcome read)", lambda a: native.evaluate(a).outcome),
        ("native: evaluate() + to_dict()", lambda a: native.evaluate(a).to_dict()),
        ("native: evaluate() + to_json()", lambda a: native.evaluate(a).to_json()),
        ("native: evaluate() + pydantic model", lambda a: native.evaluate(a).model),
    ]
    if has_durable:
        durable_ruleset = loaded["durable"]
        rows.append(
            (
                "durable-rules: evaluate() + to_json()",
                lambda a: durable_ruleset.evaluate(a).to_json(),
            )
        )
    if has_zen:
        import zen_intake

        decision = loaded["zen"]
        rows.append(("zen-engine: evaluate (outcome)", lambda a: zen_intake.outcome(decision, a)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=COHORT)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-evaluations", type=int, default=1_000_000)
    parser.add_argument(
        "--slow-memory-evaluations",
        type=int,
        default=20_000,
        help="evaluations for the memory run of durable-rules and zen-engine (about 1-4 ms each)",
    )
    parser.add_argument("--memory-worker", help=argparse.SUPPRESS)
    parser.add_argument("--skip-memory", action="store_true")
    quiet_option(parser)
    arguments = parser.parse_args()
    if arguments.memory_worker:
        memory_worker(arguments.memory_worker, arguments.memory_evaluations)
        return

    cohort = read_cohort(arguments.cohort)
    try:
        import durable  # noqa: F401

        has_durable = True
    except ImportError:
        has_durable = False
    try:
        import zen  # noqa: F401

        has_zen = True
    except ImportError:
        has_zen = False
    loaded: dict[str, Any] = {}
    load_ms: dict[str, float] = {}
    for name, load in engines(has_durable, has_zen).items():
        loaded[name], load_ms[name] = timed_load(load)
    native = loaded["native"]
    rows = _rows(native, loaded, has_durable, has_zen)
    plan = [("native", arguments.memory_evaluations), ("handwritten", arguments.memory_evaluations)]
    if has_durable:
        plan.append(("durable", arguments.slow_memory_evaluations))
    if has_zen:
        plan.append(("zen", arguments.slow_memory_evaluations))
    if arguments.skip_memory:
        plan = []
    evaluations = len(cohort) * (1 + arguments.rounds * len(rows)) + sum(n for _, n in plan)
    with Progress("benchmarking", evaluations, "evaluations", quiet=arguments.quiet) as progress:
        check(native, loaded, cohort, progress)
        results = [(name, *measure(work, cohort, arguments.rounds, progress))
                   for name, work in rows]  # fmt: skip
        memory_found = []
        for engine, count in plan:
            memory_found.append((engine, count, memory(engine, count)))
            progress.update(count)
    print(f"machine: {machine()}")
    print(f"cohort: {arguments.cohort.name}, {len(cohort)} applicants, {arguments.rounds} rounds")
    print("every engine gave the native outcome for every applicant before timing")

    reference = next(cpu for name, _, cpu, _ in results if name.endswith("+ to_json()"))
    print()
    print(
        f"| {'engine':40s} | median µs (wall) | median µs (CPU) | evals/s | "
        "CPU time × native evaluate+to_json |"
    )
    print(f"|{'-' * 42}|-----------------:|----------------:|--------:|---:|")
    for name, median, cpu, rate in results:
        print(
            f"| {name:40s} | {median:16.1f} | {cpu:15.1f} | {rate:7.0f} | {cpu / reference:.2f} |"
        )
    print()
    print("load + compile (median of 5, ms): " + ", ".join(
        f"{name} {ms:.1f}" for name, ms in load_ms.items()))  # fmt: skip
    if arguments.skip_memory:
        return
    print()
    print("memory (RSS MB, fresh process each; warm = after 2 passes over the cohort):")
    for engine, count, found in memory_found:
        print(
            f"  {engine:12s} {count:>9,d} evaluations: warm {found['warm_mb']:.1f} MB, "
            f"peak {found['peak_mb']:.1f} MB"
        )


if __name__ == "__main__":
    main()
