"""The shipped 1.1.0 content: the clinical review's cases, advisories, MOUD, worded answers."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.designer.check import check_properties
from recovery_screening.interchange import to_fhir_questionnaire
from recovery_screening.ruleset import load_document

INTAKE = "peer-support-intake@1.1.0"
MOUD_PROPERTY = "property:moud-is-never-a-reason-to-defer-or-refer"


@pytest.fixture(scope="module")
def intake() -> Ruleset:
    return load_ruleset(INTAKE)


def _case(ruleset: Ruleset, case_id: str) -> dict[str, Any]:
    (case,) = [case for case in ruleset.tests if case["id"] == case_id]
    applicant: dict[str, Any] = json.loads(json.dumps(case["applicant"]))
    return applicant


def test_the_default_intake_is_1_1_0_with_next_steps_marks_and_published(intake: Ruleset) -> None:
    # 1.2.0 adds only next-steps marks to 1.1.0 (tests/test_shipped_next_steps.py)
    newest = load_ruleset("peer-support-intake")
    assert newest.version == "1.2.0" and newest.content_hash != intake.content_hash
    assert newest.published and newest.compiled.format_version == 2


def test_an_overdose_is_admitted_with_follow_up_and_naloxone_marked_advisory(
    intake: Ruleset,
) -> None:
    decision = intake.evaluate(_case(intake, "review-overdose-admitted-with-follow-up"))
    assert decision.outcome == "admit"
    flags = {referral.target: referral.advisory for referral in decision.referrals}
    assert flags == {"mutual-aid-groups": False, "online-peer-network": False,
                     "naloxone-harm-reduction": True, "post-overdose-follow-up": True}  # fmt: skip
    assert decision.advisories == ("advise-naloxone", "advise-post-overdose-follow-up")


def test_an_overdose_never_changes_the_outcome_or_the_deciding_rules(intake: Ruleset) -> None:
    for case in intake.tests:
        applicant = json.loads(json.dumps(case["applicant"]))
        if applicant.get("overdose_last_90_days") is not False:
            continue
        if applicant.get("use_frequency_30d") == "daily":  # refer-residential-after-overdose
            continue
        before = intake.evaluate(applicant)
        after = intake.evaluate({**applicant, "overdose_last_90_days": True})
        assert (after.outcome, after.deciding) == (before.outcome, before.deciding), case["id"]
        ids = {referral.target for referral in after.referrals}
        assert {"naloxone-harm-reduction", "post-overdose-follow-up"} <= ids, case["id"]


def test_moud_changes_nothing_for_any_embedded_case(intake: Ruleset) -> None:
    for case in intake.tests:
        applicant = json.loads(json.dumps(case["applicant"]))
        without = {key: value for key, value in applicant.items() if key != "takes_moud"}
        for answer in (True, False):
            decision = intake.evaluate({**without, "takes_moud": answer})
            base = intake.evaluate(without)
            assert (decision.outcome, decision.deciding, decision.needs) == (
                base.outcome,
                base.deciding,
                base.needs,
            ), case["id"]


def test_the_moud_property_catches_a_rule_that_excludes_people_on_moud(tmp_path: Path) -> None:
    path = REPO / "rulesets" / "peer-support-intake" / "1.1.0.yaml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document["version"] = "1.1.1-moud-exclusion"
    document["decisions"].append({
        "id": "defer-on-moud", "when": "takes_moud", "outcome": "defer",
        "code": "ON_MEDICATION", "text": "A harmful rule this test expects check to catch.",
    })  # fmt: skip
    mutant = load_document(document)
    results = {
        result.id: result
        for result in check_properties(
            mutant, examples=10, only=lambda name: name in {MOUD_PROPERTY, "monotonic"}
        )
    }
    assert not results[MOUD_PROPERTY].passed
    assert not results["monotonic"].passed


def test_the_1_1_0_cohort_meets_the_contract_and_gives_every_outcome(intake: Ruleset) -> None:
    lines = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text().splitlines()
    outcomes = {intake.evaluate(json.loads(line)).outcome for line in lines}
    assert outcomes == {"admit", "defer", "refer"}


def _choice_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        if item.get("type") == "choice":
            found.append(item)
        found.extend(_choice_items(item.get("item", [])))
    return found


def test_every_choice_of_the_intake_questionnaire_shows_words_not_codes(intake: Ruleset) -> None:
    choices = _choice_items(to_fhir_questionnaire(intake)["item"])
    assert len(choices) > 40
    for item in choices:
        for option in item["answerOption"]:
            coding = option["valueCoding"]
            assert coding["display"] != coding["code"], item["linkId"]
            assert not coding["display"].replace(" ", "").isdigit(), item["linkId"]


def test_phq9_and_gad7_answers_carry_their_loinc_codes(intake: Ruleset) -> None:
    questionnaire = to_fhir_questionnaire(intake)
    groups = {item["linkId"]: item for item in questionnaire["item"]}
    for alias in ("phq9", "gad7"):
        for item in _choice_items(groups[alias]["item"]):
            codes = [(o["valueCoding"]["system"], o["valueCoding"]["code"])
                     for o in item["answerOption"]]  # fmt: skip
            frequency = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")
            assert codes == [("http://loinc.org", code) for code in frequency]


@pytest.mark.parametrize(
    ("name", "outcome"),
    [("admit.json", "admit"), ("admit-overdose-follow-up.json", "admit"),
     ("defer-does-not-want-group.json", "defer"), ("defer-missing.json", "defer"),
     ("refer-safety.json", "refer"), ("refer-withdrawal-history.json", "refer")],
)  # fmt: skip
def test_intake_1_1_examples(intake: Ruleset, name: str, outcome: str) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "intake-1.1" / name).read_text())
    assert intake.evaluate(applicant).outcome == outcome


def test_group_leader_readiness_reads_the_screening_date() -> None:
    ruleset = load_ruleset("group-leader-readiness@1.1.0")
    ready = json.loads((REPO / "examples/group-leader-readiness/ready.json").read_text())
    assert ruleset.evaluate(ready).outcome == "admit"
    undated = {key: value for key, value in ready.items() if key != "screening_date"}
    assert ruleset.evaluate(undated).needs == ("screening_date",)
    later = ruleset.evaluate(undated, as_of=datetime.date(2029, 1, 1))
    assert later.outcome == "defer"
    assert "defer-training-refresher" in later.deciding
