"""Run a ruleset's embedded test cases and external case files; JUnit XML; a pytest helper.

A case file is YAML or JSON: `{ruleset: id@version (optional), cases: [{id, applicant, expect}]}`
where `expect` has `outcome` and optionally `reasons`, `needs`, `referrals` and (format v2)
`advisories` (see docs/designing-rulesets.md). A file naming a ruleset applies only to that id
(and version).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_screening.designer.cases import CaseResult, run_case
from recovery_screening.document.reader import read_document
from recovery_screening.document.versions import split_reference
from recovery_screening.errors import DocumentError, Location, Problem
from recovery_screening.outcomes import OUTCOMES
from recovery_screening.ruleset import Ruleset, load_ruleset

_EXPECT_KEYS = {"outcome", "reasons", "needs", "referrals", "advisories", "next_steps"}


@dataclass(frozen=True)
class CaseFile:
    """Test cases from one file, and the ruleset (`id` or `id@version`) they are for, if named."""

    source: str
    ruleset: str | None
    cases: tuple[Mapping[str, Any], ...]

    def applies_to(self, ruleset: Ruleset) -> bool:
        if self.ruleset is None:
            return True
        ruleset_id, version = split_reference(self.ruleset)
        return ruleset_id == ruleset.id and version in (None, ruleset.version)


@dataclass(frozen=True)
class CaseRun:
    """One case's result, with where the case came from."""

    ruleset: str
    source: str
    result: CaseResult

    @property
    def name(self) -> str:
        return self.result.case_id


def read_case_file(path: str | Path) -> CaseFile:
    """Read and check a case file; DocumentError lists every problem with its JSON path."""
    source = str(path)
    document = read_document(Path(path))
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise DocumentError(source, [Problem((), "wrong-type", "a case file must be an object")])
    ruleset = document.get("ruleset")
    if ruleset is not None and not isinstance(ruleset, str):
        problems.append(Problem(("ruleset",), "wrong-type", "must be text: id or id@version"))
    cases = document.get("cases")
    if not isinstance(cases, list):
        problems.append(Problem(("cases",), "missing-field", "must be a list of test cases"))
        cases = []
    problems.extend(p for index, case in enumerate(cases) for p in case_problems(case, index))
    if problems:
        raise DocumentError(source, problems)
    return CaseFile(source, ruleset, tuple(cases))


def case_problems(case: Any, index: int) -> list[Problem]:
    """What is wrong with one case's shape (never its answers' values)."""
    path: Location = ("cases", index)
    if not isinstance(case, Mapping):
        return [Problem(path, "wrong-type", "a case must be an object with id, applicant, expect")]
    problems = []
    if not isinstance(case.get("id"), str):
        problems.append(Problem((*path, "id"), "missing-field", "every case needs a text id"))
    if not isinstance(case.get("applicant"), Mapping):
        problems.append(Problem((*path, "applicant"), "missing-field", "must be an object"))
    expect = case.get("expect")
    if not isinstance(expect, Mapping):
        problems.append(Problem((*path, "expect"), "missing-field", "must be an object"))
        return problems
    if expect.get("outcome") not in OUTCOMES:
        problems.append(
            Problem((*path, "expect", "outcome"), "not-allowed", "must be admit, defer or refer")
        )
    for key in expect:
        if key not in _EXPECT_KEYS:
            problems.append(
                Problem((*path, "expect", key), "unknown-field",
                        "expect may have outcome, reasons, needs, referrals, advisories and "
                        "next_steps")
            )  # fmt: skip
        elif key == "next_steps":
            if not _lists_of_text(expect[key]):
                problems.append(
                    Problem((*path, "expect", key), "wrong-type", "must be a list of lists of text")
                )
        elif key != "outcome" and not _text_list(expect[key]):
            problems.append(Problem((*path, "expect", key), "wrong-type", "must be a list of text"))
    return problems


def _text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _lists_of_text(value: Any) -> bool:
    return isinstance(value, list) and all(_text_list(v) for v in value)


def run_cases(
    ruleset: Ruleset, case_files: Sequence[CaseFile] = (), *, embedded: bool = True
) -> list[CaseRun]:
    """Run the embedded cases (unless `embedded` is false) and every case file for `ruleset`."""
    label = f"{ruleset.id}@{ruleset.version}"
    runs: list[CaseRun] = []
    if embedded:
        source = ruleset.source or "<document>"
        runs.extend(CaseRun(label, source, run_case(ruleset, case)) for case in ruleset.tests)
    for case_file in case_files:
        if case_file.applies_to(ruleset):
            runs.extend(
                CaseRun(label, case_file.source, run_case(ruleset, case))
                for case in case_file.cases
            )
    return runs


def failure_text(run: CaseRun) -> str:
    """What differed, then the whole explanation of the actual decision."""
    lines = list(run.result.failures)
    decision = run.result.decision
    if decision is not None:
        reasons = ", ".join(reason.code for reason in decision.reasons)
        lines.append(
            f"actual: outcome {decision.outcome}; reasons [{reasons}]; "
            f"deciding {', '.join(decision.deciding)}; needs [{', '.join(decision.needs)}]; "
            f"referrals [{', '.join(decision.referral_targets)}]"
        )
        lines.append("explanation:")
        lines.extend("  " + line for line in decision.explain().splitlines())
    return "\n".join(lines)


def junit_xml(runs: Sequence[CaseRun]) -> bytes:
    """JUnit XML: one testsuite per ruleset, one testcase per case, failures with explanations."""
    root = ElementTree.Element("testsuites", name="recovery-screening")
    suites: dict[str, ElementTree.Element] = {}
    for run in runs:
        suite = suites.get(run.ruleset)
        if suite is None:
            suite = ElementTree.SubElement(root, "testsuite", name=run.ruleset)
            suites[run.ruleset] = suite
        case = ElementTree.SubElement(
            suite, "testcase", name=run.name, classname=run.ruleset, file=run.source
        )
        if not run.result.passed:
            failure = ElementTree.SubElement(
                case, "failure", message="; ".join(run.result.failures), type="CaseFailed"
            )
            failure.text = failure_text(run)
    for name, suite in suites.items():
        mine = [run for run in runs if run.ruleset == name]
        suite.set("tests", str(len(mine)))
        suite.set("failures", str(sum(1 for run in mine if not run.result.passed)))
        suite.set("errors", "0")
    root.set("tests", str(len(runs)))
    root.set("failures", str(sum(1 for run in runs if not run.result.passed)))
    return bytes(ElementTree.tostring(root, encoding="utf-8", xml_declaration=True))


def pytest_cases(
    ruleset: Ruleset | str | Path,
    *case_files: str | Path,
    rulesets_dir: str | Path | None = None,
) -> list[Any]:
    """`pytest.param(ruleset, case, id=...)` for every embedded case and case-file case.

    Use with `assert_case`:

        @pytest.mark.parametrize(("ruleset", "case"), pytest_cases("my-intake.yaml"))
        def test_ruleset_case(ruleset, case):
            assert_case(ruleset, case)
    """
    import pytest

    loaded = (
        ruleset
        if isinstance(ruleset, Ruleset)
        else load_ruleset(ruleset, rulesets_dir=rulesets_dir)
    )
    files = [read_case_file(path) for path in case_files]
    params = [
        pytest.param(loaded, case, id=f"{loaded.id}@{loaded.version}:{case.get('id', '?')}")
        for case in loaded.tests
    ]
    for case_file in files:
        if case_file.applies_to(loaded):
            params.extend(
                pytest.param(
                    loaded, case, id=f"{Path(case_file.source).name}:{case.get('id', '?')}"
                )
                for case in case_file.cases
            )
    return params


def assert_case(ruleset: Ruleset, case: Mapping[str, Any]) -> None:
    """Raise AssertionError (what differed, then the explanation) when a case fails."""
    result = run_case(ruleset, case)
    if not result.passed:
        run = CaseRun(f"{ruleset.id}@{ruleset.version}", ruleset.source or "", result)
        raise AssertionError(failure_text(run))
