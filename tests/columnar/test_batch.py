"""Differential tests: the columnar engine decides every row exactly as the scalar engine does.

Over the example cohorts, every embedded case of every shipped ruleset, the conformance suite
and generated applicants with heavy missingness; rows that break the input contract carry the
same problems as `Ruleset.evaluate` raises.
"""

from __future__ import annotations

import datetime
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from recovery_screening import (  # noqa: E402
    InvalidApplicant,
    Ruleset,
    load_document,
    load_ruleset,
    shipped_rulesets_directory,
)
from recovery_screening.columnar import (  # noqa: E402
    COLUMNAR,
    SCALAR,
    BatchResult,
    ColumnarMismatch,
    columnar_engine,
)
from recovery_screening.columnar.batch import result_columns, scalar_columns  # noqa: E402
from recovery_screening.designer.strategies import (  # noqa: E402
    answered_paths,
    applicants,
)
from recovery_screening.designer.strategies import without as without_answers  # noqa: E402
from recovery_screening.errors import DocumentError  # noqa: E402

REPO = Path(__file__).parent.parent.parent
CONFORMANCE = REPO / "tests" / "conformance"
SHIPPED = {
    f"{path.parent.name}@{path.stem}": load_ruleset(path)
    for path in sorted(shipped_rulesets_directory().glob("*/*.yaml"))
}
RULESETS = [pytest.param(ruleset, id=name) for name, ruleset in sorted(SHIPPED.items())]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def arrow_table(rows: list[dict[str, Any]]) -> Any:
    """An Arrow table of applicant objects (pyarrow infers the columns from the first row only,
    so every row is given every key first)."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    if not keys:  # pyarrow makes a table of no columns with no rows: keep the rows, unanswered
        return pa.table({"unanswered": pa.nulls(len(rows))})
    return pa.Table.from_pylist([{key: row.get(key) for key in keys} for row in rows])


def assert_identical(
    ruleset: Ruleset,
    result: BatchResult,
    applicants_given: list[Any],
    as_of: datetime.date | None = None,
) -> None:
    """Every row's columns are the scalar engine's, from the applicant as given."""
    columns = result_columns(ruleset)
    rows = result.table.to_pylist()
    assert len(rows) == len(applicants_given)
    for index, (row, applicant) in enumerate(zip(rows, applicants_given, strict=True)):
        assert row["row"] == index
        try:
            decision = ruleset.evaluate(applicant, as_of=as_of)
        except InvalidApplicant as error:
            assert row["valid"] is False, index
            assert row["engine"] == SCALAR
            expected = [
                {"path": p.path, "code": p.code, "message": p.message} for p in error.problems
            ]
            assert row["problems"] == expected, index
            continue
        assert row["valid"] is True, (index, row["problems"])
        expected_columns = scalar_columns(ruleset, decision, columns)
        assert {name: row[name] for name in expected_columns} == expected_columns, index
        assert result.decision(index).to_json() == decision.to_json()


# --- the example cohorts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cohort", "reference"),
    [
        ("cohort-1000.jsonl", "peer-support-intake@1.0.0"),
        ("cohort-1000-v1.1.jsonl", "peer-support-intake@1.1.0"),
    ],
)
def test_the_example_cohorts_from_jsonl(cohort: str, reference: str) -> None:
    ruleset = load_ruleset(reference)
    path = REPO / "examples" / cohort
    applicants_given = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    result = ruleset.evaluate_batch(path)
    assert_identical(ruleset, result, applicants_given)
    engines = result.table["engine"].to_pylist()
    assert engines.count(COLUMNAR) > len(applicants_given) // 2  # most rows are the SQL's own
    if ruleset.compiled.format_version == 1:
        assert engines.count(SCALAR) == 0


def test_the_v2_cohort_from_an_arrow_table() -> None:
    ruleset = load_ruleset("peer-support-intake@1.1.0")
    path = REPO / "examples" / "cohort-1000-v1.1.jsonl"
    applicants_given = [json.loads(line) for line in path.read_text().splitlines()[:300]]
    result = ruleset.evaluate_batch(arrow_table(applicants_given))
    rows = [result.applicant(i) for i in range(len(result))]
    assert rows == applicants_given  # the table's non-null cells are the applicant
    assert_identical(ruleset, result, applicants_given)


# --- embedded cases and the conformance suite ---------------------------------------------


@pytest.mark.parametrize("ruleset", RULESETS)
def test_every_embedded_case(ruleset: Ruleset, tmp_path: Path) -> None:
    applicants_given = [case["applicant"] for case in ruleset.tests]
    if not applicants_given:
        pytest.skip("no embedded cases")
    result = ruleset.evaluate_batch(write_jsonl(tmp_path / "cases.jsonl", applicants_given))
    assert_identical(ruleset, result, applicants_given)


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


def conformance_suites() -> list[Any]:
    params = []
    for path in sorted(CONFORMANCE.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text())
        if suite.get("cases"):
            params.append(pytest.param(suite, id=path.stem))
    return params


@pytest.mark.parametrize("suite", conformance_suites())
def test_the_conformance_suite(suite: dict[str, Any], tmp_path: Path) -> None:
    ruleset = load_document({**DEFAULTS, **suite["ruleset"]}, source="conformance snippet")
    by_date: dict[str | None, list[Any]] = {}
    for case in suite["cases"]:
        by_date.setdefault(case.get("as_of"), []).append(case["applicant"])
    for as_of_text, applicants_given in by_date.items():
        as_of = datetime.date.fromisoformat(as_of_text) if as_of_text else None
        path = write_jsonl(tmp_path / f"cases-{as_of_text}.jsonl", applicants_given)
        assert_identical(
            ruleset, ruleset.evaluate_batch(path, as_of=as_of), applicants_given, as_of
        )


# --- generated applicants with heavy missingness ------------------------------------------


def heavily_missing(ruleset: Ruleset, bases: st.DataObject, seed: int) -> list[dict[str, Any]]:
    """A few drawn applicants (the whole of an intake applicant is most of Hypothesis's data
    budget), and 120 rows made from them, each missing each answer with probability 0.1, 0.3
    or 0.6."""
    drawn = bases.draw(st.lists(applicants(ruleset, missing=0.1), min_size=1, max_size=4))
    chance = random.Random(seed)
    rows = []
    for _ in range(120):
        base = chance.choice(drawn)
        missing = chance.choice([0.1, 0.3, 0.6])
        gone = {path for path in answered_paths(base) if chance.random() < missing}
        rows.append(without_answers(base, gone))
    return rows


@pytest.mark.parametrize("ruleset", RULESETS)
@settings(max_examples=2, deadline=None)
@given(bases=st.data(), seed=st.integers(0, 2**32 - 1))
def test_generated_applicants_with_heavy_missingness(
    ruleset: Ruleset, bases: st.DataObject, seed: int
) -> None:
    # one table per example (DuckDB plans the query once a table)
    rows = heavily_missing(ruleset, bases, seed)
    result = ruleset.evaluate_batch(arrow_table(rows))
    assert len(result) == len(rows)
    assert_identical(ruleset, result, [result.applicant(i) for i in range(len(result))])


# --- rows that break the input contract ----------------------------------------------------


def test_invalid_rows_carry_the_scalar_problems(intake: Ruleset, tmp_path: Path) -> None:
    good = json.loads((REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()[0])
    rows = [
        good,
        {**good, "not_an_input": True},  # an unknown key: a typed reader would drop it
        {**good, "not_an_input": None},
        {**good, "days_since_last_use": 1.0},  # a float is not a whole number
        {**good, "days_since_last_use": "3"},
        {**good, "can_attend_weekly": 1},  # 1 is not true
        {**good, "housing": "sevre"},
        {**good, "audit": {**good["audit"], "q11": 1}},
        {**good, "audit": [1, 2]},
        {**good, "days_since_last_use": -1},
        {**good, "phq9": None},
    ]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    result = intake.evaluate_batch(path)
    assert_identical(intake, result, rows)
    assert result.table["valid"].to_pylist() == [True, *[False] * 9, True]
    with pytest.raises(InvalidApplicant):
        result.decision(1)


def test_lines_that_are_not_json_objects(intake: Ruleset, tmp_path: Path) -> None:
    good = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()[0]
    path = tmp_path / "broken.jsonl"
    duplicate = good[:-1] + ',"housing":"stable"}'
    trailing_comma = good[:-1] + ",}"
    path.write_text(
        f"{good}\n\n{{not json\n[1, 2]\n   \n{duplicate}\n{good}\n{good}\x01trailing\n"
        f"{trailing_comma}\n\x0b\n{good}",
        encoding="utf-8",
    )
    result = intake.evaluate_batch(path)
    table = result.table.to_pylist()
    assert [result.line(i) for i in range(len(table))] == [1, 3, 4, 6, 7, 8, 9, 11]
    assert [row["valid"] for row in table] == [True, False, False, False, True, False, False, True]
    assert table[5]["problems"][0]["code"] == "syntax"
    assert table[6]["problems"][0]["code"] == "syntax"
    assert table[1]["problems"][0]["code"] == "syntax"
    assert table[2]["problems"][0]["path"] == "$"
    assert "duplicate" in table[3]["problems"][0]["message"]
    assert table[4]["outcome"] == table[0]["outcome"]
    with pytest.raises(DocumentError):
        result.decision(1)


def test_an_arrow_table_with_wrong_types_or_unknown_columns(intake: Ruleset) -> None:
    table = pa.table(
        {
            "days_since_last_use": pa.array([3.0, None, 4.5], pa.float64()),
            "housing": pa.array(["stable", "sevre", None]),
            "extra": pa.array([None, None, 1], pa.int64()),
        }
    )
    result = intake.evaluate_batch(table)
    applicants_given = [result.applicant(i) for i in range(3)]
    assert applicants_given == [
        {"days_since_last_use": 3.0, "housing": "stable"},
        {"housing": "sevre"},
        {"days_since_last_use": 4.5, "extra": 1},
    ]
    assert_identical(intake, result, applicants_given)
    assert result.table["valid"].to_pylist() == [False, False, False]


def test_a_pandas_frame_and_a_flat_item_column(mini: Ruleset) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "withdrawal": ["none", "severe", None],
            "ready": pandas.array([8, None, 2], dtype="Int64"),
            "attends": [True, False, None],
            "violent": [False, False, False],
            "scale.q1": pandas.array([0, 1, None], dtype="Int64"),
        }
    )
    result = mini.evaluate_batch(frame)
    applicants_given = [result.applicant(i) for i in range(3)]
    assert applicants_given[0] == {
        "withdrawal": "none",
        "ready": 8,
        "attends": True,
        "violent": False,
        "scale": {"q1": 0},
    }
    assert_identical(mini, result, applicants_given)


def test_a_number_that_is_nan_or_infinite_is_checked_by_the_scalar_engine(mini: Ruleset) -> None:
    from tests.conftest import COMPLETE_MINI

    weights = [0.5, float("nan"), float("inf"), float("-inf"), 1.5]
    table = arrow_table([{**COMPLETE_MINI, "weight": weight} for weight in weights])
    result = mini.evaluate_batch(table)
    assert result.table["engine"].to_pylist() == [COLUMNAR, SCALAR, SCALAR, SCALAR, COLUMNAR]
    assert result.table["valid"].to_pylist() == [True, False, False, False, True]
    assert_identical(mini, result, [result.applicant(i) for i in range(len(weights))])


# --- the engine says what it cannot decide -------------------------------------------------


def test_v2_rows_the_sql_cannot_prove_go_to_the_scalar_engine_and_say_so() -> None:
    ruleset = load_ruleset("peer-support-intake@1.1.0")
    engine = columnar_engine(ruleset)
    assert any("format v2" in note for note in engine.notes)
    result = ruleset.evaluate_batch(REPO / "examples" / "cohort-1000-v1.1.jsonl")
    assert result.notes == engine.notes
    assert 0 < result.scalar_rows < len(result) // 2


def test_a_row_whose_columns_disagree_is_refused(mini: Ruleset, tmp_path: Path) -> None:
    from tests.conftest import COMPLETE_MINI

    result = mini.evaluate_batch(write_jsonl(tmp_path / "one.jsonl", [COMPLETE_MINI]))
    outcome = result.table["outcome"].to_pylist()[0]
    other = "refer" if outcome != "refer" else "admit"
    result.table = result.table.set_column(
        result.table.schema.get_field_index("outcome"), "outcome", pa.array([other])
    )
    with pytest.raises(ColumnarMismatch, match="outcome"):
        result.decision(0)


def test_without_the_extra_evaluate_batch_says_what_to_install(
    mini: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from recovery_screening.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingExtra, match=r"'columnar' extra \(duckdb is not installed\)"):
        mini.evaluate_batch([])


def test_evaluate_batch_prints_nothing(tmp_path: Path) -> None:
    # DuckDB draws a progress bar on stderr for a query that runs past two seconds: the v2
    # cohort's rows decided by the scalar engine, between record batches, keep it running
    import subprocess
    import sys

    lines = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text().splitlines()
    path = tmp_path / "cohort.jsonl"
    path.write_text("\n".join(lines * 3) + "\n")
    script = (
        "import sys; from recovery_screening import load_ruleset; "
        "load_ruleset('peer-support-intake@1.1.0').evaluate_batch(sys.argv[1])"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert (run.stdout, run.stderr) == ("", "")


def test_a_stream_of_some_result_columns(intake: Ruleset) -> None:
    from recovery_screening.columnar.batch import BatchStream

    cohort = REPO / "examples" / "cohort-1000.jsonl"
    full = pa.concat_tables(list(BatchStream(intake, cohort)))
    some = pa.concat_tables(list(BatchStream(intake, cohort, columns=["outcome", "needs"])))
    assert some.column_names == [
        "row",
        "engine",
        "valid",
        "readable",
        "problems",
        "outcome",
        "needs",
    ]
    assert some == full.select(some.column_names)


# --- format v2: unanswered instrument items decided by the query's ranges ----------------------

V2_WITH_INSTRUMENTS = [
    pytest.param(SHIPPED[name], id=name)
    for name in sorted(SHIPPED)
    if SHIPPED[name].compiled.format_version == 2
    and SHIPPED[name].kind == "screening"
    and any(isinstance(v, dict) for case in SHIPPED[name].tests for v in case["applicant"].values())
]


@pytest.mark.parametrize("ruleset", V2_WITH_INSTRUMENTS)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), spread=st.sampled_from([1, 2, 4]))
def test_v2_rows_with_unanswered_items_are_decided_by_the_query(
    ruleset: Ruleset, seed: int, spread: int
) -> None:
    # the embedded cases with a few instrument items (and now and then one other answer)
    # unanswered: every row's columns are the scalar engine's, and the query's ranges decide a
    # good share of them itself (this fails if the interval analysis silently turns off)
    chance = random.Random(seed)
    bases = [case["applicant"] for case in ruleset.tests]
    item_paths = {f"{i.alias}.{key.split('.', 1)[1]}" for i in ruleset.compiled.instruments
                  for key, _ in i.points}  # fmt: skip
    rows = []
    for _ in range(150):
        base = chance.choice(bases)
        answered = answered_paths(base)
        items = [path for path in answered if path in item_paths]
        if not items:
            continue
        gone = set(chance.sample(items, min(len(items), chance.randint(1, spread))))
        if chance.random() < 0.2:
            gone.add(chance.choice(answered))
        rows.append(without_answers(base, gone))
    assert len(rows) > 100
    result = ruleset.evaluate_batch(arrow_table(rows))
    assert len(result) == len(rows)
    assert_identical(ruleset, result, [result.applicant(i) for i in range(len(result))])
    engines = result.table["engine"].to_pylist()
    assert engines.count(COLUMNAR) >= len(rows) // 2, (engines.count(COLUMNAR), len(rows))
