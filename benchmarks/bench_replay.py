"""Replay throughput (records/s) and peak memory over a decision-record log.

    python examples/audit/screen_and_record.py --count 100000 --output /tmp/records-100k.jsonl
    python benchmarks/bench_replay.py /tmp/records-100k.jsonl [--inputs INPUTS.jsonl]

Streams the log through `replay()` (the library path the CLI uses, without printing) and prints
the record count, status counts, wall time, records per second and the process's peak resident
memory. Run it on logs of different sizes to see that memory does not grow with the log.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

from recovery_screening import RulesetRegistry, replay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path)
    parser.add_argument("--inputs", type=Path)
    parser.add_argument("--rulesets-dir", type=Path)
    arguments = parser.parse_args()
    start = time.perf_counter()
    run = replay(arguments.records, RulesetRegistry(arguments.rulesets_dir), arguments.inputs)
    summary = run.run()
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    counts = {status: count for status, count in summary.counts.items() if count}
    print(f"records          {summary.records}")
    print(f"statuses         {counts}; chain whole: {summary.chain_whole}")
    print(f"wall time        {elapsed:.1f} s")
    print(f"throughput       {summary.records / elapsed:,.0f} records/s")
    print(f"peak memory      {peak_mib:.0f} MiB (resident)")


if __name__ == "__main__":
    main()
