"""The 1.2.0 versions of the shipped screening rulesets add only next-steps marks (`describes`,
`actionable`, `next_steps`) and embedded cases for next steps (`next-steps-*`): every decision
is the one 1.1.0 makes."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.designer.strategies import applicants
from recovery_screening.document.reader import read_document

SCREENING = ("peer-support-intake", "group-leader-readiness", "continuing-support")
MARKS = ("describes", "actionable")


@functools.cache
def _pair(ruleset_id: str) -> tuple[Ruleset, Ruleset]:
    return load_ruleset(f"{ruleset_id}@1.1.0"), load_ruleset(f"{ruleset_id}@1.2.0")


def _without_ruleset(decision_json: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(decision_json)
    data.pop("ruleset")
    return data


def _strip(document: dict[str, Any]) -> dict[str, Any]:
    document = dict(document)
    document.pop("version")
    document.pop("changelog")
    document["inputs"] = {
        name: {key: value for key, value in spec.items() if key not in MARKS}
        for name, spec in document["inputs"].items()
    }
    document["decisions"] = [
        {key: value for key, value in rule.items() if key != "next_steps"}
        for rule in document["decisions"]
    ]
    document["tests"] = [
        case for case in document["tests"] if not case["id"].startswith("next-steps-")
    ]
    return document


@pytest.mark.parametrize("ruleset_id", SCREENING)
def test_1_2_0_differs_from_1_1_0_only_by_the_marks(ruleset_id: str) -> None:
    old = read_document(REPO / "rulesets" / ruleset_id / "1.1.0.yaml")
    new = read_document(REPO / "rulesets" / ruleset_id / "1.2.0.yaml")
    assert _strip(new) == _strip(old)
    assert new["changelog"][1:] == old["changelog"]
    assert load_ruleset(ruleset_id).version == "1.2.0" and load_ruleset(ruleset_id).published


def _examples(ruleset_id: str) -> Iterator[dict[str, Any]]:
    folder = "applicants/intake-1.1" if ruleset_id == "peer-support-intake" else ruleset_id
    for path in sorted((REPO / "examples" / folder).glob("*.json")):
        yield json.loads(path.read_text(encoding="utf-8"))
    if ruleset_id == "peer-support-intake":
        with (REPO / "examples" / "cohort-1000-v1.1.jsonl").open(encoding="utf-8") as cohort:
            for line in cohort:
                yield json.loads(line)
    for case in load_ruleset(f"{ruleset_id}@1.1.0").tests:
        yield case["applicant"]


@pytest.mark.parametrize("ruleset_id", SCREENING)
def test_every_example_and_cohort_decision_is_1_1_0s(ruleset_id: str) -> None:
    old, new = _pair(ruleset_id)
    count = 0
    for applicant in _examples(ruleset_id):
        assert _without_ruleset(new.evaluate(applicant).to_json()) == _without_ruleset(
            old.evaluate(applicant).to_json()
        )
        count += 1
    assert count >= (1000 if ruleset_id == "peer-support-intake" else 10)


@pytest.mark.parametrize("ruleset_id", SCREENING)
@settings(max_examples=50)
@given(data=st.data())
def test_generated_applicants_get_1_1_0s_decisions(ruleset_id: str, data: st.DataObject) -> None:
    old, new = _pair(ruleset_id)
    applicant = data.draw(applicants(old, missing=0.05))
    assert _without_ruleset(new.evaluate(applicant).to_json()) == _without_ruleset(
        old.evaluate(applicant).to_json()
    )
