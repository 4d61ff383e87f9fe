"""A decision as an R4 RiskAssessment, labelled restricted and substance-use sensitive.

The first prediction is the screening outcome with its deciding reasons as rationale; then one
prediction per scored domain and per banded instrument, with the band as `qualitativeRisk`.
Referrals become `mitigation`; answers still needed become a `note`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.explain import Outline, render
from recovery_screening.interchange._extras import BASE_URL, validated
from recovery_screening.interchange._narrative import Narrative

if TYPE_CHECKING:
    from recovery_screening.decision import Decision
    from recovery_screening.models import (
        AdvisoryApplied,
        AdvisoryUndecided,
        DomainScore,
        EngineRef,
        InstrumentScore,
        Reason,
        Referral,
        RulesetRef,
        UndecidedRule,
    )
    from recovery_screening.next_steps import NextSteps

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SECURITY_LABELS = (
    {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
    {"system": ACT_CODE, "code": "ETH", "display": "substance abuse information sensitivity"},
)
"""`meta.security` of every RiskAssessment: both codes are in R4's extensible "All Security
Labels" value set (v3-ConfidentialityClassification and v3-InformationSensitivityPolicy).
ActCode `42CFRPart2` is not: R4's v3-ActUSPrivacyLaw value set is empty, so an R4 validator
flags it. A host whose partners expect the law itself adds `PART2_LABEL` (docs/interchange.md)."""
PART2_LABEL = {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"}
OUTCOME_SYSTEM = f"{BASE_URL}/CodeSystem/screening-outcome"
RULESET_SYSTEM = f"{BASE_URL}/ruleset"

Reference = str | Mapping[str, Any]


def _reference(reference: Reference) -> dict[str, Any]:
    return {"reference": reference} if isinstance(reference, str) else dict(reference)


def _occurrence(occurrence: str | datetime.date | datetime.datetime) -> str:
    if isinstance(occurrence, datetime.datetime):
        if occurrence.tzinfo is None:
            raise ValueError("occurrence needs a time zone (FHIR dateTime with a time)")
        return occurrence.isoformat()
    if isinstance(occurrence, datetime.date):
        return occurrence.isoformat()
    return occurrence


def _sentences(parts: Sequence[str]) -> str:
    return " ".join(part if part.endswith((".", "!", "?")) else f"{part}." for part in parts)


class _RiskAssessment(Outline):
    """The explanation's outline as the parts of a RiskAssessment: the outcome and its deciding
    reasons are the first prediction, each domain and banded instrument one more; referrals are
    the mitigation; needs and re-screening the note; the ruleset and engine the method."""

    def __init__(self, ruleset_id: str) -> None:
        self.ruleset_id = ruleset_id
        self.predictions: list[dict[str, Any]] = []
        self.mitigation: list[str] = []
        self.notes: list[str] = []
        self.method: dict[str, Any] = {}
        self._outcome: dict[str, Any] = {}

    def outcome(self, outcome: str, label: str | None) -> None:
        shown = label or outcome
        self._outcome = {
            "coding": [{"system": OUTCOME_SYSTEM, "code": outcome, "display": shown}],
            "text": f"Screening outcome: {outcome} ({shown})",
        }

    def because(self, reasons: list[Reason]) -> None:
        rationale = _sentences([f"{reason.code}: {reason.text}" for reason in reasons])
        self.predictions.append({"outcome": self._outcome, "rationale": rationale})

    def also_applies(self, reasons: list[Reason]) -> None:
        """Left out: a RiskAssessment states the outcome and why, not the rules it overrode."""

    def referrals(self, referrals: list[Referral]) -> None:
        self.mitigation = [
            (
                f"Also offer {referral.title} ({referral.kind}, advisory)"
                if referral.advisory
                else f"Refer to {referral.title} ({referral.kind})"
            )
            + (f": {referral.text}" if referral.text else "")
            for referral in referrals
        ]

    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        """Applied advisories go in the note (their referrals are in the mitigation); undecided
        ones are left out: they apply to nothing yet and need nothing for the outcome."""
        if applied:
            advice = _sentences([f"{advice.code}: {advice.text}" for advice in applied])
            self.notes.append(f"Advisories, whatever the outcome: {advice}")

    def needs(self, needs: list[str]) -> None:
        needed = ", ".join(needs)
        self.notes.append(f"Answers still needed (they could change the outcome): {needed}.")

    def rescreen(self, days: int) -> None:
        self.notes.append(f"Re-screen after {days} days.")

    def next_steps(self, steps: NextSteps) -> None:
        """Left out: the resource is built from the decision alone and costs no search; its
        mitigation is the referrals."""

    def undecided(self, rules: list[UndecidedRule]) -> None:
        """Left out: the answers they lack are in the note, the domains' open rules in theirs."""

    def domains(self, domains: list[DomainScore]) -> None:
        self.predictions.extend(self._domain(domain) for domain in domains)

    def _domain(self, domain: DomainScore) -> dict[str, Any]:
        ruleset = self.ruleset_id
        prediction: dict[str, Any] = {
            "outcome": {
                "coding": [
                    {
                        "system": f"{BASE_URL}/CodeSystem/{ruleset}/domain",
                        "code": domain.name,
                        "display": domain.title,
                    }
                ],
                "text": domain.title,
            }
        }
        if domain.band is not None:
            prediction["qualitativeRisk"] = _band(
                f"{BASE_URL}/CodeSystem/{ruleset}/{domain.name}-band", domain.band
            )
        low, high = domain.score_range
        score = f"score {domain.score}" if domain.score is not None else f"score {low} to {high}"
        parts = [f"{score} (band {domain.band or 'unknown'})"]
        parts.extend(f"{part.points:+d} {part.code}" for part in domain.contributions)
        if domain.undecided:
            parts.append(f"not decided: {', '.join(domain.undecided)}")
        prediction["rationale"] = "; ".join(parts)
        return prediction

    def instruments(self, instruments: list[InstrumentScore]) -> None:
        for instrument in instruments:
            if instrument.band is None and instrument.total is None:
                continue
            entry: dict[str, Any] = {
                "outcome": {"text": f"{instrument.title} ({instrument.id} {instrument.version})"}
            }
            if instrument.band is not None:
                entry["qualitativeRisk"] = _band(
                    f"{BASE_URL}/CodeSystem/{instrument.id}/band", instrument.band
                )
            low, high = instrument.total_range
            flags = [flag.code for flag in instrument.flags]
            entry["rationale"] = f"total {instrument.total} of {low}-{high}" + (
                f"; flags: {', '.join(flags)}" if flags else ""
            )
            self.predictions.append(entry)

    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        self.method = {
            "coding": [
                {
                    "system": RULESET_SYSTEM,
                    "version": ruleset.version,
                    "code": ruleset.id,
                    "display": f"{ruleset.id} {ruleset.version}",
                }
            ],
            "text": f"{ruleset.id} {ruleset.version} ({ruleset.content_hash}), "
            f"{engine.name} {engine.version}",
        }


def _band(system: str, band: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": band}], "text": band.replace("_", " ")}


def to_fhir_risk_assessment(
    decision: Decision,
    *,
    subject: Reference,
    occurrence: str | datetime.date | datetime.datetime | None = None,
    basis: Reference | Sequence[Reference] | None = None,
    resource_id: str | None = None,
) -> dict[str, Any]:
    """The decision as an R4 RiskAssessment (JSON-ready), checked against the R4B models.

    `subject` is a reference such as "Patient/123"; `occurrence` when the screening happened
    (the library reads no clock); `basis` the QuestionnaireResponse(s) it was made from.
    """
    model = decision.model
    parts = _RiskAssessment(model.ruleset.id)
    render(model, parts)
    resource: dict[str, Any] = {"resourceType": "RiskAssessment"}
    if resource_id is not None:
        resource["id"] = resource_id
    resource["meta"] = {"security": [dict(label) for label in SECURITY_LABELS]}
    resource["text"] = {}  # filled in below, from the finished resource
    resource["status"] = "final"
    resource["method"] = parts.method
    resource["subject"] = _reference(subject)
    if occurrence is not None:
        resource["occurrenceDateTime"] = _occurrence(occurrence)
    if basis is not None:
        references = [basis] if isinstance(basis, (str, Mapping)) else list(basis)
        resource["basis"] = [_reference(reference) for reference in references]
    resource["prediction"] = parts.predictions
    if parts.mitigation:
        resource["mitigation"] = _sentences(parts.mitigation)
    if parts.notes:
        resource["note"] = [{"text": " ".join(parts.notes)}]
    resource["text"] = _narrative(resource)
    return validated(resource)


def _narrative(resource: Mapping[str, Any]) -> dict[str, str]:
    """The outcome and why, each domain's and instrument's result, the referrals, the note and
    the method: only what the RiskAssessment's own elements say."""
    outcome, *others = resource["prediction"]
    narrative = Narrative().heading(str(outcome["outcome"]["text"]))
    if outcome.get("rationale"):
        narrative.paragraph(str(outcome["rationale"]), label="Because")
    if "mitigation" in resource:
        narrative.paragraph(str(resource["mitigation"]), label="Referrals")
    for note in resource.get("note", []):
        narrative.paragraph(str(note["text"]), label="Note")
    lines = []
    for prediction in others:
        risk = prediction.get("qualitativeRisk", {}).get("text")
        shown = str(prediction["outcome"]["text"]) + (f" ({risk})" if risk else "")
        lines.append(f"{shown}: {prediction['rationale']}")
    narrative.items(lines)
    narrative.paragraph(str(resource["method"]["text"]), label="Method")
    return narrative.resource_text()


__all__ = ["PART2_LABEL", "SECURITY_LABELS", "to_fhir_risk_assessment"]
