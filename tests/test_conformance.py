"""The conformance suite: data files of ruleset snippets, applicants and expected decisions.

Each file in tests/conformance/ holds a `ruleset` snippet (completed with the defaults below) and
`cases`; a case's `expect` may give `outcome`, `deciding`, `needs`, `reasons` (codes, exact and
in order), `referrals`, `rescreen_after_days`, `domains` ({name: {score, band, score_range}}),
`instruments` ({alias: {total, band}}) or `invalid` (the applicant paths that must be rejected);
for format v2, `advisories` (the applied advisory ids), `advisory_referrals` (the referral targets
marked advisory) and `undecided_advisories` ({rule: missing}). A case may give `as_of`
(YYYY-MM-DD), passed to `evaluate(..., as_of=)`.
A file may instead hold `refused`: documents (snippets completed with the defaults) that must not
load, each with the `problems` ([path, code]) the checker reports (`kind: instrument` snippets are
completed with an instrument's defaults, in format v2).
A case that once found a bug stays here for good.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from recovery_screening import InvalidApplicant, Ruleset, RulesetError, load_document

CONFORMANCE = Path(__file__).parent / "conformance"
DEFAULTS: dict[str, Any] = {
    "format": "recovery-screening/v1",
    "kind": "screening",
    "id": "conformance",
    "version": "1.0.0",
    "title": "Conformance snippet",
    "default": {"outcome": "admit", "code": "ADMIT", "text": "Admitted."},
    "inputs": {},
    "decisions": [],
}
INSTRUMENT_DEFAULTS: dict[str, Any] = {
    "format": "recovery-screening/v2",
    "kind": "instrument",
    "id": "conformance-instrument",
    "version": "1.0.0",
    "title": "Conformance instrument",
    "licence": {"name": "Test only", "terms": "For the test suite.", "commercial_use": True},
}


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        for case in suite.get("cases", []):
            params.append(pytest.param(suite["ruleset"], case, id=f"{path.stem}::{case['id']}"))
    return params


_LOADED: dict[int, Ruleset] = {}


def ruleset_for(snippet: dict[str, Any]) -> Ruleset:
    key = id(snippet)
    if key not in _LOADED:
        _LOADED[key] = load_document({**DEFAULTS, **snippet}, source="conformance snippet")
    return _LOADED[key]


@pytest.mark.parametrize(("snippet", "case"), load_cases())
def test_conformance(snippet: dict[str, Any], case: dict[str, Any]) -> None:
    ruleset = ruleset_for(snippet)
    expect = case["expect"]
    as_of = datetime.date.fromisoformat(case["as_of"]) if "as_of" in case else None
    if "invalid" in expect:
        with pytest.raises(InvalidApplicant) as raised:
            ruleset.evaluate(case["applicant"], as_of=as_of)
        assert list(raised.value.fields) == expect["invalid"]
        return
    decision = ruleset.evaluate(case["applicant"], as_of=as_of)
    if "outcome" in expect:
        assert decision.outcome == expect["outcome"]
    if "deciding" in expect:
        assert list(decision.deciding) == expect["deciding"]
    if "needs" in expect:
        assert list(decision.needs) == expect["needs"]
    if "reasons" in expect:
        assert [reason.code for reason in decision.reasons] == expect["reasons"]
    if "referrals" in expect:
        assert list(decision.referral_targets) == expect["referrals"]
    if "rescreen_after_days" in expect:
        assert decision.rescreen_after_days == expect["rescreen_after_days"]
    for name, wanted in expect.get("domains", {}).items():
        domain = decision.domain(name).model_dump()
        assert {key: domain[key] for key in wanted} == wanted, name
    for alias, wanted in expect.get("instruments", {}).items():
        scored = next(i for i in decision.instruments if i.alias == alias).model_dump()
        assert {key: scored[key] for key in wanted} == wanted, alias
    as_dict = decision.to_dict()
    if "advisories" in expect:
        assert [advice["rule"] for advice in as_dict["advisories"]] == expect["advisories"]
    if "advisory_referrals" in expect:
        marked = [r["target"] for r in as_dict["referrals"] if r["advisory"]]
        assert marked == expect["advisory_referrals"]
    if "undecided_advisories" in expect:
        undecided = {u["rule"]: u["missing"] for u in as_dict["undecided_advisories"]}
        assert undecided == expect["undecided_advisories"]


def load_refusals() -> list[Any]:
    params = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        for case in suite.get("refused", []):
            params.append(pytest.param(case, id=f"{path.stem}::{case['id']}"))
    return params


@pytest.mark.parametrize("case", load_refusals())
def test_conformance_refusals(case: dict[str, Any]) -> None:
    with pytest.raises(RulesetError) as raised:
        snippet = case["document"]
        defaults = INSTRUMENT_DEFAULTS if snippet.get("kind") == "instrument" else DEFAULTS
        load_document({**defaults, **snippet}, source="conformance snippet")
    found = [[problem.path, problem.code] for problem in raised.value.problems]
    assert found == case["problems"]
