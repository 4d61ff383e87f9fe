"""The JSON Schemas in schemas/ are valid and in step with the code."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from tests.conftest import REPO

from recovery_screening import Ruleset
from recovery_screening.decision import decision_json_schema
from recovery_screening.document.schema import ruleset_schema

SCHEMAS = REPO / "schemas"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_schema_files_are_valid_json_schema(path: object) -> None:
    schema = json.loads(SCHEMAS.joinpath(str(path)).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)


def test_decision_schema_matches_the_model() -> None:
    on_disk = json.loads((SCHEMAS / "decision.schema.json").read_text())
    assert on_disk == decision_schema(), "regenerate it with decision_json_schema()"


def decision_schema() -> dict[str, object]:
    return decision_json_schema()


def test_decisions_validate_against_the_decision_schema(intake: Ruleset) -> None:
    validator = jsonschema.Draft202012Validator(decision_schema())
    for case in intake.tests:
        validator.validate(json.loads(intake.evaluate(case["applicant"]).to_json()))


def test_shipped_rulesets_validate_against_the_ruleset_schema() -> None:
    validator = jsonschema.Draft202012Validator(ruleset_schema())

    for path in (REPO / "rulesets").glob("*/*.yaml"):
        validator.validate(yaml.safe_load(path.read_text()))
