"""Replay throughput (records/s) and peak memory, scalar and columnar side by side in one run.

    python examples/audit/screen_and_record.py --count 100000 --output /tmp/records-100k.jsonl
    python benchmarks/bench_replay.py /tmp/records-100k.jsonl [--inputs INPUTS.jsonl]
        [--digest-key-file KEY] [--engines scalar,columnar] [--scalar-limit 20000]

Each engine replays the log in a process of its own (so each peak resident memory is its own)
through `replay()`, the library path the CLI uses, without printing. The scalar engine may be
given the first `--scalar-limit` records only (it is slow; its rate does not depend on the log's
length); the columnar engine replays the whole log. Prints, per engine, the record count,
the status counts, the wall time, records per second, the CPU time per record (the whole
process, DuckDB's threads included, and the replaying thread alone: on a shared machine the
thread's CPU time is the steadier measure) and the peak resident memory, then the ratios, and
whether both engines gave the same reports on the records both replayed (a digest of the
reports of the first `--scalar-limit` records, or of all).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one(arguments: argparse.Namespace) -> None:
    from recovery_screening import RulesetRegistry, replay

    digest_key = (
        arguments.digest_key_file.read_bytes().rstrip(b"\r\n")
        if arguments.digest_key_file
        else None
    )
    start = time.perf_counter()
    thread_start, process_start = time.thread_time(), time.process_time()
    run = replay(
        arguments.records,
        RulesetRegistry(arguments.rulesets_dir),
        arguments.inputs,
        digest_key=digest_key,
        engine=arguments.one,
    )
    reports = hashlib.sha256()
    for report in run:
        if arguments.compare is None or report.line <= arguments.compare:
            reports.update(json.dumps(report.to_dict(), sort_keys=True).encode())
    elapsed = time.perf_counter() - start
    thread_cpu = time.thread_time() - thread_start
    process_cpu = time.process_time() - process_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    summary = run.summary
    print(
        json.dumps(
            {
                "engine": arguments.one,
                "records": summary.records,
                "counts": {status: n for status, n in summary.counts.items() if n},
                "chain_whole": summary.chain_whole,
                "seconds": elapsed,
                "thread_cpu": thread_cpu,
                "process_cpu": process_cpu,
                "peak_mib": peak_mib,
                "reports": reports.hexdigest(),
            }
        )
    )


def _head(path: Path, lines: int, directory: str) -> Path:
    target = Path(directory) / f"head-{path.name}"
    with path.open("rb") as source, target.open("wb") as out:
        out.writelines(itertools.islice(source, lines))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--rulesets-dir", type=Path)
    parser.add_argument("--digest-key-file", type=Path)
    parser.add_argument("--engines", default="scalar,columnar")
    parser.add_argument(
        "--scalar-limit", type=int, help="the scalar engine replays only the first N records"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--compare", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        _one(arguments)
        return
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for engine in arguments.engines.split(","):
            records, inputs = arguments.records, arguments.inputs
            if engine == "scalar" and arguments.scalar_limit:
                records = _head(records, arguments.scalar_limit, directory)
                if inputs is not None:
                    inputs = _head(inputs, arguments.scalar_limit, directory)
            command = [sys.executable, __file__, str(records), "--one", engine]
            if arguments.scalar_limit:
                command += ["--compare", str(arguments.scalar_limit)]
            for option, value in (
                ("--inputs", inputs),
                ("--rulesets-dir", arguments.rulesets_dir),
                ("--digest-key-file", arguments.digest_key_file),
            ):
                if value is not None:
                    command += [option, str(value)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            results.append(json.loads(done.stdout.splitlines()[-1]))
    print(
        f"{'engine':<10} {'records':>9} {'wall s':>8} {'records/s':>10} {'CPU us/rec':>11} "
        f"{'thread us/rec':>14} {'peak MiB':>9}  statuses"
    )
    for result in results:
        rate = result["records"] / result["seconds"]
        per = 1e6 / result["records"]
        print(
            f"{result['engine']:<10} {result['records']:>9} {result['seconds']:>8.1f} "
            f"{rate:>10,.0f} {result['process_cpu'] * per:>11,.0f} "
            f"{result['thread_cpu'] * per:>14,.0f} {result['peak_mib']:>9.0f}  {result['counts']}"
        )
    if len(results) == 2:
        names = f"{results[1]['engine']}/{results[0]['engine']}"
        first, second = (r["records"] / r["seconds"] for r in results)
        print(f"ratio {names}, records/s: {second / first:.1f}x")
        first, second = (r["thread_cpu"] / r["records"] for r in results)
        print(f"ratio {names}, the replaying thread's CPU per record: {first / second:.1f}x")
        same = results[0]["reports"] == results[1]["reports"]
        print(f"reports identical on the records both replayed: {same}")


if __name__ == "__main__":
    main()
