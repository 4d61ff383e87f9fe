"""A decision as an R4 RiskAssessment, labelled for 42 CFR Part 2 (restricted confidentiality).

The first prediction is the screening outcome with its deciding reasons as rationale; then one
prediction per scored domain and per banded instrument, with the band as `qualitativeRisk`.
Referrals become `mitigation`; answers still needed become a `note`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.interchange._extras import BASE_URL, validated

if TYPE_CHECKING:
    from recovery_screening.decision import Decision

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
SECURITY_LABELS = (
    {"system": ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"},
)
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


# Too branchy (C901), and being replaced by the shared outline of sections (issue 11, item 1).
def to_fhir_risk_assessment(  # noqa: C901
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
    ruleset = model.ruleset
    label = model.outcome_label or model.outcome
    resource: dict[str, Any] = {"resourceType": "RiskAssessment"}
    if resource_id is not None:
        resource["id"] = resource_id
    resource["meta"] = {"security": [dict(label_) for label_ in SECURITY_LABELS]}
    resource["status"] = "final"
    resource["method"] = {
        "coding": [
            {
                "system": RULESET_SYSTEM,
                "version": ruleset.version,
                "code": ruleset.id,
                "display": f"{ruleset.id} {ruleset.version}",
            }
        ],
        "text": f"{ruleset.id} {ruleset.version} ({ruleset.content_hash}), "
        f"{model.engine.name} {model.engine.version}",
    }
    resource["subject"] = _reference(subject)
    if occurrence is not None:
        resource["occurrenceDateTime"] = _occurrence(occurrence)
    if basis is not None:
        references = [basis] if isinstance(basis, (str, Mapping)) else list(basis)
        resource["basis"] = [_reference(reference) for reference in references]
    deciding = [reason for reason in model.reasons if reason.deciding]
    predictions: list[dict[str, Any]] = [
        {
            "outcome": {
                "coding": [{"system": OUTCOME_SYSTEM, "code": model.outcome, "display": label}],
                "text": f"Screening outcome: {model.outcome} ({label})",
            },
            "rationale": _sentences([f"{reason.code}: {reason.text}" for reason in deciding]),
        }
    ]
    for domain in model.domains:
        prediction: dict[str, Any] = {
            "outcome": {
                "coding": [
                    {
                        "system": f"{BASE_URL}/CodeSystem/{ruleset.id}/domain",
                        "code": domain.name,
                        "display": domain.title,
                    }
                ],
                "text": domain.title,
            }
        }
        if domain.band is not None:
            prediction["qualitativeRisk"] = {
                "coding": [
                    {
                        "system": f"{BASE_URL}/CodeSystem/{ruleset.id}/{domain.name}-band",
                        "code": domain.band,
                    }
                ],
                "text": domain.band.replace("_", " "),
            }
        low, high = domain.score_range
        score = f"score {domain.score}" if domain.score is not None else f"score {low} to {high}"
        parts = [f"{score} (band {domain.band or 'unknown'})"]
        parts.extend(f"{part.points:+d} {part.code}" for part in domain.contributions)
        if domain.undecided:
            parts.append(f"not decided: {', '.join(domain.undecided)}")
        prediction["rationale"] = "; ".join(parts)
        predictions.append(prediction)
    for instrument in model.instruments:
        if instrument.band is None and instrument.total is None:
            continue
        entry: dict[str, Any] = {
            "outcome": {"text": f"{instrument.title} ({instrument.id} {instrument.version})"}
        }
        if instrument.band is not None:
            entry["qualitativeRisk"] = {
                "coding": [
                    {
                        "system": f"{BASE_URL}/CodeSystem/{instrument.id}/band",
                        "code": instrument.band,
                    }
                ],
                "text": instrument.band.replace("_", " "),
            }
        low, high = instrument.total_range
        flags = [flag.code for flag in instrument.flags]
        entry["rationale"] = f"total {instrument.total} of {low}-{high}" + (
            f"; flags: {', '.join(flags)}" if flags else ""
        )
        predictions.append(entry)
    resource["prediction"] = predictions
    if model.referrals:
        resource["mitigation"] = _sentences(
            [
                f"Refer to {referral.title} ({referral.kind})"
                + (f": {referral.text}" if referral.text else "")
                for referral in model.referrals
            ]
        )
    notes = []
    if model.needs:
        needed = ", ".join(model.needs)
        notes.append(f"Answers still needed (they could change the outcome): {needed}.")
    if model.rescreen_after_days is not None:
        notes.append(f"Re-screen after {model.rescreen_after_days} days.")
    if notes:
        resource["note"] = [{"text": " ".join(notes)}]
    return validated(resource)


__all__ = ["SECURITY_LABELS", "to_fhir_risk_assessment"]
