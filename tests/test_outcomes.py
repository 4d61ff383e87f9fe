"""The one outcome table: its order is the ranking, and every per-outcome table covers it."""

from __future__ import annotations

from recovery_screening import load_ruleset
from recovery_screening.compiler import INSTRUMENT_LABELS
from recovery_screening.designer.report import _COLOURS
from recovery_screening.interchange.cds import INDICATORS
from recovery_screening.models import decision_json_schema
from recovery_screening.outcomes import (
    ADMIT,
    DEFAULT_RULE,
    DEFER,
    INCOMPLETE_RULE,
    OUTCOMES,
    RANK,
    REFER,
)


def test_ranks_follow_the_table_least_protective_first() -> None:
    assert OUTCOMES == ("admit", "defer", "refer")
    assert [RANK[name] for name in OUTCOMES] == [ADMIT, DEFER, REFER] == [0, 1, 2]


def test_every_per_outcome_table_covers_exactly_the_outcomes() -> None:
    for table in (INSTRUMENT_LABELS, _COLOURS, INDICATORS):
        assert set(table) == set(OUTCOMES)


def test_the_decision_schema_lists_the_outcomes_in_order() -> None:
    schema = decision_json_schema()
    assert schema["properties"]["outcome"]["enum"] == list(OUTCOMES)


def test_fallback_rules_carry_the_shared_ids() -> None:
    compiled = load_ruleset("peer-support-intake").compiled
    assert (compiled.default.id, compiled.incomplete.id) == (DEFAULT_RULE, INCOMPLETE_RULE)
    assert load_ruleset("peer-support-intake").evaluate({}).deciding == (INCOMPLETE_RULE,)
