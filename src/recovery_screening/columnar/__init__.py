"""The columnar engine: a compiled ruleset as one SQL query over a table of applicants, run by
DuckDB (the `columnar` extra) and written in SQL that Spark runs too (docs/scale.md).

`Ruleset.evaluate_batch()` is the way in; `columnar_sql()` gives the query for a warehouse.
"""

from recovery_screening.columnar.batch import (
    COLUMNAR,
    SCALAR,
    BatchResult,
    ColumnarEngine,
    ColumnarMismatch,
    columnar_engine,
    columnar_sql,
    evaluate_batch,
)
from recovery_screening.columnar.sql import ColumnarQuery, OutputColumn, Uncompilable, compile_query

__all__ = [
    "COLUMNAR",
    "SCALAR",
    "BatchResult",
    "ColumnarEngine",
    "ColumnarMismatch",
    "ColumnarQuery",
    "OutputColumn",
    "Uncompilable",
    "columnar_engine",
    "columnar_sql",
    "compile_query",
    "evaluate_batch",
]
