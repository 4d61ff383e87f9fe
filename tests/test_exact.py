"""Format v2: exact decisions over missing answers, checked against a brute-force oracle.

The oracle knows nothing of ranges or of the search: it fills the missing answers in every
possible way, evaluates each completed applicant with the v1 semantics (with is_missing /
is_known replaced by what they are on the answers as given), and derives the outcome, `needs`
and every rule's truth from the table of completions.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_screening import load_document, load_ruleset
from recovery_screening.designer.strategies import answered_paths, applicants, without
from recovery_screening.document.reader import read_document

FIXTURES = Path(__file__).parent / "fixtures"
MINI = read_document(FIXTURES / "rulesets" / "mini" / "1.0.0.yaml")
INTAKE_V2 = FIXTURES / "v2" / "peer-support-intake.yaml"
V2 = "recovery-screening/v2"

ENUMERABLE: dict[str, tuple[Any, ...]] = {
    "withdrawal": ("none", "mild", "moderate", "severe"),
    "ready": tuple(range(11)),
    "attends": (False, True),
    "violent": (False, True),
    "scale.q1": (0, 1, 2, 3),
    "scale.q2": (False, True),
    "scale.q3": (0, 2, 4),
}
MUST_ANSWER = {"withdrawal"}  # instrument items are not declared inputs: no policy on them

INPUT_ATOMS = st.one_of(
    st.builds("ready {} {}".format, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
              st.integers(-1, 11)),
    st.builds('withdrawal {} "{}"'.format, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
              st.sampled_from(["none", "mild", "moderate", "severe"])),
    st.builds("scale.total {} {}".format, st.sampled_from(["<", ">=", "=="]), st.integers(0, 8)),
    st.builds("scale.first_two {} {}".format, st.sampled_from(["<", ">="]), st.integers(0, 4)),
    st.sampled_from([
        "attends", "violent", "not attends", "true", "false", "scale.q3_recent",
        "is_missing(ready)", "is_known(attends)", "is_missing(withdrawal)",
        'withdrawal in ["none", "mild"]', "ready not in [0, 7, 8]", 'scale.band == "high"',
        "ready + scale.total >= 9", "ready - scale.total * 2 < 0", "ready / 2 >= 2.5",
        "count_true(attends, violent, scale.q3_recent) >= 2", "ready > scale.total",
        "ready == scale.total", "min(ready, 5) >= 4", "abs(ready - 5) <= 2",
        "sum(ready, scale.total) > 8", "-ready < -4", "7 <= ready", "scale.q1 >= 2",
        "attends == violent", "ready >= 7 or ready < 7", "scale.q2 and not scale.q2",
        "ready / (scale.q1 - 1) > 1", 'days_between(last_use, screened_on) < 3',
    ]),
)  # fmt: skip
ATOMS = st.one_of(
    INPUT_ATOMS,
    st.sampled_from([
        'motivation.band == "low"', 'risk.band != "none"', "risk.score >= 3",
        "motivation.score > risk.score", 'motivation.band < "high"', "extra.score >= 2",
        'extra.band == "hi"',
    ]),
)  # fmt: skip


def _combined(atoms: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.builds("({}) and ({})".format, inner, inner),
            st.builds("({}) or ({})".format, inner, inner),
            st.builds("not ({})".format, inner),
        ),
        max_leaves=4,
    )


@st.composite
def generated_rulesets(draw: st.DrawFn) -> dict[str, Any]:
    """The mini ruleset with generated decision rules and a generated extra domain."""
    document: dict[str, Any] = copy.deepcopy(MINI)
    document.pop("tests", None)
    document.pop("properties", None)
    rules = draw(st.lists(_combined(INPUT_ATOMS), min_size=1, max_size=3))
    points = draw(st.lists(st.integers(1, 2), min_size=len(rules), max_size=len(rules)))
    aggregation = draw(st.sampled_from(["sum", "max"]))
    high = sum(points) if aggregation == "sum" else max(points)
    document["domains"]["extra"] = {
        "title": "Extra",
        "aggregation": aggregation,
        "rules": [
            {"id": f"extra-{i}", "when": when, "points": p, "code": f"EXTRA_{i}", "text": "x"}
            for i, (when, p) in enumerate(zip(rules, points, strict=True))
        ],
        "bands": [{"name": "lo", "min": 0, "max": 0}, {"name": "hi", "min": 1, "max": high}],
    }
    conditions = draw(st.lists(_combined(ATOMS), min_size=1, max_size=4))
    document["decisions"] = document["decisions"][: draw(st.integers(0, 4))] + [
        {
            "id": f"generated-{index}",
            "when": condition,
            "outcome": draw(st.sampled_from(["admit", "defer", "refer"])),
            "code": f"GENERATED_{index}",
            "text": "A generated condition.",
        }
        for index, condition in enumerate(conditions)
    ]
    document["hit_policy"] = draw(st.sampled_from(["protective", "first"]))
    if draw(st.booleans()):
        document["inputs"]["attends"]["required"] = True
    return document


def as_v2(document: dict[str, Any]) -> dict[str, Any]:
    """`document` in format v2 (which requires labels for the values of enum inputs)."""
    v2 = copy.deepcopy(document)
    v2["format"] = V2
    for spec in v2["inputs"].values():
        if spec["type"] == "enum":
            spec["value_labels"] = {value: value.title() for value in spec["values"]}
    return v2


def _observed(document: dict[str, Any], removed: set[str]) -> dict[str, Any]:
    """`document` (as v1) with is_missing(x) / is_known(x) replaced by their values on the
    answers as given, so that completions can be evaluated by the v1 engine."""

    def replace(match: re.Match[str]) -> str:
        missing = match.group(2) in removed
        return "true" if missing is (match.group(1) == "is_missing") else "false"

    text = json.dumps(document)
    text = re.sub(r"(is_missing|is_known)\(([a-z_.0-9]+)\)", replace, text)
    observed: dict[str, Any] = json.loads(text)
    observed["format"] = "recovery-screening/v1"
    return observed


def _with(applicant: dict[str, Any], path: str, value: Any) -> None:
    if "." in path:
        alias, item = path.split(".")
        applicant.setdefault(alias, {})[item] = value
    else:
        applicant[path] = value


def _truth(decision: dict[str, Any], rule: str) -> object:
    if any(reason["rule"] == rule for reason in decision["reasons"]):
        return True
    if any(undecided["rule"] == rule for undecided in decision["undecided"]):
        return None
    return False


def oracle(
    document: dict[str, Any], partial: dict[str, Any], removed: list[str]
) -> tuple[str, list[str], dict[str, object]]:
    """(outcome, needs, each decision rule's truth) by enumerating every completion."""
    v1 = load_document(_observed(document, set(removed)), rulesets_dir=FIXTURES / "rulesets")
    table: dict[tuple[Any, ...], dict[str, Any]] = {}
    for values in itertools.product(*(ENUMERABLE[path] for path in removed)):
        completed = copy.deepcopy(partial)
        for path, value in zip(removed, values, strict=True):
            _with(completed, path, value)
        table[values] = json.loads(v1.evaluate(completed).to_json())
    outcomes = {decision["outcome"] for decision in table.values()}
    must_missing = sorted(MUST_ANSWER & set(removed))
    if document["inputs"]["attends"].get("required") and "attends" in removed:
        must_missing = sorted({*must_missing, "attends"})
    if len(outcomes) == 1:
        (outcome,) = outcomes
        if outcome == "admit" and must_missing:
            outcome = "defer"
    else:
        outcome = "defer"
    needs = set()
    for position, path in enumerate(removed):
        groups: dict[tuple[Any, ...], set[str]] = {}
        for values, decision in table.items():
            rest = values[:position] + values[position + 1 :]
            groups.setdefault(rest, set()).add(decision["outcome"])
        if any(len(group) > 1 for group in groups.values()):
            needs.add(path)
    if outcome != "refer":
        needs.update(must_missing)
    truths: dict[str, object] = {}
    for rule in document["decisions"]:
        seen = {_truth(decision, rule["id"]) for decision in table.values()}
        truths[rule["id"]] = seen.pop() if len(seen) == 1 else None
    return outcome, sorted(needs), truths


@settings(max_examples=150, deadline=None)
@given(document=generated_rulesets(), data=st.data())
def test_outcome_needs_and_truths_match_the_brute_force_oracle(
    document: dict[str, Any], data: st.DataObject
) -> None:
    v2 = load_document(as_v2(document), rulesets_dir=FIXTURES / "rulesets")
    complete = data.draw(applicants(v2, complete=True))
    complete.pop("screening_date", None)
    removed = data.draw(st.lists(st.sampled_from(sorted(ENUMERABLE)), max_size=3, unique=True))
    size = 1
    for path in removed:
        size *= len(ENUMERABLE[path])
    if size > 64:
        removed = removed[:1]
    partial = without(complete, set(removed))
    decision = json.loads(v2.evaluate(partial).to_json())
    outcome, needs, truths = oracle(document, partial, removed)
    assert decision["semantics"] == "exact"
    assert (decision["outcome"], decision["needs"]) == (outcome, needs)
    assert {rule: _truth(decision, rule) for rule in truths} == truths


@settings(max_examples=60, deadline=None)
@given(document=generated_rulesets(), data=st.data())
def test_v2_equals_v1_on_complete_applicants(document: dict[str, Any], data: st.DataObject) -> None:
    v1 = load_document(document, rulesets_dir=FIXTURES / "rulesets")
    v2 = load_document(as_v2(document), rulesets_dir=FIXTURES / "rulesets")
    applicant = data.draw(applicants(v1, complete=True))
    first = json.loads(v1.evaluate(applicant).to_json())
    second = json.loads(v2.evaluate(applicant).to_json())
    assert second.pop("semantics") == "exact"
    assert (second.pop("advisories"), second.pop("undecided_advisories")) == ([], [])
    assert second.pop("needed_questions") == []
    for referral in second["referrals"]:
        assert referral.pop("advisory") is False
    for decision in (first, second):
        decision["ruleset"].pop("content_hash")
    assert second == first


# -- the intake: the example, and the v1 / v2 split --------------------------------


@pytest.fixture(scope="module")
def intakes() -> tuple[Any, Any]:
    return load_ruleset("peer-support-intake@1.0.0"), load_ruleset(INTAKE_V2)


def phq9_example() -> dict[str, Any]:
    applicant: dict[str, Any] = json.loads(
        (Path(__file__).parent.parent / "examples" / "applicants" / "admit.json").read_text()
    )
    applicant["phq9"] = {f"q{i}": 3 for i in range(1, 9)}  # items 1-8 sum to 24, item 9 unanswered
    return applicant


def test_phq9_total_range_refers_under_v2_and_defers_under_v1(intakes: tuple[Any, Any]) -> None:
    v1, v2 = intakes
    old, new = v1.evaluate(phq9_example()), v2.evaluate(phq9_example())
    assert (old.outcome, old.deciding, old.needs) == ("defer", ("incomplete",), ("phq9.q9",))
    assert (new.outcome, new.deciding, new.needs) == (
        "refer",
        ("refer-mental-health-evaluation",),
        (),
    )
    assert "semantics" not in old.to_dict()
    assert new.to_dict()["semantics"] == "exact"
    assert new.to_dict()["instruments"][2]["band"] == "severe"
    assert [u.rule for u in new.undecided] == ["refer-self-harm-thoughts"]


def test_v2_fixture_is_the_intake_with_only_format_version_and_labels_changed() -> None:
    shipped = yaml.safe_load(
        (Path(__file__).parent.parent / "rulesets" / "peer-support-intake" / "1.0.0.yaml")
        .read_text()
    )  # fmt: skip
    fixture = yaml.safe_load(INTAKE_V2.read_text())
    assert (fixture.pop("format"), fixture.pop("version")) == (V2, "1.0.0-exact")
    shipped.pop("format")
    shipped.pop("version")
    for spec in fixture["inputs"].values():
        spec.pop("value_labels", None)
    assert fixture == shipped


def test_a_single_dast_item_that_cannot_matter_no_longer_defers(intakes: tuple[Any, Any]) -> None:
    v1, v2 = intakes
    applicant = json.loads(
        (Path(__file__).parent.parent / "examples" / "applicants" / "admit.json").read_text()
    )
    del applicant["dast10"]["q1"]
    assert v1.evaluate(applicant).outcome == "defer"
    decision = v2.evaluate(applicant)
    assert (decision.outcome, decision.needs, decision.deciding) == ("admit", (), ("default",))


def test_records_replay_with_the_semantics_of_their_ruleset_version(
    intakes: tuple[Any, Any], tmp_path: Path
) -> None:
    from recovery_screening import replay, shipped_rulesets_directory
    from recovery_screening.records.record import make_record, record_hash

    registry = tmp_path / "rulesets"
    shutil.copytree(shipped_rulesets_directory(), registry)
    shutil.copy(INTAKE_V2, registry / "peer-support-intake" / "1.0.0-exact.yaml")
    v1, _ = intakes
    v2 = load_ruleset("peer-support-intake@1.0.0-exact", rulesets_dir=registry)
    when = "2026-01-05T10:00:00Z"
    first = make_record(v1.evaluate(phq9_example()), subject_ref="s-1", evaluated_at=when)
    second = make_record(
        v2.evaluate(phq9_example()), subject_ref="s-1", evaluated_at=when, previous=first
    )
    assert first.decision is not None and second.decision is not None
    assert (first.decision.outcome, second.decision.outcome) == ("defer", "refer")
    assert second.to_dict()["decision"]["semantics"] == "exact"
    assert "semantics" not in first.to_dict()["decision"]
    reports = list(replay([first, second], registry))
    assert [report.status for report in reports] == ["identical", "identical"]
    # a v2 record altered to the v1 outcome is caught: replay used the v2 semantics
    body = second.to_dict()
    body["decision"]["outcome"] = "defer"
    body["record_hash"] = record_hash(body)
    assert [r.status for r in replay([first, body], registry)] == ["identical", "different"]


def test_what_a_ruleset_remembers_between_applicants_changes_no_decision(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the exact search remembers, per ruleset, pure functions of rule masks and score ranges
    # (and empties a memo once it is full): decisions made one after another, in either order,
    # with the memos emptied all the time, are those each applicant gets from a fresh ruleset
    from recovery_screening import exact

    ruleset = load_ruleset("peer-support-intake@1.2.0")
    chance = random.Random(14)
    bases = [case["applicant"] for case in ruleset.tests]
    people = []
    for _ in range(40):
        base = chance.choice(bases)
        missing = chance.choice([0.2, 0.4])
        people.append(without(base, {p for p in answered_paths(base) if chance.random() < missing}))

    def fresh(applicant: dict[str, Any]) -> str:
        ruleset.compiled.__dict__.pop("_exact_program", None)
        return ruleset.evaluate(applicant).to_json()

    alone = [fresh(applicant) for applicant in people]
    ruleset.compiled.__dict__.pop("_exact_program", None)
    assert [ruleset.evaluate(a).to_json() for a in people] == alone
    monkeypatch.setattr(exact, "MEMO_SIZE", 3)
    assert [ruleset.evaluate(a).to_json() for a in reversed(people)] == alone[::-1]
    assert sum('"exact-bounded"' not in decision for decision in alone) >= 10
