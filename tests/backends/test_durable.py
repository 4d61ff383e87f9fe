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
SHIPPED_PATHS = sorted(shipped_rulesets_directory().glob("*/*.yaml"))
PATHS = SHIPPED_PATHS + sorted(FIXTURES.glob("*/*.yaml"))
# shipped rulesets by id@version (several versions ship), fixtures by their folder
PAIRS = {
    (f"{path.parent.name}@{path.stem}" if path in SHIPPED_PATHS else path.parent.name): (
        load_ruleset(path),
        load_ruleset(path, backend="durable"),
    )
    for path in PATHS
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
    _, durable = PAIRS["peer-support-intake@1.0.0"]
    decision = durable.evaluate({})
    assert decision.backend == "durable"
    assert decision.to_dict()["engine"]["backend"] == "durable"
    assert decision.outcome == "defer"


def test_durable_backend_is_safe_from_several_threads() -> None:
    native, durable = PAIRS["peer-support-intake@1.0.0"]
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
    document = copy.deepcopy(MINI)
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
    pinned = ["--ruleset", "peer-support-intake@1.0.0"]
    assert (
        main(["evaluate", str(applicant), *pinned, "--backend", "durable", "--format", "json"]) == 0
    )
    decision = json.loads(capsys.readouterr().out)
    assert decision["engine"]["backend"] == "durable"
    native, _ = PAIRS["peer-support-intake@1.0.0"]
    assert decision["outcome"] == native.evaluate(json.loads(applicant.read_text())).outcome


# -- numbers durable-rules' C parser reads: floats in exponent form, and beyond -------------

EXPONENT_FLOATS = [1e-05, 2e-05, 5e-324, 1e-300, 2.5e-07, 1e16, 1.5e300, -1e-05, -0.0]


@pytest.mark.parametrize("value", [*EXPONENT_FLOATS, 0.1, 1.25, 1.7976931348623157e308])
def test_engine_json_writes_every_finite_float_with_a_fraction_before_its_exponent(
    value: float,
) -> None:
    from recovery_screening.backends.durable import engine_json

    text = engine_json({"x": value})
    assert json.loads(text) == {"x": value}
    mantissa, _, _ = text[len('{"x":') : -1].partition("e")
    assert "." in mantissa


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_engine_json_round_trips_every_finite_float(value: float) -> None:
    from recovery_screening.backends.durable import engine_json

    text = engine_json([value])
    assert json.loads(text) == [value]
    assert "." in text.partition("e")[0]


FLOAT_CONDITIONS = [
    "weight >= 0.00001",
    "weight < 0.00002",
    "weight == 0.00001",
    "weight > 0.0",
    "weight * 1000000 >= 10",
    "ready / 300000 < 0.00001",
]


@pytest.mark.parametrize("weight", [*[abs(value) for value in EXPONENT_FLOATS[:5]], 0.0, 1.5])
def test_backends_agree_on_floats_python_writes_in_exponent_form(weight: float) -> None:
    document = with_conditions(FLOAT_CONDITIONS)
    source = str(FIXTURES / "mini" / "generated.yaml")
    native = load_document(document, source=source, rulesets_dir=FIXTURES)
    durable = load_document(document, source=source, rulesets_dir=FIXTURES, backend="durable")
    for ready in (0, 2, 3, 10):
        applicant = {"weight": weight, "ready": ready, "withdrawal": "none"}
        assert_same(native, durable, applicant)


def write_generated(tmp_path: Path, document: dict[str, Any]) -> Path:
    document = copy.deepcopy(document)
    document["version"] = "9.0.0"
    path = tmp_path / "generated.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_cli_evaluates_floats_in_exponent_form_with_the_durable_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recovery_screening.cli import main

    ruleset = write_generated(tmp_path, with_conditions(FLOAT_CONDITIONS))
    applicant = tmp_path / "applicant.json"
    applicant.write_text('{"weight": 1e-05, "ready": 2, "withdrawal": "none"}', encoding="utf-8")
    outputs = []
    for backend in ("native", "durable"):
        arguments = ["evaluate", str(applicant), "--ruleset", str(ruleset)]
        arguments += ["--rulesets-dir", str(FIXTURES), "--backend", backend, "--format", "json"]
        assert main(arguments) == 0
        decision = json.loads(capsys.readouterr().out)
        assert decision["engine"].pop("backend") == backend
        outputs.append(decision)
    assert outputs[0] == outputs[1]
    assert "generated-0" in outputs[1]["deciding"]


def unbounded_ready() -> dict[str, Any]:
    document = with_conditions(["ready > 9007199254740991", "ready - 1 >= 9007199254740991.0"])
    del document["inputs"]["ready"]["maximum"]
    return document


def test_durable_backend_refuses_integers_it_cannot_compare_exactly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from recovery_screening.cli import main
    from recovery_screening.errors import BackendUnavailable

    document = unbounded_ready()
    source = str(FIXTURES / "mini" / "generated.yaml")
    native = load_document(document, source=source, rulesets_dir=FIXTURES)
    durable = load_document(document, source=source, rulesets_dir=FIXTURES, backend="durable")
    assert_same(native, durable, {"ready": 2**53})
    assert "generated-0" in native.evaluate({"ready": 2**53 + 1}).deciding
    with pytest.raises(BackendUnavailable, match="input ready") as raised:
        durable.evaluate({"ready": 2**53 + 1})
    assert str(2**53 + 1) not in str(raised.value)

    literal = with_conditions(["ready == 9007199254740993"])
    with pytest.raises(BackendUnavailable, match="a literal"):
        load_document(literal, source=source, rulesets_dir=FIXTURES, backend="durable")

    ruleset = write_generated(tmp_path, document)
    applicant = tmp_path / "applicant.json"
    applicant.write_text(json.dumps({"ready": 2**70}), encoding="utf-8")
    arguments = ["evaluate", str(applicant), "--ruleset", str(ruleset)]
    arguments += ["--rulesets-dir", str(FIXTURES), "--backend", "durable"]
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert str(2**70) not in captured.out + captured.err


def _v2_conformance_cases() -> list[Any]:
    import datetime

    import yaml
    from tests.test_conformance import CONFORMANCE, DEFAULTS

    params = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        snippet = suite.get("ruleset")
        if not snippet or snippet.get("format") != "recovery-screening/v2":
            continue
        document = {**DEFAULTS, **snippet}
        for case in suite["cases"]:
            if "invalid" in case["expect"]:
                continue
            as_of = datetime.date.fromisoformat(case["as_of"]) if "as_of" in case else None
            params.append(
                pytest.param(document, case["applicant"], as_of, id=f"{path.stem}::{case['id']}")
            )
    return params


@pytest.mark.parametrize(("document", "applicant", "as_of"), _v2_conformance_cases())
def test_backends_agree_on_the_v2_conformance_cases(
    document: dict[str, Any], applicant: dict[str, Any], as_of: Any
) -> None:
    """Advisories (one more Rete stage), the screening date and value labels: same JSON."""
    native = load_document(document, source="conformance snippet")
    durable = load_document(document, source="conformance snippet", backend="durable")
    decisions = [
        json.loads(ruleset.evaluate(applicant, as_of=as_of).to_json())
        for ruleset in (native, durable)
    ]
    for decision in decisions:
        decision["engine"].pop("backend")
    assert decisions[0] == decisions[1]
    assert "advisories" in decisions[0]


@settings(max_examples=60)
@given(data=st.data())
def test_backends_agree_on_v2_advisories_over_unsettled_domains(data: st.DataObject) -> None:
    native, durable = PAIRS["mini-v2"]
    applicant = data.draw(applicants(native, missing=0.4))
    assert_same(native, durable, applicant)
    decision = native.evaluate(applicant).to_dict()
    assert {"advisories", "undecided_advisories"} <= set(decision)


# -- format v2: exact decisions over missing answers ----------------------------------------

INTAKE_V2 = Path(__file__).parent.parent / "fixtures" / "v2" / "peer-support-intake.yaml"
PAIR_V2 = (load_ruleset(INTAKE_V2), load_ruleset(INTAKE_V2, backend="durable"))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_backends_agree_under_exact_semantics(data: st.DataObject) -> None:
    native, durable = PAIR_V2
    missing = data.draw(st.sampled_from([0.0, 0.02, 0.05, 0.3]))
    applicant = data.draw(applicants(native, missing=missing))
    assert native.evaluate(applicant).to_dict()["semantics"] in ("exact", "exact-bounded")
    assert_same(native, durable, applicant)


@settings(max_examples=25, deadline=None)
@given(conditions=st.lists(CONDITIONS, min_size=1, max_size=4), data=st.data())
def test_backends_agree_on_generated_conditions_under_v2(
    conditions: list[str], data: st.DataObject
) -> None:
    document = with_conditions(conditions)
    document["format"] = "recovery-screening/v2"
    document["inputs"]["withdrawal"]["value_labels"] = {
        value: value.title() for value in document["inputs"]["withdrawal"]["values"]
    }
    source = str(FIXTURES / "mini" / "generated-v2.yaml")
    native = load_document(document, source=source, rulesets_dir=FIXTURES)
    durable = load_document(document, source=source, rulesets_dir=FIXTURES, backend="durable")
    for _ in range(5):
        assert_same(native, durable, data.draw(applicants(native, missing=0.25)))
