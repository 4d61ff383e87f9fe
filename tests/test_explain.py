"""One outline of sections, rendered as text, as a CDS Hooks card and as a FHIR RiskAssessment."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from recovery_screening import Ruleset
from recovery_screening.explain import SECTIONS, Outline, render
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
    assert seen == set(SECTIONS) - {"advisories"}  # a v1 ruleset has none


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
