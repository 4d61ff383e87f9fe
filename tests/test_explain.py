"""One outline of sections, rendered as text, as a CDS Hooks card and as a FHIR RiskAssessment."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from recovery_screening import InvalidApplicant, Ruleset
from recovery_screening.designer.strategies import applicants, without
from recovery_screening.explain import AUDIENCES, SECTIONS, Audience, Outline, explain, render
from recovery_screening.models import (
    AdvisoryApplied,
    AdvisoryUndecided,
    DomainScore,
    EngineRef,
    InstrumentScore,
    Reason,
    Referral,
    RulesetRef,
    UndecidedRule,
)
from recovery_screening.next_steps import NextSteps

REPO = Path(__file__).parent.parent


class _Recorder(Outline):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def outcome(self, outcome: str, label: str | None) -> None:
        self.calls.append("outcome")

    def because(self, reasons: list[Reason]) -> None:
        assert reasons and all(reason.deciding for reason in reasons)
        self.calls.append("because")

    def also_applies(self, reasons: list[Reason]) -> None:
        assert reasons and not any(reason.deciding for reason in reasons)
        self.calls.append("also_applies")

    def referrals(self, referrals: list[Referral]) -> None:
        assert referrals
        self.calls.append("referrals")

    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        assert applied or undecided
        self.calls.append("advisories")

    def needs(self, needs: list[str]) -> None:
        assert needs
        self.calls.append("needs")

    def rescreen(self, days: int) -> None:
        self.calls.append("rescreen")

    def next_steps(self, steps: NextSteps) -> None:
        assert steps.sets
        self.calls.append("next_steps")

    def undecided(self, rules: list[UndecidedRule]) -> None:
        assert rules
        self.calls.append("undecided")

    def domains(self, domains: list[DomainScore]) -> None:
        assert domains
        self.calls.append("domains")

    def instruments(self, instruments: list[InstrumentScore]) -> None:
        assert instruments
        self.calls.append("instruments")

    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        self.calls.append("provenance")


def test_every_section_is_a_method_every_rendering_must_implement() -> None:
    assert Outline.__abstractmethods__ == frozenset(SECTIONS)


def test_sections_come_in_outline_order_and_only_when_present(intake: Ruleset) -> None:
    cohort = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()
    seen: set[str] = set()
    for line in itertools.islice(cohort, 300):
        applicant = json.loads(line)
        if intake.applicant_problems(applicant):
            continue
        recorder = _Recorder()
        render(intake.evaluate(applicant).model, recorder)
        assert recorder.calls == [name for name in SECTIONS if name in recorder.calls]
        assert recorder.calls[:2] == ["outcome", "because"]
        assert recorder.calls[-1] == "provenance"
        seen.update(recorder.calls)
    assert seen == set(SECTIONS) - {"advisories", "next_steps"}  # a v1 ruleset has neither


def test_next_steps_come_after_the_rescreen_when_given() -> None:
    from recovery_screening import load_ruleset

    ruleset = load_ruleset("peer-support-intake@1.2.0")
    path = REPO / "examples" / "applicants" / "intake-1.1" / "defer-stability.json"
    decision = ruleset.evaluate(json.loads(path.read_text()))
    recorder = _Recorder()
    render(decision.model, recorder, decision.next_steps())
    assert recorder.calls == [name for name in SECTIONS if name in recorder.calls]
    assert recorder.calls[recorder.calls.index("rescreen") + 1] == "next_steps"
    held = ruleset.evaluate(json.loads(path.with_name("refer-safety.json").read_text()))
    recorder = _Recorder()
    render(held.model, recorder, held.next_steps())
    assert "next_steps" not in recorder.calls  # held by a safety rule: no set to show


def test_a_v2_decision_has_its_advisories_section_after_the_referrals() -> None:
    from recovery_screening import load_ruleset

    mini_v2 = load_ruleset(REPO / "tests" / "fixtures" / "rulesets" / "mini-v2" / "1.0.0.yaml")
    for applicant in ({"withdrawal": "severe", "injects": True}, {"ready": 8}):
        recorder = _Recorder()
        render(mini_v2.evaluate(applicant).model, recorder)
        assert "advisories" in recorder.calls
        assert recorder.calls == [name for name in SECTIONS if name in recorder.calls]


def test_the_text_follows_the_outline(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "defer-missing.json").read_text())
    text = intake.evaluate(applicant).explain()
    headings = ["Because:", "Answers needed", "Domains:", "Instruments:", "Ruleset "]
    positions = [text.index(heading) for heading in headings]
    assert positions == sorted(positions)


# --- two audiences --------------------------------------------------------------------------

SNAPSHOTS = REPO / "tests" / "snapshots" / "explain"
EXAMPLES = [
    *((path, "peer-support-intake@1.0.0")
      for path in sorted((REPO / "examples" / "applicants").glob("*.json"))
      if path.name != "phq-9-answers.json"),
    *((path, "peer-support-intake@1.1.0")
      for path in sorted((REPO / "examples" / "applicants" / "intake-1.1").glob("*.json"))),
    *((path, "peer-support-intake@1.2.0")
      for path in sorted((REPO / "examples" / "applicants" / "intake-1.1").glob("*.json"))),
    (REPO / "examples" / "applicants" / "phq-9-answers.json", "phq-9@1.1.0"),
    *((path, reference)
      for version in ("1.1.0", "1.2.0")
      for ruleset in ("group-leader-readiness", "continuing-support")
      for reference in [f"{ruleset}@{version}"]
      for path in sorted((REPO / "examples" / ruleset).glob("*.json"))),
]  # fmt: skip


def _snapshot_name(path: Path, reference: str, audience: str) -> str:
    return f"{reference.replace('@', '-')}/{path.stem}.{audience}.txt"


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize(
    ("path", "reference"),
    [pytest.param(p, r, id=f"{r}:{p.parent.name}/{p.stem}") for p, r in EXAMPLES],
)
def test_example_explanations_match_their_snapshots(
    path: Path, reference: str, audience: Audience
) -> None:
    """`UPDATE_SNAPSHOTS=1 pytest tests/test_explain.py` writes them again after a deliberate
    change; review the diff before committing."""
    from recovery_screening import load_ruleset

    text = load_ruleset(reference).evaluate(json.loads(path.read_text())).explain(audience)
    snapshot = SNAPSHOTS / _snapshot_name(path, reference, audience)
    if os.environ.get("UPDATE_SNAPSHOTS"):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == snapshot.read_text(encoding="utf-8")


def test_the_default_audience_is_staff(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "refer-safety.json").read_text())
    decision = intake.evaluate(applicant)
    assert decision.explain() == decision.explain("staff") == explain(decision)
    assert decision.explain().startswith("Outcome: REFER")


def test_an_unknown_audience_is_refused(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "admit.json").read_text())
    with pytest.raises(ValueError, match="audience must be one of staff, applicant"):
        intake.evaluate(applicant).explain("patient")  # type: ignore[arg-type]


def test_a_standalone_instrument_reports_its_score_not_an_admission() -> None:
    from recovery_screening import load_ruleset

    phq9 = load_ruleset("phq-9")
    flagged = {f"q{n}": 1 for n in range(1, 10)}
    for audience in AUDIENCES:
        for answers in (flagged, {**flagged, "q9": 0}, without(flagged, {"q9"})):
            text = phq9.evaluate(answers).explain(audience)
            assert "Outcome" not in text and "ADMIT" not in text and "Result:" not in text
            assert "Patient Health Questionnaire-9 (PHQ-9)" in text.splitlines()[0]
    staff = phq9.evaluate(flagged).explain("staff").splitlines()
    assert staff[0] == "Patient Health Questionnaire-9 (PHQ-9): 9 of 0-27, mild (safety follow-up)"
    assert staff[1].strip().startswith("SAFETY: ")
    assert "Instruments:" not in staff  # said once, at the top
    applicant = phq9.evaluate(flagged).explain("applicant").splitlines()
    assert applicant[0] == (
        "Your Patient Health Questionnaire-9 (PHQ-9) score: 9 out of 27, Mild depression"
    )


def test_the_applicant_is_asked_the_questions_still_needed(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / "defer-missing.json").read_text())
    decision = intake.evaluate(applicant)
    text = decision.explain("applicant")
    questions = decision.trace.ruleset.questions
    for name in decision.needs:
        assert questions[name].label in text
        assert name not in text
    assert "phq9.q9" in decision.explain("staff")


def _identifiers(ruleset: Ruleset) -> set[str]:
    """What a person is not shown: every rule id, reason code, input and band name of the
    ruleset that reads as an identifier (plain words such as `housing` can be prose)."""
    compiled = ruleset.compiled
    names = {
        compiled.id,
        *(rule.id for rule in compiled.decisions),
        *(rule.code for rule in compiled.decisions),
        *(rule.id for rule in compiled.advisories),
        *(rule.code for rule in compiled.advisories),
        compiled.default.code,
        compiled.incomplete.code,
        *(field.name for field in compiled.inputs.fields),
        *compiled.referral_targets,
    }
    for domain in compiled.domains:
        names.add(domain.name)
        names.update(band.name for band in domain.bands.bands)
        names.update(rule.id for rule in domain.rules)
        names.update(rule.code for rule in domain.rules)
    for instrument in compiled.instruments:
        names.update(flag.code for flag in instrument.flags)
        if instrument.bands is not None:
            names.update(band.name for band in instrument.bands.bands)
    return {name for name in names if re.search(r"[_.\-0-9]", name) or name.isupper()}


APPLICANT_RULESETS = [
    pytest.param(reference, id=reference)
    for reference in (
        "peer-support-intake@1.0.0", "peer-support-intake@1.1.0", "peer-support-intake@1.2.0",
        "group-leader-readiness",
        "continuing-support", "phq-9", "audit",
    )
]  # fmt: skip


@pytest.mark.parametrize("reference", APPLICANT_RULESETS)
@given(data=st.data())
def test_the_applicant_text_never_shows_an_identifier_code_or_hash(
    reference: str, data: st.DataObject
) -> None:
    ruleset = _loaded(reference)
    applicant = data.draw(applicants(ruleset, missing=0.1))
    try:
        text = ruleset.evaluate(applicant).explain("applicant")
    except InvalidApplicant:
        return
    for name in _identifiers(ruleset):
        assert not re.search(rf"(?<![\w.\-]){re.escape(name)}(?![\w\-]|\.\w)", text), name
    assert "sha256" not in text and not re.search(r"[0-9a-f]{12}", text)
    assert not re.search(r"\b(ADMIT|DEFER|REFER)\b|\[|\w = ", text)


_RULESETS: dict[str, Ruleset] = {}


def _loaded(reference: str) -> Ruleset:
    from recovery_screening import load_ruleset

    if reference not in _RULESETS:
        _RULESETS[reference] = load_ruleset(reference)
    return _RULESETS[reference]
