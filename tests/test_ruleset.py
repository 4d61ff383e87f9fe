"""`Ruleset`: what a loaded ruleset tells about itself, and `input_schema()` as the input
contract (what it allows evaluates, and nothing else)."""

from __future__ import annotations

import datetime
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening import Ruleset, load_ruleset, shipped_rulesets_directory

SHIPPED = sorted(shipped_rulesets_directory().glob("*/*.yaml"))
LOADED = {path: load_ruleset(path) for path in SHIPPED}
VALIDATORS = {
    path: jsonschema.Draft202012Validator(
        ruleset.input_schema(), format_checker=jsonschema.FormatChecker()
    )
    for path, ruleset in LOADED.items()
}


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A small generator for the subset of JSON Schema that input_schema() uses."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    options: list[st.SearchStrategy[Any]] = [st.none()] if "null" in types else []
    if "object" in types:
        properties = schema["properties"]
        options.append(
            st.fixed_dictionaries({}, optional={k: from_schema(v) for k, v in properties.items()})
        )
    if "boolean" in types:
        options.append(st.booleans())
    if "integer" in types:
        options.append(st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6)))
    if "number" in types:
        options.append(
            st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False)
        )
    if "string" in types:
        if schema.get("format") == "date":
            options.append(st.dates(datetime.date(1900, 1, 1)).map(datetime.date.isoformat))
        else:
            options.append(st.text(max_size=schema.get("maxLength", 64)))
    return st.one_of(options)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
@settings(max_examples=50)
@given(data=st.data())
def test_every_applicant_the_schema_allows_evaluates(path: Any, data: st.DataObject) -> None:
    ruleset: Ruleset = LOADED[path]
    applicant = data.draw(from_schema(ruleset.input_schema()))
    VALIDATORS[path].validate(applicant)
    assert ruleset.evaluate(applicant).outcome in ("admit", "defer", "refer")


@pytest.mark.parametrize(
    "applicant",
    [
        {"withdrawal_severity": "sevre"},
        {"phq9": {"q1": 4}},
        {"nickname": "x"},
        {"phq9": {"q1": True}},
    ],
)
def test_the_schema_rejects_what_evaluation_rejects(applicant: dict[str, Any]) -> None:
    ruleset = load_ruleset("peer-support-intake")
    assert ruleset.applicant_problems(applicant)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(applicant, ruleset.input_schema())


def test_a_loaded_ruleset_describes_itself() -> None:
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    assert (ruleset.id, ruleset.version, ruleset.kind) == (
        "peer-support-intake",
        "1.0.0",
        "screening",
    )
    assert ruleset.published and ruleset.backend == "native"
    assert ruleset.content_hash == ruleset.compiled.content_hash
    assert repr(ruleset).startswith("<Ruleset peer-support-intake 1.0.0")
    assert ruleset.inputs == ruleset.compiled.inputs.fields
    assert any(field.name == "phq9.q9" for field in ruleset.inputs)


def test_tests_and_document_are_copies() -> None:
    ruleset = load_ruleset("peer-support-intake")
    ruleset.tests.clear()
    ruleset.document.clear()
    assert ruleset.tests and ruleset.document["id"] == "peer-support-intake"


def test_applicant_problems_lists_every_problem_without_raising() -> None:
    ruleset = load_ruleset("peer-support-intake")
    problems = ruleset.applicant_problems({"withdrawal_severity": "sevre", "unknown": 1})
    assert [(p.path, p.code) for p in problems] == [
        ("$.withdrawal_severity", "allowed-values"),
        ("$.unknown", "unknown-field"),
    ]
    assert all("sevre" not in p.message for p in problems)
    assert ruleset.applicant_problems({}) == []
