"""Differential tests: the durable-rules backend gives byte-identical decisions to the native one
(apart from `engine.backend`), for generated applicants of every shipped and fixture ruleset and
for randomly generated conditions."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("durable")

from recovery_screening import Ruleset, load_ruleset, shipped_rulesets_directory
from recovery_screening.designer.strategies import applicants
from recovery_screening.document.reader import read_document
from recovery_screening.ruleset import load_document

pytestmark = pytest.mark.durable

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rulesets"
PATHS = sorted(shipped_rulesets_directory().glob("*/*.yaml")) + sorted(FIXTURES.glob("*/*.yaml"))
PAIRS = {
    path.parent.name: (load_ruleset(path), load_ruleset(path, backend="durable")) for path in PATHS
}
NAMES = sorted(PAIRS)


def comparable(ruleset: Ruleset, applicant: Any) -> str:
    """The decision's JSON with `engine.backend` removed (still compact, key order kept)."""
    decision = json.loads(ruleset.evaluate(applicant).to_json())
    assert decision["engine"].pop("backend") == ruleset.backend
    return json.dumps(decision, ensure_ascii=False, separators=(",", ":"))


def assert_same(native: Ruleset, durable: Ruleset, applicant: Any) -> None:
    assert comparable(durable, applicant) == comparable(native, applicant)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40)
@given(data=st.data())
def test_backends_agree_on_generated_applicants(name: str, data: st.DataObject) -> None:
    native, durable = PAIRS[name]
    missing = data.draw(st.sampled_from([0.0, 0.05, 0.3]))
    assert_same(native, durable, data.draw(applicants(native, missing=missing)))


@pytest.mark.parametrize("name", NAMES)
def test_backends_agree_on_embedded_cases(name: str) -> None:
    native, durable = PAIRS[name]
    for case in native.tests:
        assert_same(native, durable, case["applicant"])


def test_durable_decision_records_its_backend() -> None:
    _, durable = PAIRS["peer-support-intake"]
    decision = durable.evaluate({})
    assert decision.backend == "durable"
    assert decision.to_dict()["engine"]["backend"] == "durable"
    assert decision.outcome == "defer"


def test_durable_backend_is_safe_from_several_threads() -> None:
    native, durable = PAIRS["peer-support-intake"]
    cohort = Path(__file__).parent.parent.parent / "examples" / "cohort-1000.jsonl"
    people = [json.loads(line) for line in cohort.read_text().splitlines()[:60]]
    expected = [comparable(native, person) for person in people]
    results: dict[int, list[str]] = {}

    def work(worker: int) -> None:
        results[worker] = [comparable(durable, person) for person in people]

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[worker] == expected for worker in range(4))


# -- randomly generated conditions over the mini ruleset's inputs --------------------------

NUMBER = st.integers(-2, 12)
ATOMS = st.one_of(
    st.builds("ready {} {}".format, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), NUMBER),
    st.builds("weight {} {}".format, st.sampled_from(["<", ">=", "=="]), st.sampled_from(
        ["0", "0.5", "1.25", "1.5"])),
    st.builds('withdrawal {} "{}"'.format, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
              st.sampled_from(["none", "mild", "moderate", "severe"])),
    st.builds('{} {} withdrawal'.format, st.sampled_from(['"mild"', '"severe"']),
              st.sampled_from(["<", ">=", "=="])),
    st.sampled_from([
        "attends", "violent", "not attends", "true", "false",
        "is_missing(ready)", "is_known(attends)", "is_missing(last_use)",
        'withdrawal in ["none", "mild"]', "ready not in [0, 7, 8]",
        'note_code == "ab"', 'note_code != "ab"',
        'last_use < date("2024-06-01")', "days_between(last_use, screened_on) < 3",
        "ready + scale.total >= 9", "ready - scale.total * 2 < 0", "ready / 2 >= 2.5",
        "count_true(attends, violent, scale.q3_recent) >= 2", "ready > scale.total",
        "ready == scale.total", "min(ready, 5) >= 4", "abs(ready - 5) <= 2",
        "sum(ready, scale.total) > 8", "-ready < -4", "7 <= ready",
        'motivation.band == "low"', 'risk.band != "none"', "risk.score >= 3",
        "motivation.score > risk.score", 'motivation.band < "high"',
        "any_of(attends, violent)", "all_of(attends, ready >= 3)",
    ]),
)  # fmt: skip

CONDITIONS = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.builds("({}) and ({})".format, inner, inner),
        st.builds("({}) or ({})".format, inner, inner),
        st.builds("not ({})".format, inner),
    ),
    max_leaves=6,
)

MINI = read_document(FIXTURES / "mini" / "1.0.0.yaml")


def with_conditions(conditions: list[str]) -> dict[str, Any]:
    document: dict[str, Any] = copy.deepcopy(MINI)
    document.pop("tests", None)
    document["decisions"] = [
        {
            "id": f"generated-{index}",
            "when": condition,
            "outcome": ("refer", "defer")[index % 2],
            "code": f"GENERATED_{index}",
            "text": "A generated condition.",
        }
        for index, condition in enumerate(conditions)
    ]
    return document


@settings(max_examples=25)
@given(conditions=st.lists(CONDITIONS, min_size=1, max_size=4), data=st.data())
def test_backends_agree_on_generated_conditions(conditions: list[str], data: st.DataObject) -> None:
    document = with_conditions(conditions)
    source = str(FIXTURES / "mini" / "generated.yaml")
    native = load_document(document, source=source, rulesets_dir=FIXTURES)
    durable = load_document(document, source=source, rulesets_dir=FIXTURES, backend="durable")
    for _ in range(5):
        applicant = data.draw(applicants(native, missing=0.25))
        assert_same(native, durable, applicant)


def test_cli_evaluates_with_the_durable_backend(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    applicant = Path(__file__).parent.parent.parent / "examples" / "applicants" / "admit.json"
    assert main(["evaluate", str(applicant), "--backend", "durable", "--format", "json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert decision["engine"]["backend"] == "durable"
    native, _ = PAIRS["peer-support-intake"]
    assert decision["outcome"] == native.evaluate(json.loads(applicant.read_text())).outcome
