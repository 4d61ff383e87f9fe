"""`sql`: print a ruleset's columnar query (DuckDB or Spark SQL) for a warehouse view."""

from __future__ import annotations

import argparse
import json
from typing import Any

from recovery_screening.cli._common import (
    EXIT_OK,
    add_format_option,
    add_rulesets_dir_option,
    open_ruleset,
)
from recovery_screening.errors import ScreeningError

DIALECTS = ("duckdb", "spark")


def register(subparsers: Any) -> None:
    sql = subparsers.add_parser(
        "sql",
        help="print a ruleset's columnar query (DuckDB or Spark SQL) over a table of applicants",
        description="Print the SQL that decides a whole table of applicants with the ruleset. "
        "The table has one typed column per declared input (listed in the comment at the top). "
        "The query trusts the column types and values; rows whose `certain` column is false "
        "must be decided by the scalar engine (docs/scale.md).",
    )
    sql.add_argument("ruleset", metavar="RULESET", help="ruleset id[@version] or file")
    sql.add_argument(
        "--dialect", choices=DIALECTS, default="duckdb", help="SQL dialect (default: duckdb)"
    )
    sql.add_argument(
        "--table",
        default="applicants",
        metavar="NAME",
        help="the table or view the query reads, written as given (default: applicants)",
    )
    add_rulesets_dir_option(sql)
    add_format_option(sql)
    sql.set_defaults(handler=run_sql)


def run_sql(arguments: argparse.Namespace) -> int:
    from recovery_screening.columnar.sql import SQL_TYPES, Uncompilable, compile_query

    ruleset = open_ruleset(arguments, arguments.ruleset)
    try:
        # Spark runs the compact query (evaluate_spark): it plans the full v2 one slowly
        query = compile_query(ruleset.compiled, exact=arguments.dialect != "spark")
    except Uncompilable as reason:
        raise ScreeningError(
            f"ruleset {ruleset.id} {ruleset.version}: not compiled to SQL ({reason}); "
            "decide its applicants with evaluate_batch (the scalar engine)"
        ) from None
    text = query.sql(arguments.table)
    if arguments.dialect == "spark":
        from recovery_screening.columnar.spark import to_spark_sql

        text = to_spark_sql(text)
    inputs = []
    for field in query.inputs:
        sql_type = SQL_TYPES[field.kind]
        if arguments.dialect == "spark" and sql_type == "VARCHAR":
            sql_type = "STRING"
        inputs.append((field.name, sql_type))
    if arguments.format == "json":
        document = {
            "ruleset": ruleset.id,
            "version": ruleset.version,
            "content_hash": ruleset.content_hash,
            "dialect": arguments.dialect,
            "table": arguments.table,
            "inputs": [{"name": name, "type": sql_type} for name, sql_type in inputs],
            "notes": list(query.notes),
            "sql": text,
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
        return EXIT_OK
    lines = [
        f"-- {ruleset.id} {ruleset.version} ({ruleset.content_hash}), {arguments.dialect} dialect",
        f"-- reads {arguments.table}: one column per declared input, NULL when unanswered:",
    ]
    lines += [f'--   "{name}" {sql_type}' for name, sql_type in inputs]
    lines.append("-- values must meet the ruleset's input contract (not checked here);")
    lines.append("-- a row whose `certain` column is false must be decided by the scalar engine.")
    for note in query.notes:
        lines.append(f"-- note: {note}")
    print("\n".join(lines))
    print(text + ";")
    return EXIT_OK
