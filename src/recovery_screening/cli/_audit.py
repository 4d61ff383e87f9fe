"""`publish` and `replay`: pin ruleset versions in the lock; verify a log of decision records."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recovery_screening.cli._common import EXIT_FAILED, EXIT_OK, add_rulesets_dir_option
from recovery_screening.cli._progress import Progress, count_lines, quiet_option
from recovery_screening.errors import DocumentError, Problem

if TYPE_CHECKING:  # records (pydantic) and publication are imported by the verbs that use them
    from recovery_screening.records.replay import RecordReport, ReplaySummary


def register(subparsers: Any) -> None:
    publish = subparsers.add_parser(
        "publish", help="pin a ruleset version's content hash in the rulesets lock"
    )
    publish.add_argument("path", metavar="PATH", help="ruleset file (YAML or JSON)")
    add_rulesets_dir_option(
        publish,
        help_text="rulesets directory to publish into (default: the directory PATH is in, "
        "<dir>/<id>/<version>.yaml)",
        old_name=True,
    )
    publish.add_argument("--format", choices=("text", "json"), default="text")
    publish.set_defaults(handler=run_publish)

    replay_parser = subparsers.add_parser(
        "replay", help="re-evaluate decision records and verify their hash chain"
    )
    replay_parser.add_argument("records", metavar="RECORDS.jsonl", help="decision record log")
    replay_parser.add_argument(
        "--inputs",
        metavar="INPUTS.jsonl",
        help='inputs for records kept without them: {"record_id": ..., "input": {...}} lines',
    )
    add_rulesets_dir_option(replay_parser, old_name=True)
    replay_parser.add_argument(
        "--key-file", metavar="K", help="HMAC key file: every record must carry a valid signature"
    )
    replay_parser.add_argument(
        "--digest-key-file",
        metavar="FILE",
        help="the deployment's digest key that format-v2 records were made with (default: the "
        f"{DIGEST_KEY_VARIABLE} environment variable); never given on the command line itself",
    )
    replay_parser.add_argument(
        "--chain-start",
        metavar="HASH",
        help="previous_hash of the first record, when the log continues an earlier one",
    )
    replay_parser.add_argument(
        "--expect-head",
        metavar="HASH",
        help="record_hash the last record must have (kept apart from the log): detects "
        "records removed from the end",
    )
    replay_parser.add_argument(
        "--problems-only",
        action="store_true",
        help="list only records that fail, each as soon as it is found (then the summary)",
    )
    replay_parser.add_argument(
        "--format",
        choices=("text", "json", "jsonl"),
        default="text",
        help="text for a person (default) or json for a program: one JSON object per record, "
        "then the summary (jsonl is a deprecated name for json)",
    )
    replay_parser.add_argument(
        "--engine",
        choices=("auto", "columnar", "scalar"),
        default="auto",
        help="columnar (DuckDB, the 'columnar' extra; a log file): canonical records checked "
        "fast and inputs decided in batches; scalar: one record at a time; auto (default): "
        "columnar for a log of 8 MiB or more. Both give the same reports",
    )
    quiet_option(replay_parser)
    replay_parser.set_defaults(handler=run_replay)


def run_publish(arguments: argparse.Namespace) -> int:
    from recovery_screening.publication import RulesetRegistry

    path = Path(arguments.path)
    directory = arguments.rulesets_dir or path.resolve().parent.parent
    entry = RulesetRegistry(directory).publish(path)
    if arguments.format == "json":
        print(json.dumps({"id": entry.id, "version": entry.version,
                          "content_hash": entry.content_hash}))  # fmt: skip
    else:
        print(f"published {entry.id} {entry.version} {entry.content_hash}")
    return EXIT_OK


DIGEST_KEY_VARIABLE = "RECOVERY_SCREENING_DIGEST_KEY"


def read_key(name: str, what: str = "a signing key") -> bytes:
    """The key file's bytes, without one trailing line break."""
    try:
        data = Path(name).read_bytes()
    except OSError as error:
        raise DocumentError(
            name, [Problem((), "unreadable", error.strerror or "cannot open file")]
        ) from None
    from recovery_screening.records.record import check_key

    return check_key(data.removesuffix(b"\n").removesuffix(b"\r"), what)


def digest_key(arguments: argparse.Namespace) -> bytes | None:
    """The digest key from `--digest-key-file`, else from the environment variable, else None."""
    if arguments.digest_key_file:
        return read_key(arguments.digest_key_file, "a digest key")
    value = os.environ.get(DIGEST_KEY_VARIABLE)
    if not value:
        return None
    from recovery_screening.records.record import check_key

    return check_key(value.encode("utf-8"), f"the digest key in {DIGEST_KEY_VARIABLE}")


def run_replay(arguments: argparse.Namespace) -> int:
    from recovery_screening.publication import RulesetRegistry
    from recovery_screening.records.replay import replay

    if arguments.format == "jsonl":
        print("warning: --format jsonl is deprecated; use --format json", file=sys.stderr)
        arguments.format = "json"
    key = read_key(arguments.key_file) if arguments.key_file else None
    if arguments.records != "-" and not Path(arguments.records).is_file():
        raise DocumentError(arguments.records, [Problem((), "unreadable", "no such file")])
    records = sys.stdin.buffer if arguments.records == "-" else arguments.records
    run = replay(
        records,
        RulesetRegistry(arguments.rulesets_dir),
        arguments.inputs,
        key=key,
        chain_start=arguments.chain_start,
        expect_head=arguments.expect_head,
        digest_key=digest_key(arguments),
        engine=arguments.engine,
    )
    as_json = arguments.format == "json"
    total = None if arguments.records == "-" else count_lines(arguments.records)
    with Progress("replaying", total, "records", quiet=arguments.quiet) as progress:
        for report in run:
            progress.update()
            if arguments.problems_only and report.identical:
                continue
            text = json.dumps(report.to_dict(), ensure_ascii=False) if as_json else _text(report)
            if arguments.problems_only:
                progress.write(text)
            else:
                print(text)
    summary = run.summary
    if as_json:
        print(json.dumps({"summary": summary.to_dict()}))
    else:
        print(_summary_text(summary))
    return EXIT_OK if summary.ok else EXIT_FAILED


def _text(report: RecordReport) -> str:
    head = (
        f"line {report.line:>6}  {report.record_id or '?':<34}  "
        f"{report.subject_ref or '?':<16}  {report.status}"
        + ("  (draft ruleset)" if report.draft else "")
    )
    lines = [head]
    for finding in report.findings:
        lines.append(f"    {finding.status}: {finding.detail}")
    for change in report.diff:
        recorded = json.dumps(change.recorded, ensure_ascii=False)
        replayed = json.dumps(change.replayed, ensure_ascii=False)
        lines.append(f"      {change.path}: recorded {recorded}, replayed {replayed}")
    return "\n".join(lines)


def _summary_text(summary: ReplaySummary) -> str:
    from recovery_screening.records.replay import STATUSES

    counts = ", ".join(
        f"{summary.counts[status]} {status}" for status in STATUSES if summary.counts[status]
    )
    chain = (
        "whole" if summary.chain_whole else f"BROKEN (first break at line {summary.first_break})"
    )
    if summary.expected_head is None:
        end = (
            "not checked: records removed from the end of a log go unnoticed without --expect-head"
        )
    elif summary.head_matches:
        end = "ends at the expected head"
    else:
        end = (
            f"DOES NOT end at the expected head {summary.expected_head} "
            "(records removed from the end, or another log)"
        )
    signatures = "checked" if summary.signatures_checked else "not checked (no --key-file)"
    drafts = (
        f"drafts: {summary.drafts} record(s) made with a draft ruleset (no lock pinned it)\n"
        if summary.drafts
        else ""
    )
    inputs = (
        f"inputs: {len(summary.malformed_inputs)} unreadable entries skipped "
        f"(lines {_lines(summary.malformed_inputs)})\n"
        if summary.malformed_inputs
        else ""
    )
    if summary.records == 0:
        verdict = "NOTHING TO VERIFY: the log holds no record"
    else:
        verdict = "every record verified" if summary.ok else "VERIFICATION FAILED"
    return (
        f"\n{summary.records} records: {counts or 'none'}\n"
        f"chain: {chain}; head {summary.head_hash}\n"
        f"end: {end}\n"
        f"signatures: {signatures}\n"
        f"{drafts}"
        f"{inputs}"
        f"{verdict}"
    )


def _lines(numbers: list[int], shown: int = 10) -> str:
    text = ", ".join(str(number) for number in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
