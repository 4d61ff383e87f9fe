"""The group-leader readiness and continuing-support rulesets: coverage, labels, typed referrals."""

from __future__ import annotations

import json

import pytest
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.cli import main

ASSESSMENTS = ["group-leader-readiness", "continuing-support"]
TRAINING_MODULES = [
    "training_communication",
    "training_conflict_resolution",
    "training_self_care",
    "training_safe_space",
    "training_facilitation",
]


@pytest.fixture(scope="module", params=ASSESSMENTS)
def assessment(request: pytest.FixtureRequest) -> Ruleset:
    return load_ruleset(request.param)


def test_outcomes_have_display_labels(assessment: Ruleset) -> None:
    assert set(assessment.compiled.outcome_labels) == {"admit", "defer", "refer"}


def test_group_leader_labels_are_shown_by_explain_and_the_cli(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = REPO / "examples" / "group-leader-readiness"
    expected = {"ready.json": "ADMIT (Ready to lead)",
                "training-outstanding.json": "DEFER (Complete training first)",
                "not-now.json": "REFER (Not now)"}  # fmt: skip
    ruleset = load_ruleset("group-leader-readiness")
    for name, label in expected.items():
        applicant = json.loads((path / name).read_text())
        assert ruleset.evaluate(applicant).explain().startswith(f"Outcome: {label}")
        assert main(["evaluate", str(path / name), "--ruleset", "group-leader-readiness"]) == 0
        assert capsys.readouterr().out.startswith(f"Outcome: {label}")


def test_outstanding_training_modules_are_the_needs() -> None:
    ruleset = load_ruleset("group-leader-readiness")
    ready = json.loads((REPO / "examples/group-leader-readiness/ready.json").read_text())
    for count in range(1, len(TRAINING_MODULES) + 1):
        missing = TRAINING_MODULES[:count]
        applicant = {key: value for key, value in ready.items() if key not in missing}
        decision = ruleset.evaluate(applicant)
        assert decision.outcome == "defer"
        assert decision.deciding == ("defer-training-modules",)
        assert decision.needs == tuple(sorted(missing))


def test_group_leader_reads_every_required_training_area() -> None:
    labels = " ".join(field.label for field in load_ruleset("group-leader-readiness").inputs)
    for area in ("communication strategies", "conflict resolution", "self-care",
                 "safe, non-judgemental space that respects individual preferences and beliefs",
                 "facilitating discussion and story sharing"):  # fmt: skip
        assert area in labels


def test_continuing_support_referrals_are_typed() -> None:
    ruleset = load_ruleset("continuing-support")
    kinds = {target.kind for target in ruleset.compiled.referral_targets.values()}
    assert {"mutual-aid", "online-peer-network", "clinical-care"} <= kinds
    assert list(ruleset.document["instruments"]) == ["barc10"]


@pytest.mark.parametrize(
    ("name", "outcome", "kinds"),
    [("matched-support.json", "admit", {"mutual-aid", "online-peer-network"}),
     ("back-to-care.json", "refer", {"clinical-care", "other"}),
     ("plan-access-first.json", "defer", {"other"})],
)  # fmt: skip
def test_continuing_support_examples(name: str, outcome: str, kinds: set[str]) -> None:
    applicant = json.loads((REPO / "examples" / "continuing-support" / name).read_text())
    decision = load_ruleset("continuing-support").evaluate(applicant)
    assert decision.outcome == outcome
    assert {referral.kind for referral in decision.referrals} == kinds
