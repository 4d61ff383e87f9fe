"""The peer-support intake screening as a GoRules JDM decision graph for `zen-engine`.

The same logic as rulesets/peer-support-intake/1.0.0.yaml (and handwritten_intake.py), written
as a chain of expression nodes with `passThrough`, one per stage: instrument totals → scoring
rule truths → domain score ranges → bands → decision rule truths → outcome. Missing answers are
`null` and every truth is three-valued (true / false / null), so the fail-safe matches the
library's: an admit with an undecided refer/defer rule or a missing must-answer input is defer.
compare.py checks the outcomes against the native backend on the whole cohort before timing.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from handwritten_intake import (
    DEPENDENCE_BANDS,
    HEALTH_BANDS,
    INSIGHT_BANDS,
    MOTIVATION_BANDS,
    MUST_ANSWER,
    PARTICIPATION_BANDS,
    RISK_BANDS,
    SOBRIETY_BANDS,
)


def known(value: str) -> str:
    return f"({value} != null)"


def at_least(value: str, limit: int) -> str:
    return f"({value} == null ? null : {value} >= {limit})"


def between(value: str, low: int, high: int) -> str:
    return f"({value} == null ? null : ({value} >= {low} and {value} <= {high}))"


def equals(value: str, literal: str) -> str:
    return f"({value} == null ? null : {value} == '{literal}')"


def one_of(value: str, *literals: str) -> str:
    options = ", ".join(f"'{literal}'" for literal in literals)
    return f"({value} == null ? null : {value} in [{options}])"


def kleene_and(a: str, b: str) -> str:
    unknown = f"(({a}) == null or ({b}) == null ? null : true)"
    return f"(({a}) == false or ({b}) == false ? false : {unknown})"


def kleene_or(a: str, b: str) -> str:
    return (
        f"(({a}) == true or ({b}) == true ? true : (({a}) == null or ({b}) == null ? null : false))"
    )


def kleene_not(a: str) -> str:
    return f"(({a}) == null ? null : not ({a}))"


def total(alias: str, items: int, points: dict[int, str] | None = None) -> str:
    keys = [f"{alias}.q{i}" for i in range(1, items + 1)]
    missing = " or ".join(f"{key} == null" for key in keys)
    terms = [(points or {}).get(i, f"{alias}.q{i}") for i in range(1, items + 1)]
    return f"({missing}) ? null : " + " + ".join(f"({term})" for term in terms)


DAST_POINTS = {
    i: f"(dast10.q{i} ? {0 if i == 3 else 1} : {1 if i == 3 else 0})" for i in range(1, 11)
}

DOMAINS: dict[str, tuple[list[tuple[str, int]], tuple[tuple[str, int, int], ...], int | None]] = {
    "motivation": (
        [
            (at_least("readiness_total", 7), 3),
            (between("readiness_total", 4, 6), 1),
            (one_of("stage_of_change", "preparation", "action", "maintenance"), 3),
            (equals("stage_of_change", "contemplation"), 1),
            ("wants_to_join_group", 2),
            (equals("stage_of_change", "precontemplation"), -2),
        ],
        MOTIVATION_BANDS,
        8,
    ),
    "participation_ability": (
        [
            ("can_attend_weekly", 3),
            (one_of("comfort_in_groups", "somewhat", "very"), 2),
            ("agrees_to_group_agreements", 2),
            ("access_needs_met", 1),
        ],
        PARTICIPATION_BANDS,
        None,
    ),
    "risk_history": (
        [
            (kleene_or("violence_last_12_months", "threats_to_others_recent"), 5),
            ("violence_more_than_12_months_ago", 2),
            ("removed_from_program_for_safety", 3),
            (one_of("justice_involvement", "past", "current"), 1),
            ("impaired_driving_last_12_months", 1),
        ],
        RISK_BANDS,
        None,
    ),
    "substance_dependence": (
        [
            (at_least("audit_total", 16), 3),
            (between("audit_total", 8, 15), 1),
            (at_least("audit_dependence", 4), 2),
            (at_least("dast_total", 6), 3),
            (between("dast_total", 3, 5), 1),
            (equals("use_frequency_30d", "daily"), 2),
        ],
        DEPENDENCE_BANDS,
        None,
    ),
    "sobriety_capacity": (
        [
            (at_least("days_since_last_use", 30), 2),
            (
                "(days_since_last_use == null ? null : "
                "(days_since_last_use >= 7 and days_since_last_use < 30))",
                1,
            ),
            ("previous_abstinence_30d", 1),
            (equals("housing", "stable"), 1),
            ("lifestyle_changes_started", 1),
            ("overdose_last_90_days", -2),
        ],
        SOBRIETY_BANDS,
        None,
    ),
    "insight": (
        [
            (equals("recognises_problem", "clearly"), 2),
            (equals("recognises_problem", "somewhat"), 1),
            ("can_name_recovery_goal", 2),
            ("understands_stages_of_change", 1),
            ("has_relapse_plan", 1),
        ],
        INSIGHT_BANDS,
        None,
    ),
    "health_wellness": (
        [
            (at_least("phq9_total", 10), 2),
            (at_least("gad7_total", 10), 2),
            (equals("physical_health", "poor"), 1),
            ("unmanaged_medical_condition", 2),
            ("injects_drugs", 1),
        ],
        HEALTH_BANDS,
        None,
    ),
}

DECISIONS: list[tuple[str, int]] = [
    (at_least("phq9.q9", 1), 2),
    ("current_suicidal_intent", 2),
    (equals("withdrawal_severity", "severe"), 2),
    (
        kleene_or(
            equals("withdrawal_severity", "moderate"),
            kleene_and(equals("withdrawal_severity", "mild"), "withdrawal_seizure_history"),
        ),
        2,
    ),
    ("intoxicated_now", 2),
    (kleene_or("violence_last_12_months", "threats_to_others_recent"), 2),
    (equals("band_risk_history", "high"), 2),
    (
        kleene_or(
            kleene_or(at_least("audit_total", 20), at_least("dast_total", 6)),
            equals("band_substance_dependence", "high"),
        ),
        2,
    ),
    (kleene_and("overdose_last_90_days", equals("use_frequency_30d", "daily")), 2),
    (kleene_or(at_least("phq9_total", 20), "psychosis_symptoms"), 2),
    (equals("band_health_wellness", "many_concerns"), 2),
    (equals("recovery_focus", "supporting_someone_else"), 2),
    (equals("stage_of_change", "precontemplation"), 1),
    (equals("band_motivation", "low"), 1),
    (
        kleene_or(kleene_not("can_attend_weekly"), equals("band_participation_ability", "low")),
        1,
    ),
    (kleene_not("agrees_to_group_agreements"), 1),
    (equals("band_insight", "low"), 1),
    (equals("band_sobriety_capacity", "unstable"), 1),
]


def _band_of(value: str, bands: tuple[tuple[str, int, int], ...]) -> str:
    expression = "null"
    for name, low, high in reversed(bands):
        expression = f"({value} >= {low} and {value} <= {high} ? '{name}' : {expression})"
    return expression


def _stages() -> list[list[tuple[str, str]]]:
    totals = [
        ("audit_total", total("audit", 10)),
        (
            "audit_dependence",
            "(audit.q4 == null or audit.q5 == null or audit.q6 == null) ? null : "
            "audit.q4 + audit.q5 + audit.q6",
        ),
        ("dast_total", total("dast10", 10, DAST_POINTS)),
        ("phq9_total", total("phq9", 9)),
        ("gad7_total", total("gad7", 7)),
        ("readiness_total", "readiness.q1"),
    ]
    truths: list[tuple[str, str]] = []
    ranges: list[tuple[str, str]] = []
    band_ends: list[tuple[str, str]] = []
    bands: list[tuple[str, str]] = []
    for name, (rules, table, cap) in DOMAINS.items():
        low_terms, high_terms = [], []
        for index, (condition, points) in enumerate(rules):
            key = f"rule_{name}_{index}"
            truths.append((key, condition))
            low_extra = points if points < 0 else 0
            high_extra = points if points > 0 else 0
            low_terms.append(f"({key} == true ? {points} : ({key} == null ? {low_extra} : 0))")
            high_terms.append(f"({key} == true ? {points} : ({key} == null ? {high_extra} : 0))")
        low, high = " + ".join(low_terms), " + ".join(high_terms)
        if cap is not None:
            low, high = f"min([{low}, {cap}])", f"min([{high}, {cap}])"
        ranges += [(f"low_{name}", low), (f"high_{name}", high)]
        band_ends += [
            (f"band_low_{name}", _band_of(f"low_{name}", table)),
            (f"band_high_{name}", _band_of(f"high_{name}", table)),
        ]
        bands.append(
            (
                f"band_{name}",
                f"(band_low_{name} == band_high_{name} ? band_low_{name} : null)",
            )
        )
    decisions = [(f"decision_{i}", condition) for i, (condition, _) in enumerate(DECISIONS)]
    refer = [f"decision_{i}" for i, (_, rank) in enumerate(DECISIONS) if rank == 2]
    defer = [f"decision_{i}" for i, (_, rank) in enumerate(DECISIONS) if rank == 1]
    refer_fired = " or ".join(f"{key} == true" for key in refer)
    defer_fired = " or ".join(f"{key} == true" for key in defer)
    undecided = " or ".join(f"{key} == null" for key in refer + defer)
    must_missing = " or ".join(f"{name} == null" for name in MUST_ANSWER)
    outcome = [
        (
            "outcome",
            f"({refer_fired}) ? 'refer' : (({defer_fired}) ? 'defer' : "
            f"(({undecided}) or ({must_missing}) ? 'defer' : 'admit'))",
        )
    ]
    return [totals, truths, ranges, band_ends, bands, decisions, outcome]


def decision_graph() -> dict[str, Any]:
    """The JDM document: input → one expression node per stage → output."""
    nodes: list[dict[str, Any]] = [
        {"id": "input", "type": "inputNode", "name": "applicant", "position": {"x": 0, "y": 0}}
    ]
    for index, expressions in enumerate(_stages()):
        nodes.append(
            {
                "id": f"stage{index}",
                "type": "expressionNode",
                "name": f"stage {index}",
                "position": {"x": 200 * (index + 1), "y": 0},
                "content": {
                    "expressions": [
                        {"id": f"e{index}_{n}", "key": key, "value": value}
                        for n, (key, value) in enumerate(expressions)
                    ],
                    "passThrough": True,
                },
            }
        )
    nodes.append(
        {"id": "output", "type": "outputNode", "name": "decision", "position": {"x": 0, "y": 0}}
    )
    edges = [
        {"id": f"edge{i}", "type": "edge", "sourceId": a["id"], "targetId": b["id"]}
        for i, (a, b) in enumerate(itertools.pairwise(nodes))
    ]
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes, "edges": edges}


def load() -> Any:
    """A compiled zen-engine decision for the intake graph."""
    import zen

    return zen.ZenEngine().create_decision(json.dumps(decision_graph()))


def outcome(decision: Any, applicant: dict[str, Any]) -> str:
    return str(decision.evaluate(applicant)["result"]["outcome"])
