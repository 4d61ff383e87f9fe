"""`check` on the columnar engine: the same verdicts as the scalar search, on every shipped
ruleset and on deliberately broken ones; counterexamples confirmed and shrunk by the scalar
engine; a declared property's `given` read exactly from the result columns."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from tests.conftest import FIXTURE_RULESETS, FIXTURES

from recovery_screening import Ruleset, load_document, load_ruleset
from recovery_screening import shipped_rulesets_directory as shipped
from recovery_screening.cli import main
from recovery_screening.columnar import ColumnarMismatch
from recovery_screening.designer import _check_batches
from recovery_screening.designer._check_batches import (
    BatchSearch,
    _Columns,
    _RowFacts,
    simpler_values,
)
from recovery_screening.designer._properties import DECLARED, Properties
from recovery_screening.designer.check import (
    AUTO_MIN_APPLICANTS,
    check_engine,
    check_properties,
)
from recovery_screening.errors import MissingExtra

UNSAFE = str(FIXTURES / "designer" / "unsafe-withdrawal.yaml")
SHIPPED = sorted(shipped().glob("*/*.yaml"))
SWEEP_LIMIT = 1_000
"""Properties with a longer sweep are left out of the side-by-side run (the scalar search of
the intake 1.1.0's 19,000-applicant sweep takes a minute); the columnar run covers them all
in test_every_shipped_ruleset_holds_every_property_on_the_columnar_engine."""


def verdicts(results: list[Any]) -> list[tuple[str, bool]]:
    return [(result.id, result.passed) for result in results]


def mini_without_tests(when: str) -> Ruleset:
    """The mini ruleset with no test cases (no sweep: only the random search can find a
    counterexample) and its withdrawal referral narrowed to `when`."""
    mini = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    document = mini.document
    document["tests"] = []
    for rule in document["decisions"]:
        if rule["id"] == "refer-withdrawal":
            rule["when"] = when
    document["version"] = "1.0.1-broken"
    return load_document(document, rulesets_dir=FIXTURE_RULESETS)


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}@{p.stem}" for p in SHIPPED])
def test_both_engines_give_the_same_verdicts_on_every_shipped_ruleset(path: Any) -> None:
    ruleset = load_ruleset(path)
    properties = Properties(ruleset)
    short = {c.id for c in properties.checks() if properties.sweep_size(c) <= SWEEP_LIMIT}
    columnar = check_properties(ruleset, examples=5, only=short.__contains__, engine="columnar")
    scalar = check_properties(ruleset, examples=5, only=short.__contains__, engine="scalar")
    assert verdicts(columnar) == verdicts(scalar)
    assert all(passed for _, passed in verdicts(columnar))


@pytest.mark.parametrize(
    "reference", ["peer-support-intake@1.0.0", "continuing-support@1.2.0", "group-leader-readiness"]
)
def test_every_shipped_ruleset_holds_every_property_on_the_columnar_engine(
    reference: str,
) -> None:
    results = check_properties(load_ruleset(reference), examples=200, engine="columnar")
    assert [r.id for r in results if not r.passed] == []


def test_the_broken_intake_is_caught_by_both_engines_with_the_same_counterexamples() -> None:
    """The sweep finds both counterexamples: the columnar engine reports exactly what the
    scalar search reports (the same candidate, decided by the scalar engine)."""
    ruleset = load_ruleset(UNSAFE)
    columnar = check_properties(ruleset, examples=15, engine="columnar")
    scalar = check_properties(ruleset, examples=15, engine="scalar")
    assert verdicts(columnar) == verdicts(scalar)
    assert {r.id for r in columnar if not r.passed} == {
        "monotonic",
        "property:no-admit-severe-withdrawal",
    }
    assert [r.to_dict() for r in columnar] == [r.to_dict() for r in scalar]


def test_the_random_search_finds_the_seeded_counterexample_and_shrinks_it() -> None:
    ruleset = mini_without_tests('withdrawal == "severe"')
    columnar = check_properties(ruleset, examples=100, engine="columnar")
    scalar = check_properties(ruleset, examples=100, engine="scalar")
    assert verdicts(columnar) == verdicts(scalar)
    broken = {r.id: r for r in columnar if not r.passed}
    assert set(broken) == {"property:no-admit-in-withdrawal", "safety-flag:scale.q3_recent"}
    # both shrink to the one smallest counterexample
    assert [r.to_dict() for r in columnar] == [r.to_dict() for r in scalar]
    example = broken["property:no-admit-in-withdrawal"].counterexample
    assert example is not None
    # every other answer removed: unanswered, the fail-safe defers, which still is not refer
    assert example.applicant == {"withdrawal": "moderate"}
    decision = ruleset.evaluate(example.applicant)
    assert (example.outcome, example.deciding) == (decision.outcome, decision.deciding)
    assert example.detail == (
        'given withdrawal >= "moderate", the outcome is defer, not one of refer'
    )


def test_a_monotonic_counterexample_from_the_random_search_is_confirmed_and_shrunk() -> None:
    # violence now cancels the withdrawal referral (and refers nobody itself)
    mini = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    document = mini.document
    document["tests"] = []
    document["properties"] = []
    document["decisions"] = [d for d in document["decisions"] if d["id"] != "refer-risk"]
    for rule in document["decisions"]:
        if rule["id"] == "refer-withdrawal":
            rule["when"] = 'withdrawal >= "moderate" and not violent'
    document["version"] = "1.0.1-broken"
    ruleset = load_document(document, rulesets_dir=FIXTURE_RULESETS)
    only = {"monotonic"}.__contains__
    (columnar,) = check_properties(ruleset, examples=300, only=only, engine="columnar")
    (scalar,) = check_properties(ruleset, examples=300, only=only, engine="scalar")
    assert not columnar.passed and not scalar.passed
    example = columnar.counterexample
    assert example is not None and example.outcome == "refer"
    assert example.applicant["violent"] is False
    assert example.applicant["withdrawal"] in ("moderate", "severe")
    assert "making violent worse (False -> True" in example.detail


def test_the_columnar_search_is_deterministic_for_a_seed() -> None:
    ruleset = mini_without_tests('withdrawal == "severe"')
    first = [r.to_dict() for r in check_properties(ruleset, examples=50, seed=7, engine="columnar")]
    again = [r.to_dict() for r in check_properties(ruleset, examples=50, seed=7, engine="columnar")]
    assert first == again


@pytest.mark.parametrize(
    "reference",
    [
        "peer-support-intake@1.0.0",
        "peer-support-intake@1.1.0",
        "continuing-support@1.2.0",
        "group-leader-readiness@1.2.0",
    ],
)
def test_a_given_read_from_the_columns_is_the_scalar_engines(reference: str) -> None:
    """For generated rows of every declared property, `given` over the row's answers and
    result columns is what it is over the scalar engine's facts."""
    ruleset = load_ruleset(reference)
    properties = Properties(ruleset)
    checks = [c for c in properties.checks() if c.kind == DECLARED]
    search = BatchSearch(properties, checks, examples=40, seed=1)
    rows: list[Any] = []
    tried = []
    for check in checks:
        candidates = [c for c in search.candidates(check) if c.values is not None]
        for candidate in candidates[-40:]:  # the random ones (with missing answers)
            candidate.row = len(rows)
            rows.append(candidate.values)
            tried.append((check, candidate))
    columns = _Columns(ruleset.evaluate_batch(search.table(rows)).table)
    for check, candidate in tried:
        assert check.spec is not None and check.spec.given is not None
        assert candidate.values is not None
        decision = ruleset.evaluate(search.applicant(candidate.values))
        from_columns = check.spec.given(_RowFacts(search, columns, candidate))
        assert from_columns == check.spec.given(decision.facts), check.id


def test_columns_the_scalar_engine_contradicts_raise_a_mismatch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(BatchSearch, "breaks", lambda self, check, candidate, columns: True)
    with pytest.raises(ColumnarMismatch, match="disagree on fail-safe"):
        check_properties(load_ruleset("phq-9@1.0.0"), examples=5, engine="columnar")


def test_the_columnar_search_needs_no_hypothesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    results = check_properties(load_ruleset(UNSAFE), examples=5, engine="columnar")
    assert {r.id for r in results if not r.passed} == {
        "monotonic",
        "property:no-admit-severe-withdrawal",
    }


def test_auto_takes_the_columnar_engine_for_a_search_large_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    audit = load_ruleset("audit@1.1.0")  # fail-safe only, no test-case sweep
    assert Properties(audit).planned(10) < AUTO_MIN_APPLICANTS
    assert check_engine("auto", audit, 10) == "scalar"
    assert check_engine("auto", audit, AUTO_MIN_APPLICANTS) == "columnar"
    assert check_engine("scalar", audit, 10_000) == "scalar"
    monkeypatch.setattr("recovery_screening.designer._batches.columnar_available", lambda: False)
    assert check_engine("auto", audit, 10_000) == "scalar"
    with pytest.raises(MissingExtra, match="columnar"):
        check_engine("columnar", audit, 10)
    with pytest.raises(ValueError, match="engine must be one of"):
        check_engine("fast", audit, 10)


def test_cli_engine_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for engine in ("columnar", "scalar"):
        assert main(["check", UNSAFE, "--examples", "5", "--engine", engine, "-q",
                     "--format", "json"]) == 1  # fmt: skip
        data = json.loads(capsys.readouterr().out)
        assert data["engine"] == engine
        assert [p["passed"] for p in data["properties"]].count(False) == 2
    assert main(["check", "audit@1.1.0", "--examples", "5", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["engine"] == "scalar"  # auto, a small search
    monkeypatch.setattr("recovery_screening.designer._batches.columnar_available", lambda: False)
    assert main(["check", UNSAFE, "--engine", "columnar"]) == 2
    assert "pip install" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["check", UNSAFE, "--engine", "fast"])


def test_simpler_values() -> None:
    fields = {f.name: f for f in load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml").inputs}
    assert simpler_values(fields["withdrawal"], "moderate") == ["none", "mild"]
    assert simpler_values(fields["withdrawal"], "none") == []
    assert simpler_values(fields["violent"], True) == [False]
    assert simpler_values(fields["violent"], False) == []
    assert simpler_values(fields["ready"], 10) == [0, 5, 9]
    assert simpler_values(fields["ready"], 1) == [0]
    assert simpler_values(fields["ready"], 0) == []
    assert simpler_values(fields["weight"], 1.25) == [0, 0.25, 1]
    assert simpler_values(fields["note_code"], "AB") == [""]
    assert _check_batches.CHUNK_ROWS > 0


def test_chunks_do_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    ruleset = load_ruleset(UNSAFE)
    whole = [r.to_dict() for r in check_properties(ruleset, examples=20, engine="columnar")]
    monkeypatch.setattr(_check_batches, "FIRST_CHUNK_ROWS", 5)
    monkeypatch.setattr(_check_batches, "CHUNK_ROWS", 997)
    assert [r.to_dict() for r in check_properties(ruleset, examples=20, engine="columnar")] == whole


def test_a_test_case_the_contract_refuses_is_swept_by_the_scalar_engine() -> None:
    """A sweep's applicants from a test case the contract refuses are decided by the scalar
    engine in their place in the order: one that the sweep makes valid (its bad answer set to
    each allowed value) is the counterexample, as in the scalar search."""
    ruleset = mini_without_tests('withdrawal == "severe"')
    document = ruleset.document
    document["tests"] = [
        {
            "id": "a-bad-answer",
            "applicant": {"withdrawal": "sevre", "ready": 9, "attends": True, "violent": False},
            "expect": {"outcome": "admit"},
        },
        {
            "id": "fine",
            "applicant": {"withdrawal": "none", "ready": 8, "attends": True, "violent": False},
            "expect": {"outcome": "admit"},
        },
    ]
    ruleset = load_document(document, rulesets_dir=FIXTURE_RULESETS)
    only = {"property:no-admit-in-withdrawal"}.__contains__
    (columnar,) = check_properties(ruleset, examples=5, only=only, engine="columnar")
    (scalar,) = check_properties(ruleset, examples=5, only=only, engine="scalar")
    assert columnar.to_dict() == scalar.to_dict()
    assert columnar.counterexample is not None
    assert columnar.counterexample.applicant["ready"] == 9  # the refused test case's sweep
    assert columnar.counterexample.applicant["withdrawal"] == "moderate"
