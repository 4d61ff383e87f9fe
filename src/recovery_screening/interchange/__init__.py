"""Clinic interchange: FHIR Questionnaire / QuestionnaireResponse in, RiskAssessment and CDS Hooks
cards out, and a CDS Hooks service.

The FHIR side needs the `fhir` extra (`pip install ".[fhir]"` from a checkout), the service the
`server` extra; both are imported only when used, so the core never needs them.
"""

from __future__ import annotations

from recovery_screening.errors import MissingExtra
from recovery_screening.interchange.cds import to_cds_card
from recovery_screening.interchange.fhir_in import from_questionnaire_response
from recovery_screening.interchange.fhir_out import to_fhir_risk_assessment
from recovery_screening.interchange.questionnaire import (
    to_fhir_questionnaire,
    to_questionnaire_response,
)

__all__ = [
    "MissingExtra",
    "from_questionnaire_response",
    "to_cds_card",
    "to_fhir_questionnaire",
    "to_fhir_risk_assessment",
    "to_questionnaire_response",
]
