"""Screen the example cohort and write a chained decision-record log, as a clinic would.

    python examples/audit/screen_and_record.py                      # examples/audit/records.jsonl
    python examples/audit/screen_and_record.py --limit 50 --without-input --digest-key-file D \\
        --output shared.jsonl --inputs-output inputs.jsonl          # records to share, inputs kept
    python examples/audit/screen_and_record.py --count 100000 --output /tmp/big.jsonl

Each record names the exact ruleset version and its content hash, the engine, the hash of the
canonical input, the decision and the hash of the record before it. `--digest-key-file D` makes
format-v2 records, whose input and decision digests are keyed with the deployment's secret in D.
`--without-input` (which needs it) leaves the input and the decision out of the records — they
keep the outcome and the keyed digests — and writes the inputs to a separate file, matched by
record id, for an auditor who is allowed to see them. `--count` cycles
the cohort with distinct subject references to make a large log (for measuring replay).
Then: `recovery-screening replay RECORDS.jsonl [--inputs INPUTS.jsonl] [--digest-key-file D]`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import itertools
import json
from pathlib import Path

from recovery_screening import DecisionRecord, load_ruleset
from recovery_screening.records.record import make_record

HERE = Path(__file__).resolve().parent
COHORT = HERE.parent / "cohort-1000.jsonl"
START = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=COHORT)
    parser.add_argument("--output", type=Path, default=HERE / "records.jsonl")
    parser.add_argument("--limit", type=int, default=50, help="applicants to screen (default 50)")
    parser.add_argument("--count", type=int, help="records to write, cycling the cohort")
    parser.add_argument("--without-input", action="store_true")
    parser.add_argument("--inputs-output", type=Path, help="where inputs go with --without-input")
    parser.add_argument("--key-file", type=Path, help="sign every record with this HMAC key")
    parser.add_argument(
        "--digest-key-file", type=Path, help="the deployment's digest key: format-v2 records"
    )
    arguments = parser.parse_args()
    if arguments.without_input and arguments.inputs_output is None:
        parser.error("--without-input needs --inputs-output")
    if arguments.without_input and arguments.digest_key_file is None:
        parser.error("--without-input needs --digest-key-file (an unkeyed hash can be reversed)")

    ruleset = load_ruleset("peer-support-intake@1.0.0")
    key = arguments.key_file.read_bytes().rstrip(b"\r\n") if arguments.key_file else None
    digest_key = (
        arguments.digest_key_file.read_bytes().rstrip(b"\r\n")
        if arguments.digest_key_file
        else None
    )
    with arguments.cohort.open(encoding="utf-8") as handle:
        applicants = [json.loads(line) for line in handle if line.strip()]
    if arguments.count is None:
        stream = iter(applicants[: arguments.limit])
        total = min(arguments.limit, len(applicants))
    else:
        stream = itertools.islice(itertools.cycle(applicants), arguments.count)
        total = arguments.count

    previous: DecisionRecord | None = None
    with contextlib.ExitStack() as files:
        records = files.enter_context(arguments.output.open("w", encoding="utf-8"))
        inputs = None
        if arguments.inputs_output is not None:
            inputs = files.enter_context(arguments.inputs_output.open("w", encoding="utf-8"))
        for number, applicant in enumerate(stream):
            decision = ruleset.evaluate(applicant)
            record = make_record(
                decision,
                subject_ref=f"subject-{number:07d}",  # the clinic's opaque id, never a name
                evaluated_at=START + datetime.timedelta(minutes=number),
                previous=previous,
                include_input=not arguments.without_input,
                key=key,
                digest_key=digest_key,
            )
            records.write(record.to_json() + "\n")
            if inputs is not None:
                entry = {"record_id": record.record_id, "input": decision.applicant()}
                inputs.write(json.dumps(entry, ensure_ascii=False) + "\n")
            previous = record
    print(f"wrote {total} records to {arguments.output}; head {previous and previous.record_hash}")


if __name__ == "__main__":
    main()
