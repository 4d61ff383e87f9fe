"""Screen a cohort where it lives, on Spark: one applicant a line of COHORT (JSON Lines, each
with an "id"), one decided row per applicant written to OUT (Parquet).

    spark-submit --py-files recovery_screening.whl examples/spark/screen.py RULESET COHORT OUT

Rows the ruleset's columnar query cannot prove are decided by the scalar engine on the
executors, which therefore need recovery-screening and pyarrow (docs/scale.md).
"""

from __future__ import annotations

import sys

from pyspark.sql import SparkSession

from recovery_screening import load_ruleset
from recovery_screening.columnar.spark import evaluate_spark


def main(reference: str, cohort: str, out: str) -> None:
    spark = SparkSession.builder.appName("recovery-screening").getOrCreate()
    ruleset = load_ruleset(reference)
    decided = evaluate_spark(ruleset, spark.read.json(cohort), keep=["id"])
    decided.write.mode("overwrite").parquet(out)
    written = spark.read.parquet(out)
    written.groupBy("outcome", "engine").count().orderBy("outcome", "engine").show()
    spark.stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
