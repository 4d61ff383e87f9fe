"""The columnar query on Spark SQL: a Spark DataFrame of applicants decided where it lives.

`evaluate_spark(ruleset, dataframe)` runs the ruleset's compiled query (`columnar.sql`), written
for DuckDB and transpiled to Spark SQL by sqlglot, over the DataFrame. Its table of applicants is
read as `evaluate_batch` reads an Arrow table (a column per input, named as the ruleset names it;
instrument items as a struct column per alias or flat `alias.item` columns; a null cell is an
unanswered question), with the same checks of the input contract, written in the same SQL.

A row the SQL cannot prove identical to the scalar engine's decision (a row that may break the
input contract, a format v2 row with an undecided rule or an unanswered instrument item, a row
past a compile-time bound) is decided by the scalar engine (`Ruleset.evaluate`) on the
executors, in `mapInArrow`, and says so in its `engine` column; with `scalar=False` those rows
are returned undecided instead (`engine` is `pending`, every result column null) for the caller
to decide. Nothing differs silently.

Needs the `spark` extra (pyspark, sqlglot, pyarrow) on the driver, and recovery-screening with
pyarrow on the executors when `scalar` is true. DuckDB is not needed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.columnar.sql import OutputColumn, compile_query, output_columns
from recovery_screening.errors import MissingExtra, ScreeningError

if TYPE_CHECKING:
    from recovery_screening.ruleset import Ruleset

COLUMNAR = "columnar"
SCALAR = "scalar"
PENDING = "pending"
SOURCE = "__source"
"""The column holding each row's original cells (a struct), for the scalar engine."""

_SPARK_TYPES = {
    "boolean": "boolean",
    "integer": "bigint",
    "number": "double",
    "string": "string",
    "date": "date",
    "list": "array<string>",
}
_PROBLEMS = "array<struct<path:string,code:string,message:string>>"


def to_spark_sql(duckdb_sql: str) -> str:
    """A query of the columnar engine (DuckDB dialect) in Spark SQL, transpiled by sqlglot."""
    try:
        import sqlglot
    except ImportError as error:
        raise MissingExtra("spark", error.name or "sqlglot") from None
    (spark_sql,) = sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")
    return str(spark_sql)


def spark_sql(ruleset: Ruleset, table: str = "applicants") -> str:
    """The ruleset's columnar query over `table` in Spark SQL (see `columnar_sql`); raises
    Uncompilable when the ruleset has none."""
    return to_spark_sql(compile_query(ruleset.compiled, exact=False).sql(table))


def _backticked(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def evaluate_spark(
    ruleset: Ruleset, dataframe: Any, *, keep: Sequence[str] = (), scalar: bool = True
) -> Any:
    """Decide every applicant of a Spark DataFrame; returns a Spark DataFrame (lazy, as Spark's
    are) with, per row: the `keep` columns as they are (a row id, say: they are not inputs and
    are not checked), `engine` (`columnar`, `scalar` or, with `scalar=False`, `pending`),
    `valid`, `problems`, and the result columns of `BatchResult.table` (`outcome`, `deciding`,
    `needs`, `referrals`, ..., `rule:<id>`, domain scores and bands, instrument totals).

    Every column of the DataFrame other than `keep` is read as an applicant's answer; one that
    is neither an input nor an instrument alias makes its non-null rows go to the scalar
    engine, which reports them (an unknown key), as `evaluate_batch` does for an Arrow table.
    The rows are in no particular order (Spark's): join on a `keep` column.
    """
    try:
        from pyspark.sql import functions
        from pyspark.sql.pandas.types import to_arrow_schema
    except ImportError as error:
        raise MissingExtra("spark", error.name or "pyspark") from None
    from recovery_screening.columnar.batch import columnar_engine
    from recovery_screening.columnar.sources import arrow_loader

    keep = list(keep)
    missing = [name for name in keep if name not in dataframe.columns]
    if missing:
        raise ScreeningError(f"evaluate_spark: no column {', '.join(missing)} to keep")
    answers = [name for name in dataframe.columns if name not in keep]
    if SOURCE in dataframe.columns:
        raise ScreeningError(f"evaluate_spark: the column name {SOURCE} is reserved")
    columns = output_columns(ruleset.compiled)
    engine = columnar_engine(ruleset)
    source_type = dataframe.select(*(_backticked(name) for name in answers)).schema
    with_source = dataframe.select(
        *(_backticked(name) for name in dataframe.columns),
        functions.struct(*(_backticked(name) for name in answers)).alias(SOURCE),
    )
    result_schema = _result_schema(dataframe.select(*keep).schema, columns)
    if engine.query is None:
        undecided = with_source.select(*keep, SOURCE)
    else:
        session = dataframe.sparkSession
        view = f"__recovery_screening_{uuid.uuid4().hex}"
        with_source.createOrReplaceTempView(view)
        try:
            loader = arrow_loader(
                ruleset.compiled, to_arrow_schema(source_type), view,
                carry=(*keep, SOURCE),
            )  # fmt: skip
            typed = f"__typed_{view}"
            session.sql(to_spark_sql(loader.sql)).createOrReplaceTempView(typed)
            try:
                compact = compile_query(ruleset.compiled, exact=False)
                query = to_spark_sql(compact.sql(typed, (*keep, SOURCE, "__valid")))
                decided = session.sql(query)  # analysed now: the views can go
            finally:
                session.catalog.dropTempView(typed)
        finally:
            session.catalog.dropTempView(view)
        proven = functions.coalesce(
            functions.col("__valid") & functions.col("certain"), functions.lit(False)
        )
        columnar_rows = decided.filter(proven).select(
            *keep,
            functions.lit(COLUMNAR).alias("engine"),
            functions.lit(True).alias("valid"),
            functions.lit(None).cast(_PROBLEMS).alias("problems"),
            *(
                functions.col(_backticked(c.name)).cast(_SPARK_TYPES[c.kind]).alias(c.name)
                for c in columns
            ),
        )
        undecided = decided.filter(~proven).select(*keep, SOURCE)
    if not scalar:
        pending = undecided.select(
            *keep,
            functions.lit(PENDING).alias("engine"),
            functions.lit(None).cast("boolean").alias("valid"),
            functions.lit(None).cast(_PROBLEMS).alias("problems"),
            *(functions.lit(None).cast(_SPARK_TYPES[c.kind]).alias(c.name) for c in columns),
        )
        return pending if engine.query is None else columnar_rows.unionByName(pending)
    decide = _ScalarRows(ruleset, tuple(keep), result_schema)
    by_scalar = undecided.mapInArrow(decide, result_schema)
    return by_scalar if engine.query is None else columnar_rows.unionByName(by_scalar)


def _result_schema(keep_schema: Any, columns: Sequence[OutputColumn]) -> Any:
    from pyspark.sql.types import StructType, _parse_datatype_string

    fields = list(keep_schema.fields)
    schema = StructType(fields)
    for name, kind in [("engine", "string"), ("valid", "boolean"), ("problems", _PROBLEMS)]:
        schema = schema.add(name, _parse_datatype_string(kind))
    for column in columns:
        schema = schema.add(column.name, _parse_datatype_string(_SPARK_TYPES[column.kind]))
    return schema


_COMPILED: dict[tuple[object, ...], Ruleset] = {}
"""The rulesets an executor compiled, by content hash (and backend, instruments, publication)."""
_COMPILED_LOCK = threading.Lock()


def compiled_once(data: Mapping[str, Any]) -> Ruleset:
    """The ruleset `ruleset_data` describes, compiled once per process (an executor's Python
    worker) and kept by its content hash."""
    from recovery_screening.ruleset import ruleset_from_data

    key = (
        data["content_hash"],
        data["backend"],
        bool(data["published"]),
        tuple(
            sorted((reference, digest) for reference, (_, digest) in data["instruments"].items())
        ),
    )
    with _COMPILED_LOCK:
        ruleset = _COMPILED.get(key)
        if ruleset is None:
            ruleset = _COMPILED[key] = ruleset_from_data(data)
    return ruleset


class _ScalarRows:
    """`mapInArrow`'s function: each row's applicant (its non-null original cells) decided by
    the scalar engine, as `evaluate_batch` decides the rows its SQL cannot prove.

    Spark ships it to the executors; it holds the ruleset as plain data (`ruleset_data`: its
    documents and hash), never the compiled ruleset, and each executor compiles it once."""

    def __init__(self, ruleset: Ruleset, keep: tuple[str, ...], schema: Any) -> None:
        from recovery_screening.ruleset import ruleset_data

        self.ruleset_data = ruleset_data(ruleset)
        self.keep = keep
        self.schema = schema

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        from recovery_screening.columnar.batch import _scalar_rows, result_columns, table_applicant

        ruleset = compiled_once(self.ruleset_data)
        columns = result_columns(ruleset)
        arrow_schema = to_arrow_schema(self.schema)
        for batch in batches:
            table = pa.Table.from_batches([batch])
            applicants = [table_applicant(cells) for cells in table[SOURCE].to_pylist()]
            rows = list(range(len(applicants)))
            decided = _scalar_rows(ruleset, applicants, rows, columns, None).drop(["row"])
            for index, name in enumerate(self.keep):
                decided = decided.add_column(index, name, table[name])
            yield from decided.select(arrow_schema.names).cast(arrow_schema).to_batches()


__all__ = ["COLUMNAR", "PENDING", "SCALAR", "evaluate_spark", "spark_sql", "to_spark_sql"]
