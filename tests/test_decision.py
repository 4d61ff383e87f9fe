"""`Decision`: the cheap answers from the trace, one explanation in every form, the canonical
applicant."""

from __future__ import annotations

import json

import pytest
from tests.conftest import COMPLETE_MINI

from recovery_screening import Ruleset
from recovery_screening.models import DecisionModel


def test_the_cheap_answers_come_from_the_trace(mini: Ruleset) -> None:
    decision = mini.evaluate(COMPLETE_MINI)
    trace = decision.trace
    assert decision.outcome == "admit" and trace.rank == 0
    assert decision.deciding == ("default",) and trace.deciding == ()
    assert (decision.ruleset_id, decision.ruleset_version) == (mini.id, mini.version)
    assert decision.ruleset_hash == mini.content_hash
    assert decision.backend == "native"
    assert repr(decision) == f"<Decision admit by default ({mini.id} {mini.version})>"


def test_one_explanation_in_every_form(mini: Ruleset) -> None:
    decision = mini.evaluate(COMPLETE_MINI)
    assert decision.model_dump() == decision.to_dict()
    assert decision.model_dump_json() == decision.to_json()
    assert DecisionModel.model_validate_json(decision.to_json()) == decision.model
    assert json.loads(decision.to_json()) == decision.to_dict()


def test_equal_decisions_compare_equal(mini: Ruleset) -> None:
    assert mini.evaluate(COMPLETE_MINI) == mini.evaluate(dict(COMPLETE_MINI))
    assert mini.evaluate(COMPLETE_MINI) != mini.evaluate({**COMPLETE_MINI, "ready": 1})


def test_domain_lookup(mini: Ruleset) -> None:
    decision = mini.evaluate(COMPLETE_MINI)
    assert decision.domain("motivation").name == "motivation"
    with pytest.raises(KeyError):
        decision.domain("no-such-domain")


def test_the_canonical_applicant_keeps_only_answers_and_nests_items(mini: Ruleset) -> None:
    applicant = {
        **COMPLETE_MINI,
        "violent": None,
        "scale": {"q1": 0, "q2": True, "q3": None},
        "last_use": "2026-01-05",
    }
    canonical = mini.evaluate(applicant).applicant()
    assert "violent" not in canonical
    assert canonical["scale"] == {"q1": 0, "q2": True}
    assert canonical["last_use"] == "2026-01-05"
    assert mini.evaluate(canonical).to_json() == mini.evaluate(applicant).to_json()


def test_the_lazily_reexported_model_names_are_the_models_public_names() -> None:
    """decision.py keeps the names as a literal so that importing it loads no pydantic."""
    from recovery_screening import decision, models

    assert set(decision._MODEL_NAMES) == set(models.__all__) - {"NODES"}
