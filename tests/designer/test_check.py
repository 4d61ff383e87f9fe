"""`check`: property search on the shipped intake and on a deliberately unsafe copy."""

from __future__ import annotations

import json
import sys

import pytest
from tests.conftest import FIXTURES

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.check import check_properties, one_step_worse
from recovery_screening.errors import MissingExtra

UNSAFE = str(FIXTURES / "designer" / "unsafe-withdrawal.yaml")


def test_shipped_intake_holds_every_property(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "peer-support-intake", "--examples", "15"]) == 0
    out = capsys.readouterr().out
    for name in ("fail-safe", "monotonic", "safety-flag:phq9.item9_positive",
                 "property:no-admit-severe-withdrawal"):  # fmt: skip
        assert f"ok      {name}" in out
    assert "0 broken" in out


def test_v2_intake_holds_every_property_under_exact_semantics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    v2 = str(FIXTURES / "v2" / "peer-support-intake.yaml")
    assert main(["check", v2, "--examples", "15"]) == 0
    out = capsys.readouterr().out
    for name in ("fail-safe", "monotonic", "property:no-admit-severe-withdrawal"):
        assert f"ok      {name}" in out
    assert "0 broken" in out


def test_unsafe_version_is_caught_with_a_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", UNSAFE, "--examples", "15", "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    broken = {p["property"]: p for p in data["properties"] if not p["passed"]}
    assert set(broken) == {"monotonic", "property:no-admit-severe-withdrawal"}
    example = broken["property:no-admit-severe-withdrawal"]["counterexample"]
    assert example["applicant"]["withdrawal_severity"] == "severe"
    assert example["outcome"] in ("admit", "defer")
    assert "withdrawal_severity" in broken["monotonic"]["counterexample"]["detail"]


def test_text_output_prints_the_counterexample(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", UNSAFE, "--examples", "10"]) == 1
    out = capsys.readouterr().out
    assert "BROKEN  property:no-admit-severe-withdrawal" in out
    assert '"withdrawal_severity": "severe"' in out


def test_deterministic_for_a_seed() -> None:
    ruleset = load_ruleset(UNSAFE)
    first = [r.to_dict() for r in check_properties(ruleset, examples=10, seed=3)]
    again = [r.to_dict() for r in check_properties(ruleset, examples=10, seed=3)]
    assert first == again


def test_a_raised_safety_flag_that_is_not_referred_is_caught() -> None:
    document = load_ruleset("peer-support-intake").document
    document["decisions"] = [
        d for d in document["decisions"] if d["id"] != "refer-self-harm-thoughts"
    ]
    document["properties"] = []
    from recovery_screening import load_document

    results = check_properties(
        load_document(document), examples=10,
        only=lambda name: name.startswith("safety-flag"),
    )  # fmt: skip
    (result,) = results
    assert not result.passed and result.counterexample is not None
    assert result.counterexample.applicant["phq9"]["q9"] >= 1


def test_one_step_worse() -> None:
    fields = {f.name: f for f in load_ruleset("peer-support-intake").inputs}
    assert one_step_worse(fields["withdrawal_severity"], "moderate") == "severe"
    assert one_step_worse(fields["withdrawal_severity"], "severe") is None
    assert one_step_worse(fields["stage_of_change"], "action") == "preparation"
    assert one_step_worse(fields["violence_last_12_months"], False) is True
    assert one_step_worse(fields["violence_last_12_months"], True) is None
    assert one_step_worse(fields["can_attend_weekly"], True) is False
    assert one_step_worse(fields["days_since_last_use"], 0) is None
    assert one_step_worse(fields["days_since_last_use"], 30) == 29


def test_missing_hypothesis_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(MissingExtra, match=r'pip install "\.\[designer\]"'):
        check_properties(load_ruleset("peer-support-intake"), engine="scalar")
    assert main(["check", "peer-support-intake", "--engine", "scalar"]) == 2
    assert "pip install" in capsys.readouterr().err


@pytest.mark.parametrize("examples", [0, -3])
def test_check_refuses_a_number_of_examples_below_one(intake: Ruleset, examples: int) -> None:
    with pytest.raises(ValueError, match="examples must be from 1"):
        check_properties(intake, examples=examples)
