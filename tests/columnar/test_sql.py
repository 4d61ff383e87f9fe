"""The SQL compiler: one query per ruleset, in SQL that sqlglot reads and writes for Spark, and the
compile-time announcements of what the SQL leaves to the scalar engine."""

from __future__ import annotations

from typing import Any

import pytest

from recovery_screening import Ruleset, load_document, load_ruleset, shipped_rulesets_directory
from recovery_screening.columnar import Uncompilable, columnar_engine, columnar_sql, compile_query
from recovery_screening.columnar.sql import output_columns

SHIPPED = {
    f"{path.parent.name}@{path.stem}": load_ruleset(path)
    for path in sorted(shipped_rulesets_directory().glob("*/*.yaml"))
}
RULESETS = [pytest.param(ruleset, id=name) for name, ruleset in sorted(SHIPPED.items())]
BASE: dict[str, Any] = {
    "format": "recovery-screening/v1",
    "kind": "screening",
    "id": "sql-snippet",
    "version": "1.0.0",
    "title": "SQL snippet",
    "default": {"outcome": "admit", "code": "ADMIT", "text": "Admitted."},
}


def snippet(inputs: dict[str, Any], decisions: list[dict[str, Any]], **more: Any) -> Ruleset:
    return load_document({**BASE, "inputs": inputs, "decisions": decisions, **more})


@pytest.mark.parametrize("ruleset", RULESETS)
def test_every_shipped_ruleset_compiles_to_sql_spark_can_run(ruleset: Ruleset) -> None:
    sqlglot = pytest.importorskip("sqlglot")
    sql = columnar_sql(ruleset, "applicants")
    assert "FROM applicants" in sql
    (spark,) = sqlglot.transpile(sql, read="duckdb", write="spark")
    assert "FILTER(ARRAY(" in spark or "FILTER(" in spark
    names = [column.name for column in compile_query(ruleset.compiled).outputs]
    assert names == ["certain", *(c.name for c in output_columns(ruleset.compiled))]


def test_the_query_reads_a_table_by_the_name_given() -> None:
    duckdb = pytest.importorskip("duckdb")
    ruleset = snippet(
        {"score": {"type": "integer", "minimum": 0, "maximum": 10, "label": "Score"}},
        [{"id": "high", "when": "score >= 7", "outcome": "refer", "code": "H", "text": "high"}],
    )
    connection = duckdb.connect()
    connection.execute("CREATE TABLE cohort AS SELECT * FROM (VALUES (8), (2), (NULL)) t(score)")
    rows = connection.sql(columnar_sql(ruleset, "cohort")).fetchall()
    assert [(row[1], row[2], row[3]) for row in rows] == [
        ("refer", ["high"], []),
        ("admit", ["default"], []),
        ("defer", ["incomplete"], ["score"]),
    ]


def test_arithmetic_beyond_exact_doubles_is_not_compiled_and_says_so() -> None:
    ruleset = snippet(
        {"n": {"type": "integer", "label": "Unbounded"}},
        [{"id": "big", "when": "n * 3 > 10", "outcome": "refer", "code": "B", "text": "big"}],
    )
    with pytest.raises(Uncompilable, match="2\\*\\*53"):
        compile_query(ruleset.compiled)
    engine = columnar_engine(ruleset)
    assert engine.query is None
    assert "every row is decided by the scalar engine" in engine.notes[0]


@pytest.mark.parametrize(
    ("condition", "provable", "engine"),
    [
        ("a and (b or not c)", True, "columnar"),
        ("a and not a", False, "scalar"),  # false whatever a is: the search finds that
        ("level >= 3", True, "columnar"),
        ("level >= 0", False, "columnar"),  # true for every allowed answer: the ranges say so
        ("level + level > 2", True, "scalar"),  # arithmetic: the query writes no range of it
        ("level > 2 or level < 1", True, "columnar"),  # one input read twice, both ways
        ("is_missing(a) or b", True, "columnar"),
        ("kind == 'x' or kind in ['y']", True, "columnar"),
        ("kind in ['x', 'y']", True, "columnar"),
        # kind in two parts: not read-once, but over few answers (every combination tried)
        ("kind == 'x' or a or kind == 'y' and b", True, "columnar"),
        ("a == (kind == 'x') and level > 4 and not (kind == 'x')", True, "columnar"),
    ],
)
def test_which_undecided_rules_the_query_proves_undecided(
    condition: str, provable: bool, engine: str
) -> None:
    pytest.importorskip("duckdb")
    from recovery_screening.columnar.exact_sql import RangeWriter, UndecidedProof

    labels = {"value_labels": {"true": "Y", "false": "N"}}
    ruleset = load_document(
        {
            **BASE,
            "format": "recovery-screening/v2",
            "inputs": {n: {"type": "boolean", "label": n, **labels} for n in ("a", "b", "c")}
            | {
                "level": {"type": "integer", "minimum": 0, "maximum": 5, "label": "Level"},
                "kind": {
                    "type": "enum",
                    "values": ["x", "y", "z"],
                    "label": "Kind",
                    "value_labels": {"x": "X", "y": "Y", "z": "Z"},
                },
            },
            "decisions": [],
            "advisories": [{"id": "note", "when": condition, "code": "N", "text": "note"}],
        }
    )
    compiled = ruleset.compiled
    (advisory,) = compiled.advisories
    ranges = RangeWriter(compiled, {}, {}, {}, {}, {})
    assert (
        UndecidedProof(compiled, ranges, ({}, {})).proof(advisory.expression) is not None
    ) is provable
    # every answer missing: the query decides the row where it proves the advisory undecided
    # (or the ranges decide it), and its columns are the scalar engine's
    import pyarrow as pa
    from tests.columnar.test_batch import assert_identical

    table = pa.table({"a": pa.nulls(2, pa.bool_()), "b": pa.array([None, True])})
    result = ruleset.evaluate_batch(table)
    assert_identical(ruleset, result, [result.applicant(i) for i in range(2)])
    assert result.table["engine"].to_pylist()[0] == engine


def test_sql_verb_prints_the_query_and_its_input_columns_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json
    from pathlib import Path

    from recovery_screening.cli import main

    duckdb = pytest.importorskip("duckdb")
    mini = Path(__file__).parent.parent / "fixtures" / "rulesets" / "mini" / "1.0.0.yaml"
    assert main(["sql", str(mini), "--table", "typed", "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["ruleset"], printed["dialect"], printed["table"]) == (
        "mini", "duckdb", "typed",
    )  # fmt: skip
    complete = {"withdrawal": "none", "ready": 8, "attends": True, "violent": False,
                "scale.q1": 0, "scale.q2": True, "scale.q3": 0}  # fmt: skip
    columns = ", ".join(
        f"CAST({columnar_literal(complete.get(column['name']))} AS {column['type']}) "
        f'AS "{column["name"]}"'
        for column in printed["inputs"]
    )
    connection = duckdb.connect()
    connection.execute(f"CREATE TABLE typed AS SELECT {columns}")
    (row,) = connection.sql(printed["sql"]).fetchall()
    assert row[:3] == (True, "admit", ["default"])


def columnar_literal(value: object) -> str:
    from recovery_screening.columnar.sql import literal

    return literal(value)


def test_the_compact_v2_query_decides_a_subset_of_the_rows_the_same_way() -> None:
    # Spark runs the compact query (no range evaluation over missing answers): it leaves more
    # rows to the scalar engine, and decides the others exactly as the full query does
    duckdb = pytest.importorskip("duckdb")
    from pathlib import Path

    from recovery_screening.columnar.sources import jsonl_loader

    ruleset = SHIPPED["peer-support-intake@1.2.0"]
    cohort = Path(__file__).parent.parent.parent / "examples" / "cohort-1000-v1.1.jsonl"
    connection = duckdb.connect()
    loader = jsonl_loader(ruleset.compiled, str(cohort), frozenset())
    connection.execute(f"CREATE TEMP TABLE typed AS {loader.sql}")
    full = connection.sql(compile_query(ruleset.compiled).sql("typed")).to_arrow_table()
    compact_query = compile_query(ruleset.compiled, exact=False)
    compact = connection.sql(compact_query.sql("typed")).to_arrow_table()
    assert len(compact_query.sql()) < len(compile_query(ruleset.compiled).sql()) * 0.6
    full_rows, compact_rows = full.to_pylist(), compact.to_pylist()
    decided = [i for i, row in enumerate(compact_rows) if row["certain"]]
    assert 0 < len(decided) < sum(row["certain"] for row in full_rows)
    for i in decided:
        assert full_rows[i]["certain"]
        assert compact_rows[i] == full_rows[i], i
