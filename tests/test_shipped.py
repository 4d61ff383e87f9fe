"""Shipped rulesets: they load, their embedded cases pass, instruments score as published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset, shipped_rulesets_directory
from recovery_screening.designer.cases import run_case

SHIPPED = sorted(shipped_rulesets_directory().glob("*/*.yaml"))
INSTRUMENTS = ["audit", "audit-c", "dast-10", "phq-9", "gad-7", "cage-aid", "readiness-ruler",
               "barc-10"]  # fmt: skip
CASES = [
    pytest.param(path, index, id=f"{path.parent.name}::{case['id']}")
    for path in SHIPPED
    for index, case in enumerate(load_ruleset(path).tests)
]


@pytest.fixture(scope="module")
def loaded() -> dict[Path, Ruleset]:
    return {path: load_ruleset(path) for path in SHIPPED}


def test_every_required_instrument_is_shipped() -> None:
    shipped = {path.parent.name for path in SHIPPED}
    assert set(INSTRUMENTS) <= shipped
    assert "peer-support-intake" in shipped


@pytest.mark.parametrize(("path", "index"), CASES)
def test_embedded_case_passes(loaded: dict[Path, Ruleset], path: Path, index: int) -> None:
    ruleset = loaded[path]
    result = run_case(ruleset, ruleset.tests[index])
    assert result.passed, "\n".join(result.failures)


@pytest.mark.parametrize(
    "ruleset_id", ["peer-support-intake", "group-leader-readiness", "continuing-support"]
)
def test_cases_cover_every_outcome_and_every_decision_and_advisory_rule(ruleset_id: str) -> None:
    ruleset = load_ruleset(ruleset_id)
    outcomes: set[str] = set()
    fired: set[str] = set()
    for case in ruleset.tests:
        decision = ruleset.evaluate(case["applicant"])
        outcomes.add(decision.outcome)
        fired.update(reason.rule for reason in decision.reasons)
        fired.update(decision.advisories)
    assert outcomes == {"admit", "defer", "refer"}
    rules = {rule.id for rule in ruleset.compiled.decisions}
    rules |= {advisory.id for advisory in ruleset.compiled.advisories}
    assert rules - fired == set()
    assert {"default", "incomplete"} <= fired


def test_intake_has_at_least_25_cases(intake: Ruleset) -> None:
    assert len(intake.tests) >= 25


def test_intake_covers_the_five_domains(intake: Ruleset) -> None:
    names = {domain.name for domain in intake.compiled.domains}
    assert {"motivation", "participation_ability", "risk_history", "substance_dependence",
            "insight"} <= names  # fmt: skip


@pytest.mark.parametrize(
    ("instrument", "answers", "total", "band"),
    [
        ("phq-9", dict.fromkeys([f"q{i}" for i in range(1, 10)], 3), 27, "severe"),
        ("phq-9", {**dict.fromkeys([f"q{i}" for i in range(1, 10)], 0), "q1": 3, "q2": 2}, 5,
         "mild"),
        ("gad-7", dict.fromkeys([f"q{i}" for i in range(1, 8)], 2), 14, "moderate"),
        ("audit", {**dict.fromkeys([f"q{i}" for i in range(1, 9)], 1), "q9": 4, "q10": 4}, 16,
         "zone_iii"),
        ("audit", {**dict.fromkeys([f"q{i}" for i in range(1, 9)], 0), "q9": 2, "q10": 0}, 2,
         "zone_i"),
        ("dast-10", {**dict.fromkeys([f"q{i}" for i in range(1, 11)], False), "q3": True}, 0,
         "none"),
        ("dast-10", {**dict.fromkeys([f"q{i}" for i in range(1, 11)], False), "q3": False}, 1,
         "low"),
        ("dast-10", dict.fromkeys([f"q{i}" for i in range(1, 11)], True), 9, "severe"),
        ("cage-aid", {"q1": True, "q2": False, "q3": False, "q4": False}, 1, "positive"),
        ("barc-10", dict.fromkeys([f"q{i}" for i in range(1, 11)], 5), 50, "remission_predicted"),
        ("audit-c", {"q1": 4, "q2": 4, "q3": 4}, 12, None),
        ("readiness-ruler", {"q1": 7}, 7, None),
    ],
)  # fmt: skip
def test_published_scoring(
    instrument: str, answers: dict[str, object], total: int, band: str | None
) -> None:
    decision = load_ruleset(instrument).evaluate(answers)
    scored = decision.instruments[0]
    assert (scored.total, scored.band) == (total, band)


@pytest.mark.parametrize(
    ("instrument", "low", "high"),
    [("audit", 0, 40), ("audit-c", 0, 12), ("dast-10", 0, 10), ("phq-9", 0, 27),
     ("gad-7", 0, 21), ("cage-aid", 0, 4), ("readiness-ruler", 0, 10), ("barc-10", 10, 60)],
)  # fmt: skip
def test_published_ranges(instrument: str, low: int, high: int) -> None:
    compiled = load_ruleset(instrument).compiled.instruments[0]
    assert compiled.total_range == (low, high)


def test_phq9_item9_is_a_safety_trigger_whatever_the_total() -> None:
    answers = {**{f"q{i}": 0 for i in range(1, 9)}, "q9": 1}
    decision = load_ruleset("phq-9").evaluate(answers)
    assert decision.outcome == "refer"
    assert decision.instruments[0].total == 1
    assert [flag.safety for flag in decision.instruments[0].flags] == [True]


def test_instruments_carry_licence_metadata() -> None:
    for instrument in INSTRUMENTS:
        licence = load_ruleset(instrument).compiled.instruments[0].licence
        assert {"name", "terms", "commercial_use"} <= set(licence)
    assert load_ruleset("audit").compiled.instruments[0].licence["commercial_use"] is False


EXPECTED_EXAMPLES = {
    "admit.json": "admit",
    "defer-motivation.json": "defer",
    "defer-missing.json": "defer",
    "refer-withdrawal.json": "refer",
    "refer-safety.json": "refer",
    "refer-individual-services.json": "refer",
}


@pytest.mark.parametrize(("name", "outcome"), EXPECTED_EXAMPLES.items())
def test_example_applicants(intake: Ruleset, name: str, outcome: str) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / name).read_text())
    assert intake.evaluate(applicant).outcome == outcome


def test_example_cohort_is_valid_and_mixed(intake: Ruleset) -> None:
    lines = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()
    assert len(lines) == 1000
    outcomes = [intake.evaluate(json.loads(line)).outcome for line in lines]
    assert {"admit", "defer", "refer"} == set(outcomes)
