"""Test cases: an applicant and what its decision must be (outcome, reasons, needs, referrals,
and in format v2 the codes of the advisories that apply and the sets of next steps)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recovery_screening.decision import Decision
from recovery_screening.errors import InvalidApplicant
from recovery_screening.ruleset import Ruleset


@dataclass(frozen=True)
class CaseResult:
    """The result of one test case; `failures` says what differed, in words."""

    case_id: str
    passed: bool
    failures: tuple[str, ...] = ()
    decision: Decision | None = field(default=None, compare=False)


def decision_codes(decision: Decision) -> set[str]:
    """Every reason code in a decision: decision rules, domain contributions and raised flags."""
    model = decision.model
    codes = {reason.code for reason in model.reasons}
    codes.update(part.code for domain in model.domains for part in domain.contributions)
    codes.update(flag.code for instrument in model.instruments for flag in instrument.flags)
    return codes


def run_case(ruleset: Ruleset, case: Mapping[str, Any]) -> CaseResult:
    """Evaluate one case and compare the decision with its `expect` block."""
    case_id = str(case.get("id", "?"))
    expect = case["expect"]
    try:
        decision = ruleset.evaluate(case["applicant"])
    except InvalidApplicant as error:
        details = "; ".join(f"{p.path}: {p.message}" for p in error.problems)
        return CaseResult(case_id, False, (f"the applicant is invalid: {details}",))
    failures = []
    if decision.outcome != expect["outcome"]:
        failures.append(f"outcome: expected {expect['outcome']}, got {decision.outcome}")
    if "reasons" in expect:
        missing = sorted(set(expect["reasons"]) - decision_codes(decision))
        if missing:
            failures.append(f"reasons: expected {', '.join(missing)} among the reasons")
    if "needs" in expect and sorted(expect["needs"]) != list(decision.needs):
        failures.append(
            f"needs: expected [{', '.join(sorted(expect['needs']))}], "
            f"got [{', '.join(decision.needs)}]"
        )
    if "referrals" in expect and sorted(expect["referrals"]) != sorted(decision.referral_targets):
        failures.append(
            f"referrals: expected [{', '.join(sorted(expect['referrals']))}], "
            f"got [{', '.join(sorted(decision.referral_targets))}]"
        )
    if "advisories" in expect:
        applied = decision.to_dict().get("advisories") or []
        got = sorted(advice["code"] for advice in applied)
        if sorted(expect["advisories"]) != got:
            failures.append(
                f"advisories: expected [{', '.join(sorted(expect['advisories']))}], "
                f"got [{', '.join(got)}]"
            )
    if "next_steps" in expect:
        failures.extend(_next_steps_failures(ruleset, decision, expect["next_steps"]))
    return CaseResult(case_id, not failures, tuple(failures), decision)


def _next_steps_failures(ruleset: Ruleset, decision: Decision, expected: Any) -> list[str]:
    """`expect.next_steps`: exactly these sets, each named by the inputs it changes."""
    from recovery_screening.next_steps import next_steps

    found = next_steps(decision, ruleset)
    got = sorted(sorted(change.input for change in step.changes) for step in found.sets)
    wanted = sorted(sorted(names) for names in expected)
    if got == wanted:
        return []
    return [f"next_steps: expected {_sets(wanted)}, got {_sets(got)}"]


def _sets(sets: list[list[str]]) -> str:
    return "[" + ", ".join("[" + ", ".join(names) + "]" for names in sets) + "]"


def run_embedded_cases(ruleset: Ruleset) -> list[CaseResult]:
    """Run every test case embedded in the ruleset document."""
    return [run_case(ruleset, case) for case in ruleset.tests]
