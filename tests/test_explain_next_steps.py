"""Next steps as a section of the applicant's explanation: what they could change, in plain words.

The applicant text shows the sets of `Decision.next_steps()` (factored into choices where they
are every choice of one change per slot); every set it shows really gives the result it names.
A decision held by a safety rule, a missing answer or an admit has no such section, and the
staff text never has one.
"""

from __future__ import annotations

import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from recovery_screening import Decision, InvalidApplicant, Ruleset, load_ruleset
from recovery_screening.compiler import SCREENING_DATE
from recovery_screening.designer.strategies import answers
from recovery_screening.explain import APPLICANT_WAYS, applicant_ways
from recovery_screening.next_steps import WAIT, Change, NextSteps, StepSet
from recovery_screening.outcomes import RANK

REPO = Path(__file__).parent.parent
INTAKE_EXAMPLES = REPO / "examples" / "applicants" / "intake-1.1"
HEADING = "What could change the result:"
SHIPPED = {
    "peer-support-intake@1.2.0": INTAKE_EXAMPLES,
    "group-leader-readiness@1.2.0": REPO / "examples" / "group-leader-readiness",
    "continuing-support@1.2.0": REPO / "examples" / "continuing-support",
}
_LOADED: dict[str, Ruleset] = {}


def _ruleset(reference: str) -> Ruleset:
    if reference not in _LOADED:
        _LOADED[reference] = load_ruleset(reference)
    return _LOADED[reference]


def _decide(reference: str, path: Path) -> Decision:
    return _ruleset(reference).evaluate(json.loads(path.read_text()))


def _section(text: str) -> list[str] | None:
    """The lines of the next-steps section, or None when the text has none."""
    if HEADING not in text:
        return None
    return text[text.index(HEADING) :].split("\n\n")[0].splitlines()[1:]


# --- what is shown, and what is not ------------------------------------------------------


def test_a_safety_refer_has_no_next_steps_section() -> None:
    decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "refer-safety.json")
    steps = decision.next_steps()
    assert decision.outcome == "refer" and not steps.sets
    assert [hold.why for hold in steps.held_by] == ["safety-rule"]
    text = decision.explain("applicant")
    assert _section(text) is None and "could be" not in text
    assert "Next, we suggest:\n  - Same-day safety assessment" in text  # the referral text stays


def test_a_missing_answer_or_an_admit_has_no_section() -> None:
    for name in ("defer-missing.json", "admit.json"):
        decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / name)
        assert _section(decision.explain("applicant")) is None


def test_a_deferred_applicant_reads_what_they_could_change() -> None:
    decision = _decide(
        "peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-does-not-want-group.json"
    )
    assert _section(decision.explain("applicant")) == [
        "  - If you decide that you want to take part in a peer recovery group, the result could "
        "be: Join the group."
    ]


def test_sets_that_are_every_choice_of_one_change_per_slot_are_shown_as_choices() -> None:
    decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-several-steps.json")
    assert len(decision.next_steps().sets) == 12
    assert _section(decision.explain("applicant")) == [
        "  - If you do all of these, the result could be: Join the group.",
        "      - agree to the group agreements",
        "      - one of these:",
        "          - find stable housing with help from housing services",
        "          - start one change in your daily life that supports recovery, such as a new "
        "routine",
        "          - come back in 20 days",
        "      - one of these:",
        "          - talk with a peer worker about what you want help with",
        "          - work out a goal for your recovery in your own words",
        "          - learn about the stages of change and that setbacks can be part of recovery",
        "          - make a plan for what to do if cravings or a setback happen",
    ]


def test_time_says_when_to_come_back_no_earlier_than_the_rescreen() -> None:
    decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-stability.json")
    text = decision.explain("applicant")
    assert decision.rescreen_after_days == 14
    assert "We can screen again with you in 14 days." in text
    assert "      - come back in 14 days" in (_section(text) or [])  # the wait alone is 4 days


def test_a_refer_the_ruleset_lets_pass_shows_each_result_most_permissive_first() -> None:
    path = REPO / "examples" / "group-leader-readiness" / "own-recovery-first.json"
    section = _section(_decide("group-leader-readiness@1.2.0", path).explain("applicant"))
    assert section is not None
    assert [line for line in section if line.startswith("  - ")] == [
        "  - If you find your own regular support (a sponsor, peer supporter or counsellor), "
        "and come back in 279 days, the result could be: Ready to lead.",
        "  - If you do one of these, the result could be: Complete training first.",
    ]


def test_the_staff_text_has_no_next_steps_and_refuses_them() -> None:
    decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-stability.json")
    staff = decision.explain()
    assert HEADING not in staff and "housing services" not in staff
    with pytest.raises(ValueError, match="applicant text"):
        decision.explain("staff", next_steps=decision.next_steps())


def test_next_steps_of_another_decision_are_refused() -> None:
    admit = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "admit.json")
    deferred = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-stability.json")
    with pytest.raises(ValueError, match="decision's own"):
        admit.explain("applicant", next_steps=deferred.next_steps())


def test_given_next_steps_keep_their_bounds_and_a_bound_is_said_gently() -> None:
    decision = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-stability.json")
    cut = decision.next_steps(max_evaluations=1)
    assert cut.bound == "max-evaluations" and len(cut.sets) == 1
    assert _section(decision.explain("applicant", next_steps=cut)) == [
        "  - If you find stable housing with help from housing services, the result could be: "
        "Join the group.",
        "  There may be other ways too; we can go through them with you.",
    ]
    several = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-several-steps.json")
    none_found = several.next_steps(max_changes=2)
    assert none_found.bound == "max-changes" and not none_found.sets
    assert _section(several.explain("applicant", next_steps=none_found)) is None  # no claim


def test_next_steps_are_searched_only_where_they_can_exist(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: Decision, **bounds: int) -> NextSteps:
        raise AssertionError("searched for next steps")

    admit = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "admit.json")
    v1_defer = _decide("peer-support-intake@1.1.0", INTAKE_EXAMPLES / "defer-stability.json")
    deferred = _decide("peer-support-intake@1.2.0", INTAKE_EXAMPLES / "defer-stability.json")
    monkeypatch.setattr(Decision, "next_steps", refuse)
    assert HEADING not in admit.explain("applicant")  # admit: nothing more permissive
    assert HEADING not in v1_defer.explain("applicant")  # 1.1.0 marks no input actionable
    assert HEADING not in deferred.explain("staff")
    with pytest.raises(AssertionError, match="searched"):
        deferred.explain("applicant")


def _set(outcome: str, *changes: tuple[str, Any]) -> StepSet:
    made = tuple(
        Change(name, name, None, after, f"do {name} {after}", ()) for name, after in changes
    )
    return StepSet(outcome, "Join", made, None, None, (), "")  # type: ignore[arg-type]


def _steps(*sets: StepSet) -> NextSteps:
    return NextSteps("defer", tuple(sets), (), None, None, 1, 3, 5000)


def test_sets_that_are_not_every_choice_are_shown_one_by_one() -> None:
    # {a, b}, {a, c}, {d, b}: not a product of slots ({d, c} is missing)
    family = [_set("admit", ("a", 1), ("b", 1)), _set("admit", ("a", 1), ("c", 1))]
    family.append(_set("admit", ("d", 1), ("b", 1)))
    ways = applicant_ways(_steps(*family))
    assert [[[c.input for c in slot] for slot in way] for _, way in ways] == [
        [["a"], ["b"]],
        [["a"], ["c"]],
        [["d"], ["b"]],
    ]
    product = [_set("admit", (x, 1), (y, 1)) for x in ("a", "d") for y in ("b", "c")]
    assert [
        [[c.input for c in slot] for slot in way] for _, way in applicant_ways(_steps(*product))
    ] == [[["a", "d"], ["b", "c"]]]


def test_more_ways_than_are_written_out_are_said_to_exist() -> None:
    many = [_set("admit", (f"x{i}", 1), (f"y{i}", 1)) for i in range(APPLICANT_WAYS + 2)]
    ways = applicant_ways(_steps(*many))
    assert len(ways) == APPLICANT_WAYS


# --- the property: every set shown is a set of next_steps() that gives its result ----------

_SEPARATORS = ("; and ", ", and ", " and ", "; ", ", ")


def _split(joined: str, texts: list[str]) -> list[str] | None:
    """`joined` ("a, b and c") as the change texts it lists, or None if it lists others."""
    found, rest = [], joined
    while rest:
        text = next((t for t in sorted(texts, key=len, reverse=True) if rest.startswith(t)), None)
        if text is None:
            return None
        found.append(text)
        rest = rest[len(text) :]
        if rest:
            separator = next((s for s in _SEPARATORS if rest.startswith(s)), None)
            if separator is None:
                return None
            rest = rest[len(separator) :]
    return found


_WAY = re.compile(r"  - If you (.*), the result could be: (.*)\.")


def _shown(section: list[str], texts: list[str]) -> list[tuple[str, frozenset[str]]]:
    """Every (result, set of change texts) the section shows, read from its lines."""
    shown: list[tuple[str, frozenset[str]]] = []
    lines = iter([*section, ""])
    line = next(lines)
    while line:
        if line.startswith("  There ") and line.endswith("we can go through them with you."):
            line = next(lines)
            continue
        match = _WAY.fullmatch(line)
        assert match, line
        words, goal = match.groups()
        if words not in ("do one of these", "do all of these"):
            listed = _split(words, texts)
            assert listed is not None, line
            shown.append((goal, frozenset(listed)))
            line = next(lines)
            continue
        slots: list[list[str]] = []
        line = next(lines)
        while line.startswith("      - "):
            if line == "      - one of these:":
                slots.append([])
                line = next(lines)
                while line.startswith("          - "):
                    slots[-1].append(line[len("          - ") :])
                    line = next(lines)
                continue
            slots.append([line[len("      - ") :]])
            line = next(lines)
        if words == "do one of these":
            shown.extend((goal, frozenset([text])) for slot in slots for text in slot)
            continue
        combos: list[list[str]] = [[]]
        for slot in slots:
            combos = [[*combo, text] for combo in combos for text in slot]
        shown.extend((goal, frozenset(combo)) for combo in combos)
    return shown


def _applied(decision: Decision, step_set: StepSet) -> dict[str, Any]:
    """The applicant with the set's changes made (waiting grows every growing answer and moves
    the screening date on), built here apart from the search's own code."""
    applicant = decision.applicant()
    fields = decision.trace.ruleset.inputs.fields
    for change in step_set.changes:
        if change.input != WAIT:
            applicant[change.input] = change.after
            continue
        days = int(change.after)  # type: ignore[arg-type]
        for f in fields:
            unit = f.actionable.grows_with_time if f.actionable is not None else None
            if unit and f.name in applicant:
                applicant[f.name] += days // 31 if unit == "months" else days
        if SCREENING_DATE in applicant:
            today = datetime.date.fromisoformat(applicant[SCREENING_DATE])
            applicant[SCREENING_DATE] = (today + datetime.timedelta(days=days)).isoformat()
    return applicant


@st.composite
def _near_examples(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A shipped example applicant with some of its actionable answers (and any other
    top-level answer, now and then) drawn anew: where the next steps are."""
    reference = draw(st.sampled_from(sorted(SHIPPED)))
    ruleset = _ruleset(reference)
    path = draw(st.sampled_from(sorted(SHIPPED[reference].glob("*.json"))))
    applicant = json.loads(path.read_text())
    for f in ruleset.compiled.inputs.fields:
        if f.instrument is not None:
            continue
        chance = 0.5 if f.actionable is not None else 0.03
        if draw(st.floats(0, 1)) < chance:
            applicant[f.name] = draw(answers(f))
    return reference, applicant


@settings(max_examples=200)
@given(case=_near_examples())
def test_every_next_step_shown_is_a_set_that_gives_its_result(
    case: tuple[str, dict[str, Any]],
) -> None:
    reference, applicant = case
    ruleset = _ruleset(reference)
    try:
        decision = ruleset.evaluate(applicant)
    except InvalidApplicant:
        event("invalid applicant")
        return
    text = decision.explain("applicant")
    assert text == decision.explain("applicant")  # deterministic
    steps = decision.next_steps()
    section = _section(text)
    if not steps.sets:
        event("no next steps")
        assert section is None
        return
    event(f"next steps: {len(steps.sets)} sets")
    assert section is not None
    labels = {
        s.outcome_label or s.outcome: s for s in steps.sets
    }  # the shipped rulesets label every outcome
    texts = sorted({change.text for s in steps.sets for change in s.changes})
    shown = _shown(section, texts)
    assert shown
    by_changes = {(s.outcome_label, frozenset(c.text for c in s.changes)): s for s in steps.sets}
    for goal, changes in shown:
        assert goal in labels
        step_set = by_changes[(goal, changes)]  # a set of next_steps(), with that result
        candidate = ruleset.evaluate(_applied(decision, step_set))
        assert candidate.outcome == step_set.outcome
        assert RANK[candidate.outcome] < RANK[decision.outcome]
    if not any(line.startswith("  There are other ways") for line in section):
        assert len(set(shown)) == len(steps.sets)  # every set is shown
