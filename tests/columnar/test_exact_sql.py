"""The format v2 proofs of the columnar query (`columnar.exact_sql`): rows of each kind the SQL
proves are decided in SQL, with every column as the scalar engine's; rows where a proof's
premise fails stay with the scalar engine."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.columnar.test_batch import arrow_table, assert_identical  # skips without duckdb

from recovery_screening import Ruleset, load_document, load_ruleset

READY: dict[str, Any] = {
    "recovery_focus": "substance_use",
    "age_years": 34,
    "stage_of_change": "action",
    "wants_to_join_group": True,
    "can_attend_weekly": True,
    "comfort_in_groups": "somewhat",
    "agrees_to_group_agreements": True,
    "access_needs_met": True,
    "violence_last_12_months": False,
    "threats_to_others_recent": False,
    "thoughts_of_harming_others": False,
    "violence_more_than_12_months_ago": False,
    "removed_from_program_for_safety": False,
    "justice_involvement": "none",
    "impaired_driving_last_12_months": False,
    "use_frequency_30d": "none",
    "days_since_last_use": 45,
    "withdrawal_severity": "none",
    "withdrawal_seizure_history": False,
    "intoxicated_now": False,
    "overdose_last_90_days": False,
    "current_suicidal_intent": False,
    "suicide_attempt_or_self_harm_12_months": False,
    "psychosis_symptoms": False,
    "previous_abstinence_30d": True,
    "housing": "stable",
    "lifestyle_changes_started": True,
    "recognises_problem": "clearly",
    "can_name_recovery_goal": True,
    "understands_stages_of_change": True,
    "has_relapse_plan": True,
    "physical_health": "good",
    "unmanaged_medical_condition": False,
    "injects_drugs": False,
    "audit": {
        "q1": 1, "q2": 1, "q3": 1, "q4": 0, "q5": 0, "q6": 0, "q7": 1, "q8": 0, "q9": 0, "q10": 2,
    },
    "dast10": {f"q{i}": i in (1, 3) for i in range(1, 11)},
    "phq9": {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 1, "q6": 0, "q7": 1, "q8": 0, "q9": 0},
    "gad7": {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 0, "q6": 1, "q7": 0},
    "readiness": {"q1": 8},
}  # fmt: skip
"""A person the intake admits (its embedded case `exact-audit-item-missing-...`, answered)."""


def changed(**changes: Any) -> dict[str, Any]:
    """READY with some answers changed; None removes one, a dict merges into an instrument's."""
    applicant = copy.deepcopy(READY)
    for key, value in changes.items():
        if isinstance(value, dict):
            items = {**applicant[key], **value}
            applicant[key] = {k: v for k, v in items.items() if v is not None}
        elif value is None:
            del applicant[key]
        else:
            applicant[key] = value
    return applicant


DAST_SEVERE = {f"q{i}": i != 3 for i in range(1, 11)}  # 10 of 10: refers
ROWS = {
    # AUDIT zone II (8 to 15) between two totals outside it: q1, q2, q9 and q10 missing give
    # every total from 2 to 18 (a missing 0-4 item fills the gaps of items 9 and 10)
    "audit-middle-condition": changed(audit={"q1": None, "q2": None, "q9": None, "q10": None}),
    # any points on items 4-6 and a total under 16: items 4 and 7 missing, total 10 to 18;
    # the lowest (no dependence points) and the highest (18) completions both make it false
    "correlated-instrument-facts": changed(
        audit={"q1": 4, "q2": 3, "q4": None, "q7": None}, dast10=DAST_SEVERE
    ),
    # withdrawal severity read twice (moderate; mild with a seizure history): missing, with
    # no seizure history, both probe completions (none, severe) leave the rule false
    "one-answer-read-twice": changed(withdrawal_severity=None, intoxicated_now=True),
    # DAST-10 skipped: the level-of-care rule is a function of its total alone (directly and
    # through the dependence domain), so every item changes the outcome
    "outcome-over-one-total": changed(dast10=None),
    # the health score reaches 3 and 6 (many concerns) over GAD-7 items 1-4 and physical health
    # missing, each rule of the domain going both ways on its own answers; the two probes
    # (poor health and GAD-7 0: 4; very good and GAD-7 12: 5) both leave it manageable
    "domain-band-over-independent-rules": changed(
        gad7={"q1": None, "q2": None, "q3": None, "q4": None, "q5": 0, "q6": 0, "q7": 0},
        phq9={"q1": 2, "q2": 2, "q3": 1, "q4": 2, "q5": 1, "q6": 1, "q7": 2, "q8": 1},
        physical_health=None,
        injects_drugs=True,
        intoxicated_now=True,
    ),
    # stage of change and the readiness ruler missing: four defer rules read them together
    # (precontemplation, answers that disagree, low motivation); over every combination of
    # the two, each changes the outcome on its own
    "rules-over-the-same-answers": changed(stage_of_change=None, readiness=None),
    # withdrawal severity and use frequency missing with a seizure history: three withdrawal
    # rules read them together; the level-of-care rule reads use frequency too (daily use
    # counts towards dependence) but cannot refer here, so it does not take part
    "rules-over-the-same-answers-one-aside": changed(
        withdrawal_severity=None, withdrawal_seizure_history=True, use_frequency_30d=None
    ),
}


@pytest.fixture(scope="module")
def intake() -> Ruleset:
    return load_ruleset("peer-support-intake@1.2.0")


def test_rows_of_each_proof_are_decided_in_sql_as_the_scalar_engine_decides(
    intake: Ruleset,
) -> None:
    rows = list(ROWS.values())
    result = intake.evaluate_batch(arrow_table(rows))
    assert_identical(intake, result, rows)
    engines = dict(zip(ROWS, result.table["engine"].to_pylist(), strict=True))
    assert engines == dict.fromkeys(ROWS, "columnar")
    outcomes = dict(zip(ROWS, result.table["outcome"].to_pylist(), strict=True))
    assert outcomes["outcome-over-one-total"] == "defer"
    assert result.table["rule:refer-health-check"].to_pylist()[4] is None
    assert result.table["needs"].to_pylist()[3] == sorted(f"dast10.q{i}" for i in range(1, 11))


def test_a_total_with_gaps_between_its_sums_is_left_to_the_scalar_engine() -> None:
    # AUDIT 7 with only item 9 missing reaches 7, 9 and 11, never 8: the advisory is false in
    # every completion though the ranges (7 to 11) leave it open; the SQL must not call it
    # undecided, nor prove it, so the row is the scalar engine's. With item 1 missing too,
    # every total from 7 to 15 is reached: the SQL proves it undecided.
    audit = {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 0, "q6": 0, "q7": 1, "q8": 0, "q10": 2}
    ruleset = load_document(
        {
            "format": "recovery-screening/v2",
            "kind": "screening",
            "id": "audit-gaps",
            "version": "1.0.0",
            "title": "AUDIT totals with gaps",
            "default": {"outcome": "admit", "code": "ADMIT", "text": "Admitted."},
            "instruments": {"audit": "audit@1.1.0"},
            "inputs": {},
            "decisions": [],
            "advisories": [
                {"id": "eight", "when": "audit.total == 8", "code": "EIGHT", "text": "Eight."}
            ],
        }
    )
    rows = [{"audit": audit}, {"audit": {k: v for k, v in audit.items() if k != "q1"}}]
    result = ruleset.evaluate_batch(arrow_table(rows))
    assert_identical(ruleset, result, rows)
    assert result.table["engine"].to_pylist() == ["scalar", "columnar"]
    assert result.table["rule:eight"].to_pylist() == [False, None]
