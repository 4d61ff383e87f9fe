"""The columnar query on Spark SQL (PySpark in local mode) decides every row of the example cohorts
exactly as DuckDB's `evaluate_batch` and the scalar engine do.

One local SparkSession serves the whole test session (`local[2]`, no UI, bound to 127.0.0.1).
Skipped, saying why, only where PySpark or Java cannot be had.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.cli import main

REPO = Path(__file__).parent.parent.parent
FIXTURE_RULESETS = REPO / "tests" / "fixtures" / "rulesets"
COHORT = REPO / "examples" / "cohort-1000-v1.1.jsonl"
COHORT_ROWS = 200
"""The first rows of the example cohort: rows the SQL decides and rows it leaves to the scalar
engine (format v2 with unanswered items), at a fraction of Spark's cost for the whole file."""


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.skip('PySpark is not installed: pip install ".[spark]" (or the wheel with [spark])')
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("PySpark needs Java (17 or later), and there is none here")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["PYSPARK_PYTHON"] = sys.executable  # the executors run this interpreter
    session = (
        SparkSession.builder.master("local[2]")
        .appName("recovery-screening-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def with_ids(source: Path, target: Path, rows: int) -> Path:
    """The cohort's first `rows` applicants with an `id` (the row) on each, for joining Spark's
    unordered rows."""
    lines = [line for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    target.write_text(
        "".join(
            json.dumps({"id": row, **json.loads(line)}) + "\n"
            for row, line in enumerate(lines[:rows])
        ),
        encoding="utf-8",
    )
    return target


def spark_rows(result: Any) -> dict[int, dict[str, Any]]:
    rows = {}
    for row in result.collect():
        cells = row.asDict()
        if cells["problems"] is not None:
            cells["problems"] = [problem.asDict() for problem in cells["problems"]]
        rows[cells.pop("id")] = cells
    return rows


def test_spark_decides_the_example_cohort_as_duckdb_and_the_scalar_engine(
    spark: Any, tmp_path: Path
) -> None:
    pytest.importorskip("duckdb")
    from recovery_screening.columnar.spark import evaluate_spark

    ruleset = load_ruleset("peer-support-intake@1.1.0")
    cohort = with_ids(COHORT, tmp_path / "cohort.jsonl", COHORT_ROWS)
    by_spark = spark_rows(evaluate_spark(ruleset, spark.read.json(str(cohort)), keep=["id"]))
    applicants = [json.loads(line) for line in COHORT.read_text().splitlines()[:COHORT_ROWS]]
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps(applicant) + "\n" for applicant in applicants))
    by_duckdb = ruleset.evaluate_batch(plain).table.to_pylist()
    assert sorted(by_spark) == list(range(COHORT_ROWS)) and len(by_duckdb) == COHORT_ROWS
    for expected in by_duckdb:
        row = expected.pop("row")
        expected.pop("readable")
        # Spark runs the compact v2 query: it leaves more rows to the scalar engine, never fewer
        engine, expected_engine = by_spark[row].pop("engine"), expected.pop("engine")
        assert engine == expected_engine or (engine, expected_engine) == ("scalar", "columnar")
        assert by_spark[row] == expected, f"row {row}"
        by_spark[row]["engine"] = engine
    for row, applicant in enumerate(applicants):
        decision = ruleset.evaluate(applicant)
        got = by_spark[row]
        assert (got["outcome"], got["deciding"], got["needs"], got["referrals"]) == (
            decision.outcome,
            list(decision.deciding),
            list(decision.needs),
            list(decision.referral_targets),
        ), f"row {row}"
    engines = [cells["engine"] for cells in by_spark.values()]
    assert engines.count("columnar") > COHORT_ROWS // 2  # the SQL decided most rows
    assert "scalar" in engines  # and the scalar engine, on the executors, the rest


@pytest.fixture(scope="module")
def mini() -> Ruleset:
    return load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")


COMPLETE = {
    "withdrawal": "none",
    "ready": 8,
    "attends": True,
    "violent": False,
    "scale": {"q1": 0, "q2": True, "q3": 0},
}


def mini_frame(spark: Any) -> Any:
    from pyspark.sql.types import (
        BooleanType,
        DoubleType,
        LongType,
        StringType,
        StructField,
        StructType,
    )

    scale = StructType([StructField(f"q{i}", t) for i, t in
                        ((1, LongType()), (2, BooleanType()), (3, LongType()))])  # fmt: skip
    schema = StructType(
        [
            StructField("id", LongType()),
            StructField("withdrawal", StringType()),
            StructField("ready", LongType()),
            StructField("attends", BooleanType()),
            StructField("violent", BooleanType()),
            StructField("weight", DoubleType()),
            StructField("scale", scale),
            StructField("extra", StringType()),
        ]
    )
    rows = [
        (0, "none", 8, True, False, 0.5, (0, True, 0), None),  # complete
        (1, "severe", None, None, None, None, None, None),  # refer despite gaps
        (2, "none", 8, True, None, None, (0, True, 0), None),  # fail-safe: violent missing
        (3, "none", 11, True, False, None, (0, True, 0), None),  # ready out of range
        (4, "none", 8, True, False, None, (0, True, 0), "x"),  # an unknown key
    ]
    return spark.createDataFrame(rows, schema)


def test_rows_the_sql_cannot_prove_go_to_the_scalar_engine_or_are_left_pending(
    spark: Any, mini: Ruleset
) -> None:
    from recovery_screening.columnar.spark import evaluate_spark

    frame = mini_frame(spark)
    decided = spark_rows(evaluate_spark(mini, frame, keep=["id"]))
    assert [decided[row]["engine"] for row in range(5)] == [
        "columnar", "columnar", "columnar", "scalar", "scalar",
    ]  # fmt: skip
    assert [decided[row]["valid"] for row in range(5)] == [True, True, True, False, False]
    assert [decided[row]["outcome"] for row in range(3)] == ["admit", "refer", "defer"]
    assert decided[2]["needs"] == ["violent"]
    for row in (3, 4):  # the problems `evaluate()` raises for that applicant
        applicant = {**COMPLETE, **({"ready": 11} if row == 3 else {"extra": "x"})}
        expected = [
            {"path": p.path, "code": p.code, "message": p.message}
            for p in mini.applicant_problems(applicant)
        ]
        assert decided[row]["problems"] == expected and expected
        assert decided[row]["outcome"] is None
    pending = spark_rows(evaluate_spark(mini, frame, keep=["id"], scalar=False))
    assert [pending[row]["engine"] for row in range(5)] == [
        "columnar", "columnar", "columnar", "pending", "pending",
    ]  # fmt: skip
    assert pending[3]["outcome"] is None and pending[3]["valid"] is None
    assert {row: pending[row] for row in range(3)} == {row: decided[row] for row in range(3)}


def test_sql_verb_prints_the_spark_query_that_spark_runs(
    spark: Any, mini: Ruleset, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sql", str(FIXTURE_RULESETS / "mini" / "1.0.0.yaml"), "--dialect", "spark",
                 "--table", "typed_mini"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert '--   "scale.q1" BIGINT' in printed
    typed = spark.createDataFrame(
        [("none", 8, True, False, 0, True, 0)],
        "withdrawal string, ready bigint, attends boolean, violent boolean, "
        "`scale.q1` bigint, `scale.q2` boolean, `scale.q3` bigint",
    )
    for field in mini.inputs:
        if field.name not in typed.columns:
            kind = {"date": "date", "string": "string", "number": "double"}[field.kind]
            typed = typed.selectExpr("*", f"CAST(NULL AS {kind}) AS `{field.name}`")
    typed.createOrReplaceTempView("typed_mini")
    try:
        (row,) = spark.sql(printed.rstrip().rstrip(";")).collect()
    finally:
        spark.catalog.dropTempView("typed_mini")
    assert (row["certain"], row["outcome"], row["deciding"]) == (True, "admit", ["default"])


# --- what the executors receive ------------------------------------------------------------


@pytest.mark.parametrize(
    "reference",
    [str(FIXTURE_RULESETS / "mini" / "1.0.0.yaml"), "peer-support-intake@1.2.0"],
)
def test_the_executors_get_the_ruleset_as_data_and_compile_it_once(reference: str) -> None:
    import pickle

    from recovery_screening.columnar.spark import _ScalarRows, compiled_once

    ruleset = load_ruleset(reference)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pickle.dumps(ruleset)  # compiled closures: never what Spark ships
    shipped = pickle.loads(pickle.dumps(_ScalarRows(ruleset, ("id",), None)))
    first = compiled_once(shipped.ruleset_data)
    assert compiled_once(pickle.loads(pickle.dumps(shipped)).ruleset_data) is first
    assert first is not ruleset
    assert (first.content_hash, first.published) == (ruleset.content_hash, ruleset.published)
    cases = [case["applicant"] for case in ruleset.tests] or [{}]
    for applicant in cases:
        assert first.evaluate(applicant).to_json() == ruleset.evaluate(applicant).to_json()


def test_a_shipped_document_that_does_not_hash_as_named_is_refused(mini: Ruleset) -> None:
    from recovery_screening.errors import RulesetAltered
    from recovery_screening.ruleset import ruleset_data, ruleset_from_data

    data = ruleset_data(mini)
    data["document"]["title"] = "Changed on the way"
    with pytest.raises(RulesetAltered):
        ruleset_from_data(data)
