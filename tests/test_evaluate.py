"""Decision semantics: three-valued logic, fail-safe, most protective wins, full explanations."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pytest
from pydantic import BaseModel
from tests.conftest import COMPLETE_MINI

from recovery_screening import DecisionModel, InvalidApplicant, Ruleset


def with_(**changes: object) -> dict[str, object]:
    applicant: dict[str, object] = json.loads(json.dumps(COMPLETE_MINI))
    for key, value in changes.items():
        if value is ...:
            applicant.pop(key, None)
        else:
            applicant[key] = value
    return applicant


def test_complete_applicant_is_admitted_with_continuing_support(mini: Ruleset) -> None:
    decision = mini.evaluate(COMPLETE_MINI)
    assert decision.outcome == "admit"
    assert decision.deciding == ("default",)
    assert decision.needs == ()
    assert decision.referral_targets == ("peer-group",)
    model = decision.model
    assert [reason.code for reason in model.reasons] == ["ADMIT_OK"]
    motivation = decision.domain("motivation")
    assert motivation.score == 3
    assert motivation.band == "high"
    assert [(c.rule, c.points) for c in motivation.contributions] == [
        ("mot-ready", 2),
        ("mot-attends", 1),
    ]
    assert motivation.contributions[0].evidence == {"ready": 8}


def test_most_protective_outcome_wins_and_all_applicable_rules_are_reported(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(withdrawal="severe", ready=1, attends=False))
    assert decision.outcome == "refer"
    assert decision.deciding == ("refer-withdrawal",)
    codes = {reason.code: reason.deciding for reason in decision.reasons}
    assert codes == {"WITHDRAWAL": True, "LOW_MOTIVATION": False}
    assert decision.referral_targets == ("withdrawal-care",)
    assert decision.rescreen_after_days is None


def test_missing_safety_critical_answer_prevents_admit(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(withdrawal=...))
    assert decision.outcome == "defer"
    assert decision.deciding == ("incomplete",)
    assert decision.needs == ("withdrawal",)
    assert decision.rescreen_after_days == 7
    assert [u.rule for u in decision.undecided] == ["refer-withdrawal"]


def test_null_is_the_same_as_missing(mini: Ruleset) -> None:
    assert (
        mini.evaluate(with_(withdrawal=None)).to_json()
        == mini.evaluate(with_(withdrawal=...)).to_json()
    )


def test_band_known_despite_missing_answer_when_every_score_is_in_one_band(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(attends=...))
    motivation = decision.domain("motivation")
    assert motivation.score is None
    assert motivation.score_range == [2, 3]
    assert motivation.band == "high"
    assert motivation.undecided == ["mot-attends"]
    assert decision.outcome == "admit"


def test_unknown_band_blocks_admit_and_names_the_answers(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(ready=...))
    assert decision.domain("motivation").band is None
    assert decision.outcome == "defer"
    assert decision.needs == ("ready",)


def test_missing_item_that_cannot_change_the_outcome_still_admits(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(scale={"q1": 3, "q3": 0}))
    scale = decision.instruments[0]
    assert scale.total is None
    risk = decision.domain("risk")
    assert (risk.score, risk.score_range, risk.band) == (None, [0, 1], None)
    assert decision.outcome == "admit"
    assert decision.needs == ()


def test_missing_item_that_could_change_the_outcome_is_needed(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(scale={"q1": 3, "q3": 0}, violent=...))
    assert decision.outcome == "defer"
    assert decision.needs == ("scale.q2", "violent")
    assert [(u.rule, u.missing) for u in decision.undecided] == [
        ("refer-risk", ["scale.q2", "violent"])
    ]


def test_instrument_scoring_reverse_and_choice(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(scale={"q1": 2, "q2": False, "q3": 2}))
    scale = decision.instruments[0]
    assert (scale.total, scale.band, scale.subscores) == (5, "high", {"first_two": 3})
    assert decision.domain("risk").score == 1


def test_refer_is_not_blocked_by_missing_answers(mini: Ruleset) -> None:
    decision = mini.evaluate({"withdrawal": "moderate"})
    assert decision.outcome == "refer"
    assert decision.needs == ()


def test_defer_lists_answers_that_could_make_it_refer(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(ready=0, attends=False, withdrawal=...))
    assert decision.outcome == "defer"
    assert decision.deciding == ("defer-motivation",)
    assert decision.needs == ("withdrawal",)
    assert decision.rescreen_after_days == 30


def test_max_aggregation_and_date_arithmetic(mini: Ruleset) -> None:
    decision = mini.evaluate(with_(violent=True, last_use="2025-03-01", screened_on="2025-03-02"))
    assert decision.domain("risk").score == 3
    assert decision.outcome == "refer"
    reasons = {reason.code for reason in decision.reasons}
    assert reasons == {"RISK", "RECENT_USE"}
    recent = next(r for r in decision.reasons if r.code == "RECENT_USE")
    assert recent.evidence == {"last_use": "2025-03-01", "screened_on": "2025-03-02"}


def test_json_is_deterministic_and_matches_the_model(mini: Ruleset) -> None:
    first = mini.evaluate(with_(ready=...)).to_json()
    second = mini.evaluate(with_(ready=...)).to_json()
    assert first == second
    model = DecisionModel.model_validate_json(first)
    assert json.loads(first) == model.model_dump(mode="json")
    assert json.loads(first)["ruleset"]["content_hash"].startswith("sha256:")


def test_explain_is_readable(mini: Ruleset) -> None:
    text = mini.evaluate(with_(withdrawal="severe")).explain()
    assert text.startswith("Outcome: REFER")
    assert "Withdrawal needs care. [WITHDRAWAL, rule refer-withdrawal]" in text
    assert "Withdrawal care (clinical-care): Medical care first." in text
    assert "Ruleset mini 1.0.0" in text


def test_accepts_pydantic_models_and_dataclasses(mini: Ruleset) -> None:
    class Answers(BaseModel):
        withdrawal: str | None = None
        ready: int | None = None

    @dataclass
    class Plain:
        withdrawal: str
        ready: int

    from_model = mini.evaluate(Answers(withdrawal="severe", ready=3))
    from_dataclass = mini.evaluate(Plain(withdrawal="severe", ready=3))
    from_dict = mini.evaluate({"withdrawal": "severe", "ready": 3})
    assert from_model.to_json() == from_dataclass.to_json() == from_dict.to_json()


@pytest.mark.parametrize(
    ("applicant", "path", "code"),
    [
        ({"withdrawal": "sevre"}, "$.withdrawal", "allowed-values"),
        ({"ready": True}, "$.ready", "type"),
        ({"ready": 7.0}, "$.ready", "type"),
        ({"ready": 11}, "$.ready", "range"),
        ({"attends": 1}, "$.attends", "type"),
        ({"weight": float("nan")}, "$.weight", "type"),
        ({"weight": 2}, "$.weight", "range"),
        ({"last_use": "2025-02-30"}, "$.last_use", "type"),
        ({"last_use": "yesterday"}, "$.last_use", "type"),
        ({"note_code": "x" * 9}, "$.note_code", "max-length"),
        ({"nickname": "x"}, "$.nickname", "unknown-field"),
        ({"scale": {"q9": 1}}, "$.scale.q9", "unknown-field"),
        ({"scale": {"q3": 3}}, "$.scale.q3", "allowed-values"),
        ({"scale": {"q2": 0}}, "$.scale.q2", "type"),
        ({"scale": [1, 2]}, "$.scale", "type"),
    ],
)
def test_invalid_answers_name_field_and_rule_not_value(
    mini: Ruleset, applicant: dict[str, object], path: str, code: str
) -> None:
    with pytest.raises(InvalidApplicant) as raised:
        mini.evaluate(applicant)
    problems = raised.value.problems
    assert [(p.path, p.code) for p in problems] == [(path, code)]
    assert "mini" in str(raised.value)


def test_every_bad_field_is_reported(mini: Ruleset) -> None:
    with pytest.raises(InvalidApplicant) as raised:
        mini.evaluate({"withdrawal": "x", "ready": "8", "other": 1})
    assert raised.value.fields == ("$.withdrawal", "$.ready", "$.other")


def test_non_mapping_applicant(mini: Ruleset) -> None:
    with pytest.raises(InvalidApplicant):
        mini.evaluate(["not", "a", "mapping"])


def test_evaluation_is_thread_safe(mini: Ruleset) -> None:
    applicants = [with_(ready=r, attends=r % 2 == 0) for r in range(11)]
    expected = [mini.evaluate(a).to_json() for a in applicants]
    results: list[list[str]] = []

    def work() -> None:
        results.append([mini.evaluate(a).to_json() for a in applicants * 20][: len(applicants)])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(result == expected for result in results)


def test_first_hit_policy(tmp_path: object) -> None:
    import yaml
    from tests.conftest import FIXTURE_RULESETS

    from recovery_screening import load_document

    document = yaml.safe_load((FIXTURE_RULESETS / "mini" / "1.0.0.yaml").read_text())
    document["hit_policy"] = "first"
    document["decisions"].insert(
        0,
        {"id": "admit-very-ready", "when": "ready == 10", "outcome": "admit",
         "code": "VERY_READY", "text": "Very ready."},
    )  # fmt: skip
    ruleset = load_document(document, rulesets_dir=FIXTURE_RULESETS)
    decision = ruleset.evaluate(with_(ready=10, withdrawal="severe"))
    assert decision.outcome == "admit"
    assert decision.deciding == ("admit-very-ready",)
    blocked = ruleset.evaluate(with_(ready=..., withdrawal="none"))
    assert blocked.outcome == "defer"
