"""`lint`, `test`, `simulate`, `diff`, `check`: the program designer's verbs."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from recovery_screening.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    MAX_WORKERS,
    add_format_option,
    add_rulesets_dir_option,
    int_in_range,
)
from recovery_screening.cli._progress import Progress, count_lines, quiet_option
from recovery_screening.designer.defaults import (
    DEFAULT_EXAMPLES,
    DEFAULT_LIMIT,
    DEFAULT_SEED,
    ENGINES,
    MAX_EXAMPLES,
    MAX_SEED,
)
from recovery_screening.errors import DocumentError, Problem

if TYPE_CHECKING:  # the tools are imported by the verb that runs them, not by --help
    from recovery_screening.designer.testing import CaseRun


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint", help="static checks on rulesets: codes, severities, paths and fix hints"
    )
    lint.add_argument("rulesets", metavar="RULESET", nargs="+", help="ruleset files or ids")
    add_rulesets_dir_option(lint)
    add_format_option(lint)
    lint.set_defaults(handler=run_lint)

    test = subparsers.add_parser("test", help="run embedded and external test cases")
    test.add_argument("rulesets", metavar="RULESET", nargs="+", help="ruleset files or ids")
    test.add_argument(
        "--cases", metavar="FILE", nargs="+", default=[], help="case files (YAML or JSON)"
    )
    test.add_argument("--junit-xml", metavar="PATH", help="also write JUnit XML for CI")
    add_rulesets_dir_option(test)
    add_format_option(test)
    test.set_defaults(handler=run_test)

    sim = subparsers.add_parser("simulate", help="evaluate a whole cohort and summarise it")
    sim.add_argument("ruleset", metavar="RULESET", help="ruleset file or id")
    sim.add_argument("--cohort", required=True, metavar="COHORT", help=".jsonl or .csv cohort")
    sim.add_argument("--report", metavar="HTML", help="also write a self-contained HTML report")
    _add_group_by_option(sim)
    sim.add_argument(
        "--workers",
        type=int_in_range(1, MAX_WORKERS),
        metavar="N",
        help="worker processes (default: 2)",
    )
    sim.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="columnar (DuckDB, the 'columnar' extra; JSON Lines), scalar (one applicant at a "
        "time), or auto (default): columnar where it can run",
    )
    add_rulesets_dir_option(sim)
    add_format_option(sim)
    quiet_option(sim)
    sim.set_defaults(handler=run_simulate)

    diff = subparsers.add_parser("diff", help="structural and behavioural diff of two versions")
    diff.add_argument("old", metavar="OLD", help="old ruleset file or id@version")
    diff.add_argument("new", metavar="NEW", help="new ruleset file or id@version")
    diff.add_argument("--cohort", metavar="COHORT", help=".jsonl or .csv cohort")
    diff.add_argument(
        "--report", metavar="HTML", help="also write a self-contained HTML report (needs --cohort)"
    )
    _add_group_by_option(diff)
    diff.add_argument(
        "--limit", type=int_in_range(0), default=DEFAULT_LIMIT, metavar="N",
        help=f"changed applicants to list (default {DEFAULT_LIMIT})",
    )  # fmt: skip
    diff.add_argument(
        "--show-values", action="store_true",
        help="print the answers of changed applicants (off by default: they may be real people)",
    )  # fmt: skip
    diff.add_argument(
        "--workers",
        type=int_in_range(1, MAX_WORKERS),
        metavar="N",
        help="worker processes (default: 2)",
    )
    diff.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="as for simulate: columnar, scalar, or auto (default)",
    )
    add_rulesets_dir_option(diff)
    add_format_option(diff)
    quiet_option(diff)
    diff.set_defaults(handler=run_diff)

    check = subparsers.add_parser(
        "check", help="search for applicants that break safety properties (hypothesis)"
    )
    check.add_argument("ruleset", metavar="RULESET", help="ruleset file or id")
    check.add_argument(
        "--examples", type=int_in_range(1, MAX_EXAMPLES), default=DEFAULT_EXAMPLES, metavar="N",
        help=f"random applicants tried per property (default {DEFAULT_EXAMPLES})",
    )  # fmt: skip
    check.add_argument(
        "--seed", type=int_in_range(0, MAX_SEED), default=DEFAULT_SEED, metavar="S",
        help=f"random seed; the same seed gives the same result (default {DEFAULT_SEED})",
    )  # fmt: skip
    check.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help="columnar (generated applicants evaluated in batches on DuckDB, the 'columnar' "
        "extra), scalar (hypothesis, one applicant at a time), or auto (default): columnar "
        "where it is installed and the search is large enough to pay",
    )
    add_rulesets_dir_option(check)
    add_format_option(check)
    quiet_option(check)
    check.set_defaults(handler=run_check)


def _add_group_by_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--group-by", metavar="FIELD", nargs="+", action="extend", default=[],
        help="equity report per group of an input or a side-car column (cohort.<name>)",
    )  # fmt: skip


def _dump(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def run_lint(arguments: argparse.Namespace) -> int:
    from recovery_screening.designer.lint import lint_path

    reports = [lint_path(path, rulesets_dir=arguments.rulesets_dir) for path in arguments.rulesets]
    if arguments.format == "json":
        _dump([report.to_dict() for report in reports])
    else:
        for report in reports:
            name = f" ({report.ruleset_id} {report.version})" if report.ruleset_id else ""
            print(f"{report.source}{name}: {report.errors} error(s), "
                  f"{report.warnings} warning(s)")  # fmt: skip
            for finding in report.findings:
                rule = f" rule {finding.rule}" if finding.rule else ""
                print(f"  {finding.severity:<8}{finding.code:<24}{finding.path}{rule}")
                print(f"          {finding.message}")
                print(f"          fix: {finding.hint}")
    if not all(report.readable for report in reports):
        return EXIT_USAGE
    return EXIT_FAILED if any(report.errors for report in reports) else EXIT_OK


def run_test(arguments: argparse.Namespace) -> int:
    from recovery_screening.designer.testing import (
        failure_text,
        junit_xml,
        read_case_file,
        run_cases,
    )
    from recovery_screening.ruleset import load_ruleset

    case_files = [read_case_file(path) for path in arguments.cases]
    rulesets = [load_ruleset(r, rulesets_dir=arguments.rulesets_dir) for r in arguments.rulesets]
    unused = [f for f in case_files if not any(f.applies_to(r) for r in rulesets)]
    if unused:
        raise DocumentError(
            unused[0].source,
            [Problem(("ruleset",), "no-ruleset", "the case file names a ruleset not being tested")],
        )
    runs: list[CaseRun] = []
    for ruleset in rulesets:
        mine = run_cases(ruleset, case_files)
        runs.extend(mine)
        if arguments.format == "text":
            print(f"{ruleset.id} {ruleset.version} ({ruleset.source}): {len(mine)} case(s)")
            for run in mine:
                print(f"  {'PASSED' if run.result.passed else 'FAILED'}  {run.name}"
                      + ("" if run.source == ruleset.source else f"  [{run.source}]"))  # fmt: skip
    failed = [run for run in runs if not run.result.passed]
    if arguments.junit_xml:
        Path(arguments.junit_xml).write_bytes(junit_xml(runs))
    if arguments.format == "json":
        _dump(
            [
                {"ruleset": run.ruleset, "source": run.source, "case": run.name,
                 "passed": run.result.passed, "failures": list(run.result.failures),
                 "decision": run.result.decision.to_dict() if run.result.decision else None}
                for run in runs
            ]
        )  # fmt: skip
    else:
        if failed:
            print("\n" + " FAILURES ".center(78, "="))
            for run in failed:
                print(f" {run.ruleset} :: {run.name} [{run.source}] ".center(78, "_"))
                print(failure_text(run))
                print()
        summary = f" {len(failed)} failed, {len(runs) - len(failed)} passed "
        print(summary.center(78, "="))
        if not runs:
            print("no test cases: add `tests:` to the ruleset or give --cases (exit 1)")
    return EXIT_FAILED if failed or not runs else EXIT_OK


def _cohort_progress(arguments: argparse.Namespace, description: str) -> Progress:
    """A bar over the cohort's rows (counted only when a bar is drawn)."""
    cohort = arguments.cohort

    def rows() -> int | None:
        if cohort is None:
            return None
        return count_lines(cohort, header=str(cohort).lower().endswith(".csv"))

    return Progress(description, rows, "applicants", quiet=arguments.quiet)


class _CohortResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


_Result = TypeVar("_Result", bound=_CohortResult)


def _write_and_print(
    arguments: argparse.Namespace,
    result: _Result,
    html: Callable[[_Result], str],
    text: Callable[[_Result], str],
) -> int:
    """Write the HTML report when one was asked for, then print the result as text or JSON."""
    if arguments.report:
        Path(arguments.report).write_text(html(result), encoding="utf-8")
    if arguments.format == "json":
        _dump(result.to_dict())
    else:
        print(text(result))
        if arguments.report:
            print(f"\nReport written to {arguments.report}")
    return EXIT_OK


def run_simulate(arguments: argparse.Namespace) -> int:
    from recovery_screening.designer.report import html_report
    from recovery_screening.designer.simulate import simulate, summary_text
    from recovery_screening.ruleset import load_ruleset

    ruleset = load_ruleset(arguments.ruleset, rulesets_dir=arguments.rulesets_dir)
    with _cohort_progress(arguments, "simulating") as progress:
        result = simulate(
            ruleset, arguments.cohort, workers=arguments.workers,
            rulesets_dir=arguments.rulesets_dir, progress=progress.update,
            engine=arguments.engine,
            group_by=tuple(arguments.group_by),
        )  # fmt: skip
    return _write_and_print(arguments, result, html_report, summary_text)


def run_diff(arguments: argparse.Namespace) -> int:
    from recovery_screening.designer.diff import diff_rulesets, diff_text
    from recovery_screening.designer.report import diff_html_report
    from recovery_screening.ruleset import load_ruleset

    old = load_ruleset(arguments.old, rulesets_dir=arguments.rulesets_dir)
    new = load_ruleset(arguments.new, rulesets_dir=arguments.rulesets_dir)
    with _cohort_progress(arguments, "comparing") as progress:
        result = diff_rulesets(
            old, new, arguments.cohort, limit=arguments.limit, show_values=arguments.show_values,
            workers=arguments.workers, old_rulesets_dir=arguments.rulesets_dir,
            new_rulesets_dir=arguments.rulesets_dir, group_by=tuple(arguments.group_by),
            progress=progress.update, engine=arguments.engine,
        )  # fmt: skip
    return _write_and_print(arguments, result, diff_html_report, diff_text)


def run_check(arguments: argparse.Namespace) -> int:
    from recovery_screening.designer.check import check_engine, check_properties
    from recovery_screening.ruleset import load_ruleset

    ruleset = load_ruleset(arguments.ruleset, rulesets_dir=arguments.rulesets_dir)
    engine = check_engine(arguments.engine, ruleset, arguments.examples)
    with Progress("checking", None, "properties", quiet=arguments.quiet, scale=False) as progress:

        def advance(done: int, total: int) -> None:
            progress.total(total)
            progress.update(1)

        results = check_properties(
            ruleset, examples=arguments.examples, seed=arguments.seed, progress=advance,
            engine=engine,
        )  # fmt: skip
    if arguments.format == "json":
        _dump(
            {"ruleset": {"id": ruleset.id, "version": ruleset.version},
             "examples": arguments.examples, "seed": arguments.seed, "engine": engine,
             "properties": [result.to_dict() for result in results]}
        )  # fmt: skip
    else:
        print(f"Checking {ruleset.id} {ruleset.version} "
              f"(seed {arguments.seed}, {arguments.examples} examples per property)")  # fmt: skip
        for result in results:
            print(f"  {'ok    ' if result.passed else 'BROKEN'}  {result.id}: {result.text}")
        for result in results:
            example = result.counterexample
            if example is None:
                continue
            print(f"\nCounterexample for {result.id}:")
            print(f"  {example.detail}")
            print(f"  outcome {example.outcome} (deciding: {', '.join(example.deciding)})")
            print("  applicant: " + json.dumps(example.applicant, ensure_ascii=False,
                                               sort_keys=True))  # fmt: skip
        broken = sum(1 for result in results if not result.passed)
        print(f"\n{len(results) - broken} held, {broken} broken")
    return EXIT_FAILED if any(not result.passed for result in results) else EXIT_OK
