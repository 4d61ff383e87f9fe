"""Next steps: the format's `describes` / `actionable` / `next_steps` keys, the exact bounded
search, and properties checked against brute force on generated rulesets."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from recovery_screening import Decision, Ruleset, RulesetError, load_document
from recovery_screening.next_steps import WAIT, NextSteps, NextStepsError, next_steps
from recovery_screening.outcomes import RANK


def _document(**changes: Any) -> dict[str, Any]:
    """A small v2 ruleset: a plan, an agreement, an ordered comfort, days since last use
    (growing with time), a safety-critical answer and a history answer."""
    document: dict[str, Any] = {
        "format": "recovery-screening/v2",
        "kind": "screening",
        "id": "steps",
        "version": "1.0.0",
        "title": "Next steps test",
        "default": {"outcome": "admit", "code": "ADMIT", "text": "Admitted."},
        "inputs": {
            "plan": {
                "type": "boolean",
                "label": "Has a plan",
                "describes": "state",
                "actionable": {"towards": True, "step": "make a plan"},
            },
            "agrees": {
                "type": "boolean",
                "label": "Agrees",
                "required": True,
                "describes": "state",
                "actionable": {"towards": True},
            },
            "comfort": {
                "type": "enum",
                "values": ["none", "some", "very"],
                "ordered": True,
                "value_labels": {"none": "None", "some": "Some", "very": "Very"},
                "label": "Comfort in groups",
                "describes": "state",
                "actionable": {"towards": "very", "step": "feel more comfortable"},
            },
            "days": {
                "type": "integer",
                "minimum": 0,
                "maximum": 1000,
                "label": "Days since last use",
                "describes": "state",
                "actionable": {"grows_with_time": "days"},
            },
            "danger": {
                "type": "boolean",
                "label": "Danger now",
                "safety_critical": True,
                "describes": "state",
            },
            "violent": {"type": "boolean", "label": "Violent before", "describes": "history"},
        },
        "decisions": [
            {
                "id": "refer-danger",
                "when": "danger",
                "outcome": "refer",
                "code": "DANGER",
                "text": "Danger.",
            },
            {
                "id": "defer-agreements",
                "when": "not agrees",
                "outcome": "defer",
                "code": "AGREE",
                "text": "Agree first.",
                "rescreen_after_days": 7,
            },
            {
                "id": "defer-unready",
                "when": 'not plan and comfort < "very"',
                "outcome": "defer",
                "code": "UNREADY",
                "text": "Not ready.",
                "rescreen_after_days": 14,
            },
            {
                "id": "defer-recent-use",
                "when": "days < 30",
                "outcome": "defer",
                "code": "RECENT",
                "text": "Recent use.",
                "rescreen_after_days": 30,
            },
        ],
    }
    document.update(changes)
    return document


READY = {"plan": True, "agrees": True, "comfort": "very", "days": 40, "danger": False}


@pytest.fixture(scope="module")
def steps() -> Ruleset:
    return load_document(_document())


def _problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RulesetError) as raised:
        load_document(document)
    return [(p.path, p.code) for p in raised.value.problems]


# --- the format ---------------------------------------------------------------------------


def test_a_safety_critical_input_is_never_actionable() -> None:
    document = _document()
    document["inputs"]["danger"]["actionable"] = {"towards": False}
    assert _problems(document) == [("$.inputs.danger.actionable", "actionable-safety-critical")]


@pytest.mark.parametrize("describes", ["history", "identity"])
def test_history_and_identity_are_never_actionable(describes: str) -> None:
    document = _document()
    document["inputs"]["violent"].update(describes=describes, actionable={"towards": False})
    with pytest.raises(RulesetError) as raised:
        load_document(document)
    [problem] = raised.value.problems
    assert (problem.path, problem.code) == (
        "$.inputs.violent.actionable",
        f"actionable-{describes}",
    )
    assert "'violent'" in problem.message


def test_an_actionable_input_says_what_it_describes() -> None:
    document = _document()
    del document["inputs"]["plan"]["describes"]
    assert _problems(document) == [("$.inputs.plan.actionable", "actionable-needs-state")]


@pytest.mark.parametrize(
    ("name", "actionable", "path"),
    [
        ("plan", {"towards": "yes"}, "$.inputs.plan.actionable.towards"),
        ("comfort", {"towards": "lots"}, "$.inputs.comfort.actionable.towards"),
        ("days", {"towards": True}, "$.inputs.days.actionable.towards"),
        ("plan", {"grows_with_time": "days"}, "$.inputs.plan.actionable.grows_with_time"),
        ("plan", {"step": "make a plan"}, "$.inputs.plan.actionable"),
        ("plan", {"towards": True, "grows_with_time": "days"}, "$.inputs.plan.actionable"),
    ],
)
def test_the_direction_must_fit_the_type(name: str, actionable: dict[str, Any], path: str) -> None:
    document = _document()
    document["inputs"][name]["actionable"] = actionable
    assert _problems(document) == [(path, "bad-actionable")]


def test_next_steps_never_lead_past_a_safety_rule_by_declaration() -> None:
    document = _document()
    document["decisions"][0]["next_steps"] = True
    assert _problems(document) == [("$.decisions[0].next_steps", "safety-rule-next-steps")]


def test_a_rule_over_a_domain_that_reads_a_safety_answer_passes_only_when_declared() -> None:
    document = _document(
        domains={
            "readiness": {
                "title": "Readiness",
                "rules": [
                    {"id": "ready-plan", "when": "plan", "points": 2, "code": "PLAN", "text": "p"},
                    {
                        "id": "ready-danger",
                        "when": "danger",
                        "points": -2,
                        "code": "D",
                        "text": "d",
                    },
                ],
                "bands": [{"name": "low", "min": -2, "max": 1}, {"name": "ok", "min": 2, "max": 2}],
            }
        }
    )
    document["decisions"][2]["when"] = 'readiness.band == "low"'
    applicant = {**READY, "plan": False}
    held = load_document(document).evaluate(applicant).next_steps()
    assert [(h.rule, h.why) for h in held.held_by] == [("defer-unready", "not-passable")]
    document["decisions"][2]["next_steps"] = True
    ruleset = load_document(document)
    assert not ruleset.compiled.decisions[2].safety
    [only] = ruleset.evaluate(applicant).next_steps().sets
    assert [(c.input, c.after) for c in only.changes] == [("plan", True)]


def test_v1_documents_refuse_the_keys() -> None:
    document = _document(format="recovery-screening/v1")
    document["inputs"]["comfort"].pop("value_labels")
    document["decisions"][1]["next_steps"] = False
    found = _problems(document)
    assert ("$.inputs.plan.actionable", "needs-v2") in found
    assert ("$.inputs.plan.describes", "needs-v2") in found
    assert ("$.decisions[1].next_steps", "needs-v2") in found


def test_passability_defaults(steps: Ruleset) -> None:
    rules = {rule.id: rule for rule in steps.compiled.decisions}
    assert (rules["refer-danger"].safety, rules["refer-danger"].next_steps) == (True, False)
    assert rules["defer-agreements"].next_steps and not rules["defer-agreements"].safety
    [field] = [f for f in steps.inputs if f.name == "plan"]
    assert field.describes == "state" and field.actionable is not None


# --- the search ---------------------------------------------------------------------------


def _apply(decision: Decision, step_set: Any) -> dict[str, Any]:
    applicant = decision.applicant()
    growing = [
        f.name
        for f in decision.trace.ruleset.inputs.fields
        if f.actionable is not None and f.actionable.grows_with_time and f.name in applicant
    ]
    for change in step_set.changes:
        if change.input == WAIT:
            for name in growing:
                applicant[name] += change.after
        else:
            applicant[change.input] = change.after
    return applicant


def test_smallest_sets_with_the_rules_they_lift(steps: Ruleset) -> None:
    decision = steps.evaluate({**READY, "plan": False, "comfort": "none", "agrees": False})
    assert decision.deciding == ("defer-agreements", "defer-unready")
    result = decision.next_steps()
    assert [[(c.input, c.after) for c in s.changes] for s in result.sets] == [
        [("plan", True), ("agrees", True)],
        [("agrees", True), ("comfort", "very")],
    ]
    first = result.sets[0]
    assert first.outcome == "admit" and first.rules == ("defer-agreements", "defer-unready")
    assert [c.rules for c in first.changes] == [("defer-unready",), ("defer-agreements",)]
    assert (
        first.text
        == "If you make a plan and answer 'Agrees' with 'yes', the outcome would be: admit."
    )
    assert result.bound is None and result.held_by == ()
    assert result.to_dict()["sets"][0]["changes"][0]["before"] is False


def test_an_ordered_choice_moves_only_as_far_as_needed() -> None:
    document = _document()
    document["decisions"][2]["when"] = 'not plan and comfort < "some"'
    decision = load_document(document).evaluate({**READY, "plan": False, "comfort": "none"})
    sets = decision.next_steps().sets
    assert [[(c.input, c.after) for c in s.changes] for s in sets] == [
        [("plan", True)],
        [("comfort", "some")],
    ]
    assert sets[1].text == (
        "If you feel more comfortable (at least: Some), the outcome would be: admit."
    )


def test_time_is_the_only_path(steps: Ruleset) -> None:
    decision = steps.evaluate({**READY, "days": 12})
    result = decision.next_steps()
    [only] = result.sets
    assert (only.wait_days, only.come_back_after_days) == (18, 30)
    assert result.come_back_after_days == 30  # the rule's rescreen_after_days is later
    assert "come back in 30 days" in only.text
    assert steps.evaluate(_apply(decision, only)).outcome == "admit"
    assert steps.evaluate({**READY, "days": 29}).outcome == "defer"


def test_a_safety_rule_holds(steps: Ruleset) -> None:
    decision = steps.evaluate({**READY, "danger": True, "agrees": False})
    result = decision.next_steps()
    assert result.sets == () and result.evaluations == 0
    assert [(h.rule, h.why) for h in result.held_by] == [("refer-danger", "safety-rule")]
    assert "never lead past it" in result.explain()


def test_a_refer_rule_passes_only_where_the_ruleset_allows() -> None:
    document = _document()
    document["decisions"].append(
        {
            "id": "refer-no-plan",
            "when": "not plan",
            "outcome": "refer",
            "code": "NO_PLAN",
            "text": "No plan.",
        }
    )
    applicant = {**READY, "plan": False}
    held = load_document(document).evaluate(applicant).next_steps()
    assert [(h.rule, h.why) for h in held.held_by] == [("refer-no-plan", "not-passable")]
    document["decisions"][-1]["next_steps"] = True
    allowed = load_document(document).evaluate(applicant).next_steps()
    assert [(s.outcome, [c.input for c in s.changes]) for s in allowed.sets] == [
        ("admit", ["plan"])
    ]


def test_missing_required_answers_hold_admit(steps: Ruleset) -> None:
    decision = steps.evaluate({**READY, "agrees": None, "plan": False, "comfort": "none"})
    assert decision.outcome == "defer" and decision.needs == ("agrees",)
    result = decision.next_steps()
    assert result.sets == ()
    assert [(h.rule, h.why) for h in result.held_by] == [("needs", "needs")]


def test_a_rule_over_no_actionable_answer_holds() -> None:
    document = _document()
    document["decisions"][1]["when"] = "violent"
    result = load_document(document).evaluate({**READY, "violent": True}).next_steps()
    assert [(h.rule, h.why) for h in result.held_by] == [("defer-agreements", "not-actionable")]


def test_bounds_are_reported(steps: Ruleset) -> None:
    decision = steps.evaluate({**READY, "plan": False, "comfort": "none", "agrees": False})
    assert decision.next_steps(max_changes=1).bound == "max-changes"
    cut = decision.next_steps(max_evaluations=1)
    assert (cut.bound, cut.evaluations) == ("max-evaluations", 1)
    assert "stopped at a bound" in cut.explain()


def test_an_admit_has_no_next_steps(steps: Ruleset) -> None:
    result = steps.evaluate(READY).next_steps()
    assert (result.sets, result.evaluations) == ((), 0)


def test_the_ruleset_must_be_the_one_that_decided(steps: Ruleset) -> None:
    other = load_document(_document(version="1.0.1"))
    with pytest.raises(NextStepsError):
        next_steps(steps.evaluate(READY), other)


def test_bad_bounds_are_refused(steps: Ruleset) -> None:
    with pytest.raises(ValueError, match="max_changes"):
        steps.evaluate(READY).next_steps(max_changes=0)


def test_a_v1_decision_has_no_actionable_inputs(mini: Ruleset) -> None:
    result = mini.evaluate({"withdrawal": "none"}).next_steps()
    assert result.sets == () and result.actionable == ()


def test_a_case_can_expect_next_steps(steps: Ruleset) -> None:
    from recovery_screening.designer.cases import run_case
    from recovery_screening.designer.testing import case_problems

    applicant = {**READY, "plan": False, "comfort": "none", "agrees": False}
    case = {"id": "c", "applicant": applicant, "expect": {"outcome": "defer"}}
    right = {"outcome": "defer", "next_steps": [["comfort", "agrees"], ["agrees", "plan"]]}
    assert run_case(steps, {**case, "expect": right}).passed
    wrong = {"outcome": "defer", "next_steps": [["agrees"]]}
    result = run_case(steps, {**case, "expect": wrong})
    assert result.failures == (
        "next_steps: expected [[agrees]], got [[agrees, comfort], [agrees, plan]]",
    )
    shape = {**case, "expect": {"outcome": "defer", "next_steps": ["agrees"]}}
    assert [p.code for p in case_problems(shape, 0)] == ["wrong-type"]


def test_a_v1_case_cannot_expect_next_steps() -> None:
    document = _document(format="recovery-screening/v1")
    for spec in document["inputs"].values():
        for key in ("describes", "actionable", "value_labels"):
            spec.pop(key, None)
    document["tests"] = [
        {"id": "c", "applicant": READY, "expect": {"outcome": "admit", "next_steps": []}}
    ]
    assert _problems(document) == [("$.tests[0].expect.next_steps", "needs-v2")]


# --- properties against brute force -------------------------------------------------------

BOOLEANS = ("a", "b", "c")
"""Generated rulesets: booleans a-c (each actionable towards true, towards false, or not),
an ordered enum e, days n growing with time, a safety-critical s, and a domain over a-c."""
MAX_WAIT = 40


def _literal() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from([*BOOLEANS, *(f"not {b}" for b in BOOLEANS)]),
        st.sampled_from(['e == "lo"', 'e <= "mid"', 'e >= "mid"', 'e != "hi"']),
        st.integers(1, 50).flatmap(lambda k: st.sampled_from([f"n < {k}", f"n >= {k}"])),
        st.just("s"),
        st.just('points.band == "low"'),
    )


@st.composite
def _condition(draw: st.DrawFn) -> str:
    literals = draw(st.lists(_literal(), min_size=1, max_size=2))
    joiner = draw(st.sampled_from([" and ", " or "]))
    return joiner.join(literals)


@st.composite
def _rulesets(draw: st.DrawFn) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in BOOLEANS:
        towards = draw(st.sampled_from([True, False, None]))
        spec: dict[str, Any] = {"type": "boolean", "label": name, "describes": "state"}
        if towards is not None:
            spec["actionable"] = {"towards": towards}
        inputs[name] = spec
    inputs["e"] = {
        "type": "enum",
        "values": ["lo", "mid", "hi"],
        "ordered": True,
        "value_labels": {"lo": "Lo", "mid": "Mid", "hi": "Hi"},
        "label": "e",
        "describes": "state",
    }
    if draw(st.booleans()):
        inputs["e"]["actionable"] = {"towards": draw(st.sampled_from(["hi", "lo"]))}
    inputs["n"] = {"type": "integer", "minimum": 0, "maximum": 100, "label": "n"}
    if draw(st.booleans()):
        inputs["n"].update(describes="state", actionable={"grows_with_time": "days"})
    inputs["s"] = {"type": "boolean", "label": "s", "safety_critical": True}
    decisions = []
    for index in range(draw(st.integers(1, 4))):
        rule: dict[str, Any] = {
            "id": f"rule-{index}",
            "when": draw(_condition()),
            "outcome": draw(st.sampled_from(["defer", "refer", "admit"])),
            "code": f"RULE_{index}",
            "text": "A rule.",
        }
        safety = "s" in rule["when"].split()
        if rule["outcome"] == "refer" and not safety and draw(st.booleans()):
            rule["next_steps"] = True
        if rule["outcome"] == "defer" and draw(st.booleans()):
            rule["rescreen_after_days"] = draw(st.integers(0, 30))
        decisions.append(rule)
    return {
        "format": "recovery-screening/v2",
        "kind": "screening",
        "id": "generated",
        "version": "1.0.0",
        "title": "Generated",
        "hit_policy": draw(st.sampled_from(["protective", "first"])),
        "default": {"outcome": draw(st.sampled_from(["admit", "defer"])), "code": "D", "text": "d"},
        "inputs": inputs,
        "domains": {
            "points": {
                "title": "Points",
                "rules": [
                    {
                        "id": f"points-{b}",
                        "when": b,
                        "points": 1,
                        "code": f"P_{b.upper()}",
                        "text": b,
                    }
                    for b in BOOLEANS
                ],
                "bands": [
                    {"name": "low", "min": 0, "max": 1},
                    {"name": "high", "min": 2, "max": 3},
                ],
            }
        },
        "decisions": decisions,
    }


def _applicants() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            **{name: st.sampled_from([True, False, None]) for name in BOOLEANS},
            "e": st.sampled_from(["lo", "mid", "hi", None]),
            "n": st.one_of(st.none(), st.integers(0, 60)),
            "s": st.sampled_from([True, False, None]),
        }
    )


def _options(ruleset: Ruleset, decision: Decision) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every dimension brute force may change, with all its improving values (every day)."""
    facts = decision.facts
    for field in ruleset.inputs:
        actionable = field.actionable
        value = facts.get(field.name)
        if actionable is None or value is None:
            continue
        if actionable.grows_with_time:
            yield WAIT, tuple(range(1, MAX_WAIT + 1))
        elif field.kind == "enum":
            values = list(field.values)
            here, there = values.index(value), values.index(actionable.towards)
            step = 1 if there > here else -1
            improving = tuple(values[i] for i in range(here + step, there + step, step))
            if improving:
                yield field.name, improving
        elif value != actionable.towards:
            yield field.name, (actionable.towards,)


def _valid(ruleset: Ruleset, decision: Decision, candidate: Decision) -> bool:
    rank = RANK[candidate.outcome]
    if rank >= RANK[decision.outcome]:
        return False
    for before, after, rule in zip(
        decision.trace.truths, candidate.trace.truths, ruleset.compiled.decisions, strict=True
    ):
        if not rule.next_steps and (before is True or after is True) and rank < rule.rank:
            return False
    return True


def _brute_force(ruleset: Ruleset, decision: Decision, limit: int) -> dict[str, int]:
    """The size of the smallest valid set reaching each outcome, by trying every set."""
    options = list(_options(ruleset, decision))
    smallest: dict[str, int] = {}
    for size in range(1, min(limit, len(options)) + 1):
        for chosen in itertools.combinations(options, size):
            for values in itertools.product(*(values for _, values in chosen)):
                applicant = decision.applicant()
                for (name, _), value in zip(chosen, values, strict=True):
                    if name == WAIT:
                        applicant["n"] += value
                    else:
                        applicant[name] = value
                candidate = ruleset.evaluate(applicant)
                if _valid(ruleset, decision, candidate):
                    smallest.setdefault(candidate.outcome, size)
    return smallest


def _reached(result: NextSteps) -> dict[str, int]:
    reached: dict[str, int] = {}
    for step_set in result.sets:
        reached.setdefault(step_set.outcome, len(step_set.changes))
    return reached


_UNDECIDED_REFER = {
    "format": "recovery-screening/v2",
    "kind": "screening",
    "id": "generated",
    "version": "1.0.0",
    "title": "Generated",
    "hit_policy": "protective",
    "default": {"outcome": "admit", "code": "D", "text": "d"},
    "inputs": {
        name: {"type": "boolean", "label": name, "describes": "state",
               "actionable": {"towards": True}}
        for name in ("a", "b", "c")
    },
    "domains": {
        "points": {
            "title": "Points",
            "rules": [
                {"id": f"points-{name}", "when": name, "points": 1, "code": f"P_{name.upper()}",
                 "text": name}
                for name in ("a", "b", "c")
            ],
            "bands": [{"name": "low", "min": 0, "max": 1}, {"name": "high", "min": 2, "max": 3}],
        }
    },
    "decisions": [
        {"id": "rule-0", "when": "b", "outcome": "refer", "code": "RULE_0", "text": "A rule."},
        {"id": "rule-1", "when": 'points.band == "low"', "outcome": "refer", "code": "RULE_1",
         "text": "A rule."},
        {"id": "rule-2", "when": "a", "outcome": "admit", "code": "RULE_2", "text": "A rule."},
    ],
}  # fmt: skip
"""Found by a randomised run: with `b` missing every completion refers (rule-0 or rule-1), and
changing `c` lifts rule-1 while rule-0 stays undecided, which gives defer. The search pruned
that away, taking the undecided rule-0 (which reads only the missing `b`) as a hold."""


@example(_UNDECIDED_REFER, {"a": True, "b": None, "c": False})
@given(_rulesets(), _applicants())
def test_next_steps_are_exact_against_brute_force(
    document: dict[str, Any], applicant: dict[str, Any]
) -> None:
    ruleset = load_document(copy.deepcopy(document))
    decision = ruleset.evaluate(applicant)
    result = next_steps(decision, ruleset, max_changes=5, max_wait_days=MAX_WAIT)
    assert result.bound is None
    actionable = {f.name for f in ruleset.inputs if f.actionable is not None}
    for step_set in result.sets:
        # every suggested set changes the outcome when applied, and touches only actionable inputs
        candidate = ruleset.evaluate(_apply(decision, step_set))
        assert candidate.outcome == step_set.outcome
        assert _valid(ruleset, decision, candidate)
        assert {c.input for c in step_set.changes} <= actionable | {WAIT}
    brute = _brute_force(ruleset, decision, 5)
    # the most permissive outcome brute force reaches is reached, by a set no larger
    if brute:
        best = min(brute, key=RANK.__getitem__)
        assert result.sets and result.sets[0].outcome == best
        assert len(result.sets[0].changes) == min(
            size for outcome, size in brute.items() if RANK[outcome] <= RANK[best]
        )
    else:
        assert result.sets == ()
    # and no reported set is larger than the smallest brute force finds for its outcome
    for outcome, size in _reached(result).items():
        assert size == min(s for o, s in brute.items() if RANK[o] <= RANK[outcome])
    # a rule that next steps may not pass, and that applies, is never passed
    for rule, truth in zip(ruleset.compiled.decisions, decision.trace.truths, strict=True):
        if truth is True and not rule.next_steps:
            assert all(RANK[s.outcome] >= rule.rank for s in result.sets)
    # determinism
    again = next_steps(decision, ruleset, max_changes=5, max_wait_days=MAX_WAIT)
    assert again.to_dict() == result.to_dict()
