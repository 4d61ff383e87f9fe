"""The JSON Schemas in schemas/ are valid and in step with the code."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from tests.conftest import REPO

from recovery_screening import Ruleset
from recovery_screening.document.schema import ruleset_schema
from recovery_screening.models import decision_json_schema

SCHEMAS = REPO / "schemas"


SCHEMA_FILES = ("decision-record.schema.json", "decision.schema.json", "ruleset.schema.json")


def test_the_schema_directory_holds_exactly_the_published_schemas() -> None:
    assert sorted(path.name for path in SCHEMAS.glob("*.schema.json")) == list(SCHEMA_FILES)


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_schema_files_are_valid_json_schema(name: str) -> None:
    schema = json.loads((SCHEMAS / name).read_text())
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

    paths = sorted((REPO / "rulesets").glob("*/*.yaml"))
    directories = sorted(entry.name for entry in (REPO / "rulesets").iterdir() if entry.is_dir())
    assert "peer-support-intake" in directories
    assert sorted({path.parent.name for path in paths}) == directories
    for path in paths:
        validator.validate(yaml.safe_load(path.read_text()))
