"""Lint: every code has a fixture that triggers it and one that does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, REPO

from recovery_screening import load_document, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.lint import HINTS, lint_path, lint_ruleset

LINT_FIXTURES = FIXTURES / "lint"
CODES = sorted(path.name for path in LINT_FIXTURES.iterdir() if path.is_dir())


def test_every_lint_code_with_a_hint_has_fixtures() -> None:
    assert set(HINTS) - {"unknown-value", "band-coverage"} == set(CODES)


@pytest.mark.parametrize("code", CODES)
def test_bad_fixture_triggers_the_code(code: str) -> None:
    report = lint_path(LINT_FIXTURES / code / "bad.yaml")
    found = [finding for finding in report.findings if finding.code == code]
    assert found, report.findings
    for finding in found:
        assert finding.path.startswith("$")
        assert finding.message and finding.hint
        assert finding.severity in ("error", "warning", "info")


@pytest.mark.parametrize("code", CODES)
def test_good_fixture_does_not_trigger_the_code(code: str) -> None:
    report = lint_path(LINT_FIXTURES / code / "good.yaml")
    assert report.findings == (), report.findings


def test_the_shipped_intake_is_clean() -> None:
    assert lint_ruleset(load_ruleset("peer-support-intake")) == []


def _with_decision(when: str, outcome: str = "defer") -> list[str]:
    base = load_ruleset(LINT_FIXTURES / "never-applies" / "good.yaml").document
    base["decisions"].append(
        {"id": "probe", "when": when, "outcome": outcome, "code": "PROBE", "text": "Probe.",
         **({"referral": "withdrawal-care"} if outcome == "refer" else {})}
    )  # fmt: skip
    return [f.code for f in lint_ruleset(load_document(base)) if f.rule == "probe"]


@pytest.mark.parametrize(
    "when",
    [
        "ready > 8 and ready < 3",
        "ready > 10",
        "motivation.score >= 4",
        'withdrawal not in ["none", "mild", "moderate", "severe"]',
        'withdrawal > "severe"',
        "attends and not attends",
        "(ready < 2 or ready > 9) and ready == 5",
        'not (withdrawal != "mild") and withdrawal == "none"',
    ],
)
def test_conditions_that_can_never_apply(when: str) -> None:
    assert "never-applies" in _with_decision(when)


@pytest.mark.parametrize(
    "when",
    [
        "ready > 3 and ready < 8",
        "motivation.score >= 3",
        "(ready < 2 or ready > 9) and ready == 10",
        'withdrawal == "mild" and ready == 0',
        "is_missing(ready)",
    ],
)
def test_conditions_that_can_apply(when: str) -> None:
    assert "never-applies" not in _with_decision(when)


def test_a_band_outside_the_reachable_bands_never_applies() -> None:
    # Scores 0, 2 and 4 only: band 'some' (1 to 1) is unreachable, so is a rule reading it.
    document = load_ruleset(LINT_FIXTURES / "unreachable-band" / "bad.yaml").document
    document["decisions"].append(
        {"id": "probe", "when": 'motivation.band == "some"', "outcome": "defer",
         "code": "PROBE", "text": "Probe."}
    )  # fmt: skip
    codes = {(f.code, f.rule) for f in lint_ruleset(load_document(document))}
    assert ("never-applies", "probe") in codes
    assert ("unreachable-band", None) in codes


def test_identical_conditions_are_shadowed_but_other_outcomes_are_not() -> None:
    assert "shadowed-rule" in _with_decision('motivation.band == "low"')
    assert "shadowed-rule" not in _with_decision('motivation.band == "low"', outcome="refer")


def test_a_ruleset_that_fails_to_load_is_reported_as_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: recovery-screening/v1\nkind: screening\n", encoding="utf-8")
    report = lint_path(broken)
    assert report.errors >= 1
    assert all(f.severity == "error" for f in report.findings)


def test_cli_exit_codes_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "peer-support-intake"]) == 0
    capsys.readouterr()
    assert main(["lint", str(LINT_FIXTURES / "shadowed-rule" / "bad.yaml")]) == 0
    capsys.readouterr()
    bad = str(LINT_FIXTURES / "band-gap" / "bad.yaml")
    assert main(["lint", bad, "--format", "json"]) == 1
    (report,) = json.loads(capsys.readouterr().out)
    assert report["errors"] == 1
    (finding,) = report["findings"]
    assert finding["code"] == "band-gap"
    assert finding["path"] == "$.domains.motivation.bands[1]"
    assert set(finding) == {"code", "severity", "path", "message", "hint", "rule"}


def test_v2_reserved_screening_date_and_advisory_inputs_are_not_unused() -> None:
    document = load_ruleset(FIXTURES / "rulesets" / "mini-v2" / "1.0.0.yaml").document
    document["decisions"] = [d for d in document["decisions"] if "screening_date" not in d["when"]]
    document["inputs"].pop("trained_on")
    unused = [
        f.path
        for f in lint_ruleset(load_document(document, rulesets_dir=FIXTURES / "rulesets"))
        if f.code == "unused-input"
    ]
    # `injects` is read only by an advisory; `screening_date` is read by nothing, but reserved
    assert unused == []
    document["advisories"] = []
    unused = [
        f.path
        for f in lint_ruleset(load_document(document, rulesets_dir=FIXTURES / "rulesets"))
        if f.code == "unused-input"
    ]
    assert unused == ["$.inputs.injects"]


def test_a_ruleset_whose_instrument_was_edited_is_reported_as_altered(tmp_path: Path) -> None:
    """Not "unreadable": the ruleset is fine, an instrument beside it changed after publishing."""
    rulesets = tmp_path / "my-rulesets"
    shutil.copytree(REPO / "rulesets", rulesets)
    phq9 = rulesets / "phq-9" / "1.0.0.yaml"
    text = phq9.read_text(encoding="utf-8")
    phq9.write_text(text.replace("\ntitle: ", "\ntitle: (edited) ", 1), encoding="utf-8")
    draft = rulesets / "peer-support-intake" / "9.0.0.yaml"
    shutil.copy(REPO / "examples" / "designing" / "peer-support-intake" / "1.3.0.yaml", draft)
    draft.write_text(draft.read_text(encoding="utf-8").replace("version: 1.3.0", "version: 9.0.0"))
    (finding,) = lint_path(draft).findings
    assert (finding.code, finding.severity, finding.path) == ("ruleset-altered", "error", "$")
    assert "phq-9 version 1.0.0 was changed after it was published" in finding.message
    assert "publish the change as a new version" in finding.hint


def test_a_ruleset_that_is_not_there_is_reported_as_not_found(tmp_path: Path) -> None:
    report = lint_path("no-such-ruleset", rulesets_dir=tmp_path)
    assert [f.code for f in report.findings] == ["ruleset-not-found"]
    assert not report.readable
