"""RiskAssessment and CDS Hooks cards: valid resources and cards that say what the decision says."""

from __future__ import annotations

import datetime
import html
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest
from tests.conftest import FIXTURES, REPO
from tests.interchange.shared import CASES, ruleset_at

from recovery_screening import Decision, Ruleset
from recovery_screening.interchange import to_cds_card, to_fhir_risk_assessment
from recovery_screening.interchange.fhir_out import PART2_LABEL

CARD_SCHEMA = json.loads((FIXTURES / "cds-hooks-card.schema.json").read_text())


def _example(intake: Ruleset, name: str) -> Decision:
    return intake.evaluate(json.loads((REPO / "examples" / "applicants" / name).read_text()))


def _validate_card(card: dict[str, Any]) -> None:
    jsonschema.validate(card, CARD_SCHEMA, format_checker=jsonschema.FormatChecker())
    for suggestion in card.get("suggestions", []):
        for action in suggestion.get("actions", []):
            ServiceRequest.model_validate(action["resource"])


@pytest.mark.parametrize(("path", "index"), CASES)
def test_every_embedded_case_gives_a_valid_assessment_and_card(path: Path, index: int) -> None:
    ruleset = ruleset_at(path)
    decision = ruleset.evaluate(ruleset.tests[index]["applicant"])
    assessment = to_fhir_risk_assessment(decision, subject="Patient/p1", occurrence="2026-11-25")
    RiskAssessment.model_validate(assessment)
    _check_narrative(assessment)
    _validate_card(to_cds_card(decision, source="Peer program", subject="Patient/p1"))
    _validate_card(to_cds_card(decision))


def test_risk_assessment_maps_the_decision(intake: Ruleset) -> None:
    decision = _example(intake, "refer-safety.json")
    assessment = to_fhir_risk_assessment(
        decision,
        subject="Patient/p1",
        occurrence=datetime.datetime(2026, 11, 25, 9, 30, tzinfo=datetime.timezone.utc),
        basis="QuestionnaireResponse/qr-1",
    )
    assert assessment["status"] == "final"
    assert assessment["subject"] == {"reference": "Patient/p1"}
    assert assessment["occurrenceDateTime"] == "2026-11-25T09:30:00+00:00"
    assert assessment["basis"] == [{"reference": "QuestionnaireResponse/qr-1"}]
    assert {(s["system"].rsplit("/", 1)[1], s["code"]) for s in assessment["meta"]["security"]} == {
        ("v3-ActCode", "ETH"), ("v3-Confidentiality", "R"),
    }  # fmt: skip
    assert assessment["method"]["coding"][0]["code"] == "peer-support-intake"
    assert decision.ruleset_hash in assessment["method"]["text"]
    outcome, *rest = assessment["prediction"]
    assert outcome["outcome"]["coding"][0]["code"] == "refer"
    assert outcome["rationale"].startswith("SELF_HARM_THOUGHTS: ")
    domains = rest[: len(decision.domains)]
    assert [p["outcome"]["coding"][0]["code"] for p in domains] == [
        domain.name for domain in decision.domains
    ]
    assert [p["qualitativeRisk"]["coding"][0]["code"] for p in domains] == [
        domain.band for domain in decision.domains
    ]
    assert "Same-day safety assessment" in assessment["mitigation"]


def test_unknown_bands_and_needs_are_stated(intake: Ruleset) -> None:
    decision = _example(intake, "defer-missing.json")
    assessment = to_fhir_risk_assessment(decision, subject={"reference": "Patient/p2"})
    assert "occurrenceDateTime" not in assessment
    assert "Answers still needed" in assessment["note"][0]["text"]
    unknown = [p for p in assessment["prediction"][1:] if "qualitativeRisk" not in p]
    assert all("band unknown" in p["rationale"] for p in unknown if "score" in p["rationale"])


def test_a_naive_datetime_is_refused(intake: Ruleset) -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_fhir_risk_assessment(
            _example(intake, "admit.json"),
            subject="Patient/p1",
            occurrence=datetime.datetime(2026, 11, 25, 9, 30),
        )


@pytest.mark.parametrize(
    ("name", "indicator"),
    [("admit.json", "info"), ("defer-motivation.json", "warning"),
     ("defer-missing.json", "warning"), ("refer-withdrawal.json", "critical")],
)  # fmt: skip
def test_card_indicator_follows_the_outcome(intake: Ruleset, name: str, indicator: str) -> None:
    card = to_cds_card(_example(intake, name), source="Peer program")
    _validate_card(card)
    assert card["indicator"] == indicator
    assert len(card["summary"]) < 140
    assert card["source"] == {"label": "Peer program"}


def test_card_suggests_each_referral(intake: Ruleset) -> None:
    decision = _example(intake, "refer-withdrawal.json")
    card = to_cds_card(
        decision,
        source={"label": "Peer program", "url": "https://example.org"},
        subject="Patient/p1",
    )
    targets = [r.title for r in decision.referrals]
    assert [s["label"] for s in card["suggestions"]] == [f"Refer: {t}" for t in targets]
    assert card["selectionBehavior"] == "any"
    request = card["suggestions"][0]["actions"][0]["resource"]
    assert (request["resourceType"], request["status"], request["intent"]) == (
        "ServiceRequest", "draft", "proposal",
    )  # fmt: skip
    assert request["subject"] == {"reference": "Patient/p1"}
    assert card == to_cds_card(
        decision,
        source={"label": "Peer program", "url": "https://example.org"},
        subject="Patient/p1",
    )


def test_card_detail_is_the_explanation_in_markdown(intake: Ruleset) -> None:
    decision = _example(intake, "refer-safety.json")
    detail = to_cds_card(decision)["detail"]
    assert detail.startswith("**Outcome: refer** (Another service first)")
    for reason in decision.reasons:
        if reason.deciding:
            assert f"(`{reason.code}`)" in detail
    assert "| Domain | Score | Band |" in detail
    assert to_cds_card(decision)["source"]["label"].startswith("recovery-screening ")


def test_summary_is_cut_below_140_characters(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples/applicants/refer-safety.json").read_text())
    applicant.update(withdrawal_severity="severe", intoxicated_now=True, psychosis_symptoms=True,
                     violence_last_12_months=True, current_suicidal_intent=True)  # fmt: skip
    card = to_cds_card(intake.evaluate(applicant))
    assert len(card["summary"]) == 139
    assert card["summary"].endswith("…")


MINI_V2 = FIXTURES / "rulesets" / "mini-v2" / "1.0.0.yaml"
REFERRED_V2 = {"withdrawal": "severe", "ready": 8, "injects": True, "housing": "none",
               "scale": {"q1": 2, "q2": True}}  # fmt: skip


def test_v2_card_offers_advisory_referrals_and_lists_advisories() -> None:
    from recovery_screening import load_ruleset

    decision = load_ruleset(MINI_V2).evaluate(REFERRED_V2)
    card = to_cds_card(decision, subject="Patient/p1")
    _validate_card(card)
    labels = [(s["label"], s["isRecommended"]) for s in card["suggestions"]]
    assert labels == [
        ("Refer: Withdrawal care", True),
        ("Refer: Primary care check", True),
        ("Offer: Harm-reduction services", True),
        ("Offer: Peer group", True),
    ]
    assert "**Advisories** (whatever the outcome)" in card["detail"]
    assert "`injects` = Yes" in card["detail"]
    assert "**Harm-reduction services** (other) — advisory" in card["detail"]
    calm = {"withdrawal": "none", "housing": "stable", "scale": {"q1": 0, "q2": True, "q3": 0}}
    admitted = load_ruleset(MINI_V2).evaluate({**REFERRED_V2, **calm})
    offers = to_cds_card(admitted)["suggestions"]
    # an admit: its own referral is not pressed, the advisory one is
    assert [(s["label"], s["isRecommended"]) for s in offers] == [
        ("Refer: Peer group", False),
        ("Offer: Harm-reduction services", True),
    ]


def test_v2_risk_assessment_carries_advisories() -> None:
    from recovery_screening import load_ruleset

    decision = load_ruleset(MINI_V2).evaluate(REFERRED_V2)
    assessment = to_fhir_risk_assessment(decision, subject="Patient/p1")
    assert "Also offer Harm-reduction services (other, advisory)" in assessment["mitigation"]
    assert assessment["mitigation"].startswith("Refer to Withdrawal care")
    note = assessment["note"][0]["text"]
    assert "Advisories, whatever the outcome: HARM_REDUCTION_INFO: Naloxone" in note


# R4 (4.0.1) "All Security Labels" (extensible on Meta.security) is the union of these value
# sets; the codes below are those of R4's expansions that the library may send. ActCode
# 42CFRPart2 is not among them: R4's v3-ActUSPrivacyLaw value set has no concepts (content moved
# to ActCode, outside the R4 union). Sources: hl7.org/fhir/R4/valueset-security-labels.html,
# hl7.org/fhir/R4/v3/ActUSPrivacyLaw/vs.html, hl7.org/fhir/R4/v3/InformationSensitivityPolicy.
R4_SECURITY_LABELS = {
    ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", code)
    for code in ("U", "L", "M", "N", "R", "V")
} | {
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", code)
    for code in ("ETH", "GDIS", "HIV", "PSY", "SCA", "SDV", "SEX", "STD", "TBOO")
}


@pytest.mark.parametrize(("path", "index"), CASES[:: max(1, len(CASES) // 25)])
def test_security_labels_are_in_r4s_value_set(path: Path, index: int) -> None:
    ruleset = ruleset_at(path)
    assessment = to_fhir_risk_assessment(
        ruleset.evaluate(ruleset.tests[index]["applicant"]), subject="Patient/p1"
    )
    labels = {(label["system"], label["code"]) for label in assessment["meta"]["security"]}
    assert labels <= R4_SECURITY_LABELS
    assert ("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R") in labels
    assert (PART2_LABEL["system"], PART2_LABEL["code"]) not in R4_SECURITY_LABELS


def test_a_host_may_add_the_42_cfr_part_2_label(intake: Ruleset) -> None:
    assessment = to_fhir_risk_assessment(_example(intake, "admit.json"), subject="Patient/p1")
    assessment["meta"]["security"].append(dict(PART2_LABEL))
    RiskAssessment.model_validate(assessment)


def _narrative_text(div: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", div))


def _check_narrative(assessment: dict[str, Any]) -> None:
    """A generated narrative made only of the assessment's own texts, labels and separators."""
    text = assessment["text"]
    assert text["status"] == "generated"
    assert text["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml"><h3>')
    shown = _narrative_text(text["div"])
    assert assessment["prediction"][0]["outcome"]["text"] in shown
    own = [assessment["method"]["text"], assessment.get("mitigation", "")]
    own.extend(note["text"] for note in assessment.get("note", []))
    for prediction in assessment["prediction"]:
        own.append(prediction["outcome"]["text"])
        own.append(prediction.get("rationale", ""))
        own.append(prediction.get("qualitativeRisk", {}).get("text", ""))
    for phrase in sorted((p for p in own if p), key=len, reverse=True):
        shown = shown.replace(phrase, " ")
    for label in ("Because", "Referrals", "Note", "Method"):
        shown = shown.replace(label, " ")
    assert set(shown) <= set(" :()"), shown


def test_the_narrative_holds_no_answer_the_resource_does_not(mini: Ruleset) -> None:
    from tests.conftest import COMPLETE_MINI

    secret = "ZQX-71"
    decision = mini.evaluate({**COMPLETE_MINI, "note_code": secret})
    assessment = to_fhir_risk_assessment(decision, subject="Patient/p1")
    assert secret not in json.dumps(assessment)
