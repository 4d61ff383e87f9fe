"""Format v2 features through the public API: advisories, the screening date, value labels and
v2 instruments (the data-driven cases are in tests/conformance/)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import jsonschema
import pytest
from tests.conftest import FIXTURE_RULESETS, REPO

from recovery_screening import InvalidApplicant, Ruleset, load_ruleset
from recovery_screening.models import DecisionModel, decision_json_schema

COMPLETE = {
    "withdrawal": "none",
    "ready": 8,
    "injects": True,
    "housing": "temporary",
    "scale": {"q1": 0, "q2": True, "q3": 0},
}


@pytest.fixture(scope="module")
def mini_v2() -> Ruleset:
    return load_ruleset(FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml")


def test_v2_decision_json_carries_advisories_and_round_trips(mini_v2: Ruleset) -> None:
    decision = mini_v2.evaluate(COMPLETE, as_of=datetime.date(2026, 1, 10))
    data = json.loads(decision.to_json())
    assert list(data)[:9] == [
        "outcome", "outcome_label", "deciding", "reasons", "needs", "needed_questions",
        "rescreen_after_days", "referrals", "advisories",
    ]  # fmt: skip
    assert data["needed_questions"] == []
    assert [(r["target"], r["rule"], r["advisory"]) for r in data["referrals"]] == [
        ("peer-group", "default", False),
        ("harm-reduction", "advise-harm-reduction", True),
        ("primary-care", "advise-primary-care", True),
    ]
    assert data["advisories"][0] == {
        "rule": "advise-harm-reduction",
        "code": "HARM_REDUCTION_INFO",
        "text": "Naloxone and harm-reduction information, whatever the outcome.",
        "referrals": ["harm-reduction"],
        "evidence": {"injects": True},
    }
    assert data["undecided_advisories"] == []
    assert decision.advisories == ("advise-harm-reduction", "advise-primary-care")
    model = DecisionModel.model_validate_json(decision.to_json())
    assert model.model_dump(mode="json") == data
    jsonschema.Draft202012Validator(decision_json_schema()).validate(data)


def test_v1_decision_json_has_no_v2_keys(mini: Ruleset) -> None:
    data = json.loads(mini.evaluate({"withdrawal": "none"}).to_json())
    assert "advisories" not in data and "undecided_advisories" not in data
    assert "needed_questions" not in data
    assert all("advisory" not in referral for referral in data["referrals"])
    assert DecisionModel.model_validate(data).model_dump(mode="json") == data


def test_an_advisory_changes_nothing_but_referrals(mini_v2: Ruleset) -> None:
    without = {**COMPLETE, "injects": False, "housing": "stable"}
    a, b = mini_v2.evaluate(COMPLETE).to_dict(), mini_v2.evaluate(without).to_dict()
    for key in ("outcome", "deciding", "needs", "rescreen_after_days"):
        assert a[key] == b[key]


def test_as_of_sets_the_reserved_screening_date(mini_v2: Ruleset) -> None:
    applicant = {**COMPLETE, "trained_on": "2026-02-01"}
    undated = mini_v2.evaluate(applicant)
    assert (undated.outcome, undated.needs) == ("defer", ("screening_date",))
    dated = mini_v2.evaluate(applicant, as_of=datetime.date(2026, 1, 10))
    assert dated.deciding == ("defer-training-in-future",)
    assert dated.applicant()["screening_date"] == "2026-01-10"
    carried = mini_v2.evaluate({**applicant, "screening_date": "2026-01-10"})
    assert carried.to_json() == dated.to_json()
    later = mini_v2.evaluate(applicant, as_of=datetime.date(2026, 3, 1))
    assert later.outcome == "admit"


def test_as_of_works_with_a_dataclass_applicant(mini_v2: Ruleset) -> None:
    @dataclass
    class Applicant:
        withdrawal: str
        ready: int
        injects: bool
        housing: str
        trained_on: str

    person = Applicant("none", 8, False, "stable", "2026-02-01")
    decision = mini_v2.evaluate(person, as_of=datetime.date(2026, 1, 10))
    assert decision.deciding == ("defer-training-in-future",)


@pytest.mark.parametrize(
    "as_of", [datetime.datetime(2026, 1, 10, 9, 30), "2026-01-10"], ids=["datetime", "text"]
)
def test_as_of_must_be_a_date(mini_v2: Ruleset, as_of: Any) -> None:
    with pytest.raises(InvalidApplicant) as raised:
        mini_v2.evaluate(COMPLETE, as_of=as_of)
    assert list(raised.value.fields) == ["$.screening_date"]


def test_conflicting_dates_name_the_field_not_the_dates(mini_v2: Ruleset) -> None:
    with pytest.raises(InvalidApplicant) as raised:
        mini_v2.evaluate(
            {**COMPLETE, "screening_date": "2026-05-04"}, as_of=datetime.date(2026, 1, 10)
        )
    assert list(raised.value.fields) == ["$.screening_date"]
    assert "2026" not in str(raised.value)


def test_a_v1_ruleset_ignores_as_of(mini: Ruleset) -> None:
    applicant = {"withdrawal": "none", "ready": 8}
    assert mini.evaluate(applicant, as_of=datetime.date(2026, 1, 10)).to_json() == (
        mini.evaluate(applicant).to_json()
    )


def test_value_labels_are_in_the_input_contract(mini_v2: Ruleset) -> None:
    fields = {f.name: f for f in mini_v2.inputs}
    assert fields["housing"].label_of("none") == "No housing"
    assert fields["injects"].label_of(True) == "Yes"
    assert fields["ready"].label_of(3) is None
    schema = mini_v2.input_schema()["properties"]
    assert schema["housing"]["x-value-labels"]["temporary"] == "Temporary housing"
    assert schema["injects"]["x-value-labels"] == {"true": "Yes", "false": "No"}
    assert schema["screening_date"]["format"] == "date"
    assert fields["screening_date"].reserved


def test_v2_instrument_answers_codes_and_instructions(mini_v2: Ruleset) -> None:
    (instrument,) = mini_v2.compiled.instruments
    assert instrument.instructions is not None
    assert instrument.instructions.startswith("Over the last 2 weeks")
    q1 = instrument.answer_options["scale.q1"]
    assert [(a.value, a.label, a.loinc, a.score) for a in q1][:2] == [
        (0, "Not at all", "LA6568-5", 0),
        (1, "Several days", "LA6569-3", 1),
    ]
    # q2 is reverse scored: the score of "Yes" is 0
    assert [(a.value, a.score) for a in instrument.answer_options["scale.q2"]] == [
        (True, 0),
        (False, 1),
    ]
    assert instrument.answer_options["scale.q3"][0].loinc == "LA32-8"
    assert instrument.licence["copyright"].startswith("Written for")


REFERRED = {
    "withdrawal": "severe",
    "ready": 8,
    "injects": True,
    "housing": "none",
    "scale": {"q1": 2, "q2": True},
}


def test_explain_shows_advisories_and_answers_as_their_labels(mini_v2: Ruleset) -> None:
    text = mini_v2.evaluate(REFERRED).explain()
    assert "based on withdrawal = Severe withdrawal" in text
    assert "Harm-reduction services (other): Naloxone and information. [advisory, rule " in text
    assert "Advisories (whatever the outcome):" in text
    assert "based on injects = Yes" in text and "based on housing = No housing" in text
    undecided = mini_v2.evaluate({"ready": 8}).explain()
    assert "Advisories not decided for lack of answers (not applied):" in undecided
    assert "advise-harm-reduction (HARM_REDUCTION_INFO): missing injects" in undecided


def test_v1_explanations_show_plain_values(mini: Ruleset) -> None:
    text = mini.evaluate({"withdrawal": "severe"}).explain()
    assert "based on withdrawal = severe" in text
    assert "Advisories" not in text


def test_instrument_answers_are_shown_by_their_labels(mini_v2: Ruleset) -> None:
    from recovery_screening.explain import Outline

    labels = mini_v2.compiled.answer_labels
    assert labels["scale.q1"][2] == "More than half the days"
    assert labels["scale.q2"][True] == "Yes"
    assert 1 not in labels["scale.q2"]  # an answer 1 is not `true`
    assert Outline.answer.__doc__


def test_a_v2_decision_asks_each_needed_answer_as_its_question() -> None:
    intake = load_ruleset("peer-support-intake@1.1.0")
    applicant = json.loads((REPO / "examples/applicants/intake-1.1/defer-missing.json").read_text())
    del applicant["phq9"]["q9"]
    decision = intake.evaluate(applicant)
    data = json.loads(decision.to_json())
    assert [q["input"] for q in data["needed_questions"]] == data["needs"] == list(decision.needs)
    asked = {q["input"]: q for q in data["needed_questions"]}
    assert asked["overdose_last_90_days"] == {
        "input": "overdose_last_90_days",
        "label": "Have you overdosed in the last 90 days?",
        "instructions": None,
    }
    assert asked["phq9.q9"]["label"] == (
        "Thoughts that you would be better off dead, or of hurting yourself in some way"
    )
    assert asked["phq9.q9"]["instructions"] == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert decision.model.needed_questions is not None
    assert decision.model.model_dump_json() == decision.to_json()
    jsonschema.Draft202012Validator(decision_json_schema()).validate(data)
