"""`test`: embedded cases and case files, pytest-like output, JUnit XML, the pytest helper."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, REPO

from recovery_screening import load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer import assert_case, pytest_cases
from recovery_screening.designer.testing import read_case_file
from recovery_screening.errors import DocumentError

UNSAFE = str(FIXTURES / "designer" / "unsafe-withdrawal.yaml")
CASES = FIXTURES / "designer" / "cases.yaml"
INTAKE = str(REPO / "rulesets" / "peer-support-intake" / "1.0.0.yaml")


def test_shipped_intake_passes_its_cases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", INTAKE, "--cases", str(CASES)]) == 0
    out = capsys.readouterr().out
    assert "PASSED  admit-ready" in out
    assert "PASSED  external-severe-withdrawal-refers" in out
    assert "0 failed" in out


def test_a_broken_ruleset_fails_with_expected_actual_and_explanation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junit = tmp_path / "junit.xml"
    assert main(["test", UNSAFE, "--cases", str(CASES), "--junit-xml", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "FAILED  refer-withdrawal-severe" in out
    assert "outcome: expected refer, got admit" in out
    assert "actual: outcome admit; reasons [ADMIT_READY]" in out
    assert "explanation:" in out and "Outcome: ADMIT" in out
    assert "4 failed" in out
    root = ElementTree.parse(junit).getroot()
    assert root.get("tests") == "47" and root.get("failures") == "4"
    failed = [
        case.get("name") for case in root.iter("testcase") if case.find("failure") is not None
    ]
    assert "external-severe-withdrawal-refers" in failed
    assert "refer-withdrawal-severe" in failed


def test_a_case_file_for_another_ruleset_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("ruleset: mini@1.0.0\ncases: []\n", encoding="utf-8")
    assert main(["test", INTAKE, "--cases", str(other)]) == 2
    assert "other.yaml" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("cases: {}\n", "$.cases"),
        ("cases: [{id: a, applicant: {}, expect: {outcome: maybe}}]\n",
         "$.cases[0].expect.outcome"),
        ("cases: [{id: a, applicant: {}, expect: {outcome: admit, why: [x]}}]\n",
         "$.cases[0].expect.why"),
        ("cases: [{applicant: {}, expect: {outcome: admit}}]\n", "$.cases[0].id"),
    ],
)  # fmt: skip
def test_bad_case_files_name_the_path(tmp_path: Path, text: str, path: str) -> None:
    case_file = tmp_path / "cases.yaml"
    case_file.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        read_case_file(case_file)
    assert path in [problem.path for problem in caught.value.problems]
    assert main(["test", INTAKE, "--cases", str(case_file)]) == 2


@pytest.mark.parametrize(("ruleset", "case"), pytest_cases(INTAKE, CASES))
def test_pytest_helper_runs_every_case(ruleset: object, case: dict[str, object]) -> None:
    assert_case(ruleset, case)  # type: ignore[arg-type]


def test_pytest_helper_collects_embedded_and_file_cases() -> None:
    params = pytest_cases(INTAKE, CASES)
    ids = [param.id for param in params]
    assert "peer-support-intake@1.0.0:admit-ready" in ids
    assert "cases.yaml:external-severe-withdrawal-refers" in ids


def test_assert_case_fails_with_the_explanation() -> None:
    ruleset = load_ruleset(UNSAFE)
    (case,) = [c for c in ruleset.tests if c["id"] == "refer-withdrawal-severe"]
    with pytest.raises(AssertionError, match="outcome: expected refer, got admit"):
        assert_case(ruleset, case)


def test_no_cases_at_all_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(FIXTURES / "lint" / "never-applies" / "good.yaml")]) == 1
    assert "no test cases" in capsys.readouterr().out


def test_expected_advisories_are_compared_as_codes() -> None:
    from recovery_screening.designer.cases import run_case

    ruleset = load_ruleset(FIXTURES / "rulesets" / "mini-v2" / "1.0.0.yaml")
    case = next(c for c in ruleset.tests if c["id"] == "admit-with-advisories")
    assert run_case(ruleset, case).passed
    wrong = {**case, "expect": {**case["expect"], "advisories": ["HARM_REDUCTION_INFO"]}}
    result = run_case(ruleset, wrong)
    assert result.failures == (
        "advisories: expected [HARM_REDUCTION_INFO], got [HARM_REDUCTION_INFO, PRIMARY_CARE_CHECK]",
    )
