"""The explanation built once from the trace: dicts and pydantic models from one builder."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from recovery_screening import Decision, Ruleset, load_document, load_ruleset
from recovery_screening.models import NODES, DecisionModel, constructor
from recovery_screening.records.record import DecisionRecord, make_record

REPO = Path(__file__).parent.parent
FIXTURE_RULESETS = REPO / "tests" / "fixtures" / "rulesets"
APPLICANTS = sorted((REPO / "examples" / "applicants").glob("*.json"))


def _decisions(intake: Ruleset) -> list[Decision]:
    cohort = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()
    answers = [json.loads(path.read_text()) for path in APPLICANTS]
    answers += [json.loads(line) for line in itertools.islice(cohort, 200)]
    decisions = []
    for applicant in answers:
        if intake.applicant_problems(applicant):
            continue
        decisions.append(intake.evaluate(applicant))
    assert len(decisions) > 100
    mini_v2 = load_ruleset(FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml")
    for case in mini_v2.tests:
        applicant = case["applicant"]
        decisions.append(mini_v2.evaluate(applicant))
        for key in applicant:  # each answer left out once: undecided advisories too
            decisions.append(mini_v2.evaluate({k: v for k, v in applicant.items() if k != key}))
    return decisions


def _nodes(value: object) -> Iterator[BaseModel]:
    if isinstance(value, BaseModel):
        yield value
        for name in type(value).model_fields:
            yield from _nodes(getattr(value, name))
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def test_the_model_and_the_json_are_the_same_explanation(intake: Ruleset) -> None:
    for decision in _decisions(intake):
        assert decision.model.model_dump_json() == decision.to_json()
        assert decision.model.model_dump(mode="json") == decision.to_dict()


def test_the_builder_gives_every_required_field_of_every_node(intake: Ruleset) -> None:
    kinds: set[type[BaseModel]] = set()
    for decision in _decisions(intake):
        for node in _nodes(decision.model):
            kinds.add(type(node))
            fields = type(node).model_fields
            required = {name for name, field in fields.items() if field.is_required()}
            assert required <= node.model_fields_set, type(node).__name__
    assert kinds == set(NODES.values())


def test_constructor_makes_what_model_construct_makes(intake: Ruleset) -> None:
    draft = load_document({**intake.document, "version": "9.0.0"}, source="draft.yaml")
    answers = [json.loads(path.read_text()) for path in APPLICANTS]
    drafted = [draft.evaluate(applicant) for applicant in answers if "q1" not in applicant]
    for decision in _decisions(intake)[-20:] + drafted:
        for node in _nodes(decision.model):
            kind = type(node)
            fields = dict(node.__dict__)
            made = constructor(kind)(**fields)
            reference = kind.model_construct(**fields)
            assert made == reference
            assert made.model_fields_set == reference.model_fields_set
            assert made.model_dump_json() == reference.model_dump_json()
            assert made.__pydantic_extra__ == reference.__pydantic_extra__
            assert made.__pydantic_private__ == reference.__pydantic_private__


def test_neither_the_model_nor_a_record_is_validated_again(
    intake: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "refer-safety.json").read_text())
    expected = intake.evaluate(applicant)
    expected_record = make_record(expected, subject_ref="s-1", evaluated_at="2026-01-01T00:00Z")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(DecisionModel, "model_validate", refuse)
    monkeypatch.setattr(DecisionRecord, "model_validate", refuse)
    decision = intake.evaluate(applicant)
    assert isinstance(decision.model, DecisionModel)
    record = make_record(decision, subject_ref="s-1", evaluated_at="2026-01-01T00:00Z")
    assert record.decision is decision.model
    assert record.to_json() == expected_record.to_json()
    assert record.verify_hash()


def test_a_draft_says_so_in_the_model_and_the_json(intake: Ruleset) -> None:
    draft = load_document({**intake.document, "version": "9.0.0"}, source="draft.yaml")
    assert not draft.published
    decision = draft.evaluate(json.loads(APPLICANTS[0].read_text()))
    assert decision.to_dict()["ruleset"]["published"] is False
    assert decision.model.ruleset.published is False
    assert decision.model.model_dump_json() == decision.to_json()
    assert "published" not in intake.evaluate(json.loads(APPLICANTS[0].read_text())).to_json()
