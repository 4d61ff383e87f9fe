"""The v1 semantics shared by both decision paths: score ranges, settling, the hit policy."""

from __future__ import annotations

from collections.abc import Mapping

from tests.conftest import COMPLETE_MINI

from recovery_screening import Ruleset
from recovery_screening.evaluate import check_applicant
from recovery_screening.three_valued import outcome_of, score_range, settle, trace_v1


def test_a_summed_domain_ranges_over_its_undecided_rules(mini: Ruleset) -> None:
    motivation = mini.compiled.domains[0]
    assert motivation.aggregation == "sum" and motivation.points == (2, 1)
    assert score_range(motivation, (True, True)) == (3, 3)
    assert score_range(motivation, (None, True)) == (1, 3)
    assert score_range(motivation, (None, None)) == (0, 3)
    assert score_range(motivation, (False, None)) == (0, 1)


def test_a_highest_domain_ranges_from_its_fired_and_pending_rules(mini: Ruleset) -> None:
    risk = mini.compiled.domains[1]
    assert risk.aggregation == "max" and risk.points == (3, 1)
    assert score_range(risk, (False, True)) == (1, 1)
    assert score_range(risk, (None, True)) == (1, 3)
    assert score_range(risk, (None, None)) == (0, 3)
    assert score_range(risk, (False, False)) == (0, 0)


def test_an_undecided_rule_that_could_raise_the_outcome_blocks_admit(mini: Ruleset) -> None:
    compiled = mini.compiled
    facts = check_applicant(compiled, COMPLETE_MINI)
    decided = trace_v1(compiled, dict(facts))
    assert decided.rank == outcome_of(compiled, decided.facts, decided.truths)[0]
    undecided = tuple(
        None if rule.rank > decided.rank else truth
        for rule, truth in zip(compiled.decisions, decided.truths, strict=True)
    )
    rank, deciding, blocking, fail_safe = outcome_of(compiled, decided.facts, undecided)
    assert fail_safe and deciding == () and blocking
    assert compiled.decisions[blocking[0]].rank > rank


def test_settling_decides_what_every_allowed_score_agrees_on(mini: Ruleset) -> None:
    compiled = mini.compiled
    motivation = compiled.domains[0]
    rule = compiled.decisions[1]  # defer-motivation: motivation.band == "low"
    assert rule.id == "defer-motivation"

    def judge(trial: Mapping[str, object]) -> tuple[object, ...]:
        return tuple(condition(trial) for condition in compiled.decision_conditions)

    facts = {**check_applicant(compiled, COMPLETE_MINI), motivation.score_key: None}
    facts[motivation.band_key] = None
    truths = tuple(None if i == 1 else False for i in range(len(compiled.decisions)))
    high_only = settle(compiled.decisions, truths, facts, [(motivation, 2, 3)], judge)
    assert high_only[1] is False
    either = settle(compiled.decisions, truths, facts, [(motivation, 1, 2)], judge)
    assert either[1] is None
