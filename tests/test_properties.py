"""Properties of evaluation over generated applicants, for the shipped rulesets."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_screening import InvalidApplicant, Ruleset, load_ruleset, shipped_rulesets_directory
from recovery_screening.designer.strategies import answered_paths, applicants, without

SHIPPED = {
    f"{path.parent.name}@{path.stem}": load_ruleset(path)
    for path in shipped_rulesets_directory().glob("*/*.yaml")
}
RULESETS = [pytest.param(ruleset, id=name) for name, ruleset in sorted(SHIPPED.items())]
INTAKE_V2 = load_ruleset(Path(__file__).parent / "fixtures" / "v2" / "peer-support-intake.yaml")
INTAKES = [
    *(
        pytest.param(ruleset, id=name)
        for name, ruleset in sorted(SHIPPED.items())
        if name.startswith("peer-support-intake@")
    ),
    pytest.param(INTAKE_V2, id="v2-exact"),
]


@pytest.mark.parametrize("ruleset", RULESETS)
@given(data=st.data())
def test_generated_applicants_evaluate_deterministically(
    ruleset: Ruleset, data: st.DataObject
) -> None:
    applicant = data.draw(applicants(ruleset, missing=0.05))
    first = ruleset.evaluate(applicant).to_json()
    shuffled = dict(sorted(applicant.items(), key=lambda _: random.random()))
    assert ruleset.evaluate(json.loads(json.dumps(shuffled))).to_json() == first


@pytest.mark.parametrize("ruleset", RULESETS)
@given(data=st.data())
def test_instrument_totals_stay_in_published_range(ruleset: Ruleset, data: st.DataObject) -> None:
    decision = ruleset.evaluate(data.draw(applicants(ruleset, complete=True)))
    for instrument in decision.instruments:
        low, high = instrument.total_range
        assert instrument.total is not None
        assert low <= instrument.total <= high
        assert instrument.band is not None or instrument.id in ("audit-c", "readiness-ruler")


@pytest.mark.parametrize("intake", INTAKES)
@given(data=st.data())
def test_admit_with_missing_answers_holds_for_the_complete_applicant(
    intake: Ruleset, data: st.DataObject
) -> None:
    """Fail-safe: if a partial applicant is admitted, the complete one is admitted too."""
    complete = data.draw(applicants(intake, complete=True))
    paths = answered_paths(complete)
    removed = data.draw(st.sets(st.sampled_from(paths), max_size=6))
    partial = intake.evaluate(without(complete, removed))
    full = intake.evaluate(complete)
    if partial.outcome == "admit":
        assert full.outcome == "admit"
    if full.outcome != "admit":
        assert partial.outcome != "admit"


@pytest.mark.parametrize("intake", INTAKES)
@given(data=st.data())
def test_removing_answers_never_turns_refer_or_defer_into_admit(
    intake: Ruleset, data: st.DataObject
) -> None:
    applicant = data.draw(applicants(intake, missing=0.02))
    decision = intake.evaluate(applicant)
    paths = answered_paths(applicant)
    removed = data.draw(st.sets(st.sampled_from(paths), max_size=4)) if paths else set()
    if decision.outcome != "admit":
        assert intake.evaluate(without(applicant, removed)).outcome != "admit"


@pytest.mark.parametrize("intake", INTAKES)
@given(data=st.data())
def test_needs_are_unanswered_and_answering_them_can_decide(
    intake: Ruleset, data: st.DataObject
) -> None:
    decision = intake.evaluate(data.draw(applicants(intake, missing=0.1)))
    if decision.outcome == "defer" and decision.deciding == ("incomplete",):
        assert decision.needs
    declared = {field.name for field in intake.inputs}
    assert set(decision.needs) <= declared


MARKER_TEXT = "ZZSECRETZZ"
MARKER_NUMBER = 987654321


def corruptions(value: Any) -> list[Any]:
    return [MARKER_TEXT, MARKER_NUMBER, -MARKER_NUMBER, [MARKER_TEXT], {"x": MARKER_TEXT}, 0.5]


@pytest.mark.parametrize("intake", INTAKES)
@given(data=st.data())
def test_invalid_values_raise_without_the_value(intake: Ruleset, data: st.DataObject) -> None:
    applicant = data.draw(applicants(intake, complete=True))
    path = data.draw(st.sampled_from(answered_paths(applicant)))
    field = next(f for f in intake.inputs if f.name == path)
    bad = data.draw(st.sampled_from(corruptions(None)))
    if field.kind == "number" and isinstance(bad, int | float) and field.minimum is not None:
        bad = field.minimum - MARKER_NUMBER
    if field.kind == "string" and isinstance(bad, str):
        bad = MARKER_TEXT * 100
    if "." in path:
        alias, item = path.split(".")
        applicant[alias][item] = bad
    else:
        applicant[path] = bad
    try:
        intake.evaluate(applicant)
    except InvalidApplicant as error:
        text = str(error) + repr(error.problems)
        assert MARKER_TEXT not in text
        assert str(MARKER_NUMBER) not in text
        assert error.fields == (f"$.{path}",)
    else:
        assert field.kind == "number" and bad == 0.5, f"{path} accepted a bad value"
