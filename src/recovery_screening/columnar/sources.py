"""Applicant tables and files -> one typed DuckDB relation the columnar query reads.

The relation has a column per declared input (`"phq9.q9"`, NULL when unanswered), `__row`
(the row's position) and `__valid`: whether the SQL could prove that the row meets the input
contract exactly as the scalar applicant check would (`evaluate.check_applicant`). A row that
is not proven valid is not guessed at: the caller hands it, as the applicant object it is, to
the scalar engine, which reports its problems (or, when the doubt was only the SQL's, decides
it). The checks are deliberately stricter than the contract where SQL cannot mirror Python
exactly (a string that starts or ends with white space, a number beyond 2**53, a date's digits).

A JSON Lines file is read by DuckDB's JSON reader, a row per non-blank line (a line it cannot
parse is a NULL row in its place; `__raw` keeps each line's text for the rows the scalar engine
takes); an Arrow table (or a Parquet file) by its typed columns, with
instrument items as struct columns (`audit` with fields `q1`...) or flat columns (`audit.q1`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from recovery_screening.columnar.sql import quote, string_literal
from recovery_screening.compiler import CompiledRuleset
from recovery_screening.document.reader import MAX_DOCUMENT_BYTES
from recovery_screening.fields import InputField

EXACT = 2**53
_LENIENT = r",[ \t\r\n]*[\]}]"
"""A comma before a closing bracket: DuckDB's JSON reader accepts it, Python's does not (the
check is on the text, so a string holding ",}" sends its row to the scalar engine too)."""
_JSON_TYPES = {
    "boolean": ("BOOLEAN",),
    "integer": ("UBIGINT", "BIGINT"),
    "number": ("UBIGINT", "BIGINT", "DOUBLE"),
    "enum": ("VARCHAR",),
    "string": ("VARCHAR",),
    "date": ("VARCHAR",),
}
_SAFE_END = "[!-~]"
"""A string the SQL accepts starts and ends with printable ASCII (Python's strip is Unicode's)."""


@dataclass(frozen=True)
class Loader:
    """The SQL of the typed relation, and the columns it adds beside the inputs."""

    sql: str
    raw: bool
    """Whether `__raw` holds each row's JSON text."""


def _value_checks(field: InputField, value: str) -> list[str]:
    """Conditions on a present, correctly typed value (range, allowed values, length)."""
    checks: list[str] = []
    if field.kind in ("integer", "number"):
        if field.kind == "number":
            # NaN and the infinities fail this too, in DuckDB and in Spark (no isfinite there)
            checks.append(f"abs({value}) < {EXACT}")
        if field.values:
            checks.append(f"{value} IN ({', '.join(repr(v) for v in field.values)})")
        if field.minimum is not None:
            checks.append(f"{value} >= {field.minimum!r}")
        if field.maximum is not None:
            checks.append(f"{value} <= {field.maximum!r}")
    elif field.kind == "enum":
        checks.append(f"{value} IN ({', '.join(string_literal(v) for v in field.values)})")
    elif field.kind == "string":
        limit = field.max_length if field.max_length is not None else 64
        checks.append(
            f"(length({value}) = 0 OR (regexp_matches({value}, '^{_SAFE_END}') "
            f"AND regexp_matches({value}, '{_SAFE_END}$'))) AND length({value}) <= {limit} "
            f"AND NOT regexp_matches({value}, '[\\[\\{{\\x00-\\x1f]')"
        )
    return checks


def _json_field(field: InputField, element: str) -> tuple[str, str]:
    """(typed value, proven valid) of one answer given as a JSON value (NULL when absent)."""
    kind = json_type = f"json_type({element})"
    types = ", ".join(string_literal(t) for t in _JSON_TYPES[field.kind])
    if field.kind == "boolean":
        value = f"CASE WHEN {kind} = 'BOOLEAN' THEN CAST({element} AS BOOLEAN) END"
    elif field.kind == "integer":
        value = f"CASE WHEN {kind} IN ({types}) THEN TRY_CAST({element} AS BIGINT) END"
    elif field.kind == "number":
        value = f"CASE WHEN {kind} IN ({types}) THEN TRY_CAST({element} AS DOUBLE) END"
    elif field.kind == "date":
        text = f"json_extract_string({element}, '$')"
        value = (
            f"CASE WHEN {kind} = 'VARCHAR' AND regexp_full_match({text}, "
            f"'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]') AND {text} >= '0001' "
            f"THEN TRY_CAST({text} AS DATE) END"
        )
    else:
        value = f"CASE WHEN {kind} = 'VARCHAR' THEN json_extract_string({element}, '$') END"
    present = f"{value} IS NOT NULL"
    checks = " AND ".join([present, *_value_checks(field, f"({value})")])
    valid = f"({json_type} IS NULL OR {json_type} = 'NULL' OR ({checks}))"
    return value, valid


def _keys_ok(keys: str, allowed: Sequence[str]) -> str:
    listed = ", ".join(string_literal(key) for key in allowed)
    return (
        f"(list_has_all([{listed}]::VARCHAR[], {keys}) "
        f"AND len(list_distinct({keys})) = len({keys}))"
    )


def top_keys(compiled: CompiledRuleset) -> list[str]:
    return list(compiled.inputs.top) + list(compiled.inputs.groups)


def jsonl_loader(
    compiled: CompiledRuleset,
    path: str,
    ignore: frozenset[str] = frozenset(),
    *,
    member: str | None = None,
    carry: Sequence[str] = (),
) -> Loader:
    """The objects of a JSON Lines file, each checked and converted. With `member`, each
    line's applicant is that member of the line's object (a decision record's `input`); the
    `carry` members of each line's object (a record's `record_hash`) come first, as text."""
    fields = compiled.inputs.fields
    paths = [_json_path(field) for field in fields]
    groups = list(compiled.inputs.groups)
    group_paths = [f"$.{_json_key(alias)}" for alias in groups]
    listed = ", ".join(string_literal(p) for p in [*paths, *group_paths])
    columns: list[str] = []
    valid: list[str] = []
    for index, field in enumerate(fields, start=1):
        value, ok = _json_field(field, f"__e[{index}]")
        columns.append(f"{value} AS {quote(field.name)}")
        valid.append(ok)
    for offset, alias in enumerate(groups, start=len(fields) + 1):
        element = f"__e[{offset}]"
        kind = f"json_type({element})"
        items = list(compiled.inputs.groups[alias])
        valid.append(
            f"({kind} IS NULL OR {kind} = 'NULL' OR ({kind} = 'OBJECT' "
            f"AND {_keys_ok(f'json_keys({element})', items)}))"
        )
    checks = " AND ".join(valid)
    carried = "".join(f"{quote(name)}, " for name in carry)
    lines = "".join(
        f", json_extract_string(json, {string_literal('$.' + _json_key(name))}) AS {quote(name)}"
        for name in carry
    )
    raw = (
        "json"
        if member is None
        else f"json_extract(json, {string_literal('$.' + _json_key(member))})"
    )
    sql = (
        f"SELECT {carried}__raw, "
        + ", ".join(columns)
        + f", COALESCE(__json AND {checks}, FALSE) AS __valid FROM (SELECT {carried}__raw, "
        f"(strlen(__raw) + 2 <= {MAX_DOCUMENT_BYTES} AND json_type(__raw) = 'OBJECT' "
        f"AND NOT regexp_matches(__raw, '{_LENIENT}') "
        f"AND {_keys_ok('json_keys(__raw)', [*top_keys(compiled), *sorted(ignore)])}) AS __json, "
        f"json_extract(__raw, [{listed}]) AS __e FROM (SELECT {raw} AS __raw{lines} FROM "
        f"read_ndjson_objects({string_literal(path)}, ignore_errors=true)))"
    )
    return Loader(sql, raw=True)


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_path(field: InputField) -> str:
    if field.instrument is not None:
        return f"$.{_json_key(field.instrument)}.{_json_key(field.item)}"
    return f"$.{_json_key(field.name)}"


# --- Arrow tables ------------------------------------------------------------------------------


def _arrow_kind(arrow_type: Any) -> str | None:
    """The input kind an Arrow column can hold exactly as the scalar check sees it."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_dictionary(arrow_type):
        return _arrow_kind(arrow_type.value_type)
    return None


_ACCEPTS = {
    "boolean": {"boolean"},
    "integer": {"integer"},
    "number": {"integer", "float"},
    "enum": {"string"},
    "string": {"string"},
    "date": {"string"},
}


def _typed_column(field: InputField, column: str, arrow_type: Any) -> tuple[str, str]:
    """(typed value, proven valid) of one answer column of an Arrow table."""
    kind = _arrow_kind(arrow_type)
    if kind not in _ACCEPTS[field.kind]:
        return "NULL", f"({column} IS NULL)"
    if field.kind == "integer":
        value = f"TRY_CAST({column} AS BIGINT)"
    elif field.kind == "number":
        value = f"TRY_CAST({column} AS DOUBLE)"
        if kind == "integer":
            value = f"(CASE WHEN abs({column}) < {EXACT} THEN {value} END)"
    elif field.kind == "date":
        value = (
            f"(CASE WHEN regexp_full_match({column}, "
            f"'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]') AND {column} >= '0001' "
            f"THEN TRY_CAST({column} AS DATE) END)"
        )
    else:
        value = f"CAST({column} AS {'BOOLEAN' if field.kind == 'boolean' else 'VARCHAR'})"
    checks = " AND ".join([f"{value} IS NOT NULL", *_value_checks(field, value)])
    return value, f"({column} IS NULL OR ({checks}))"


def arrow_loader(
    compiled: CompiledRuleset,
    schema: Any,
    table: str,
    ignore: frozenset[str] = frozenset(),
    carry: Sequence[str] = (),
) -> Loader:
    """A registered Arrow table (`table`) as the typed relation; the `carry` columns of the
    table (not in `schema`, not checked) come first, as they are.

    A null cell is an absent key. A column that is neither an input nor an instrument alias
    (nor `alias.item`) makes its non-null rows invalid; so does a value of a type the scalar
    check would refuse (a float in an integer column)."""
    import pyarrow as pa

    top = compiled.inputs.top
    groups = compiled.inputs.groups
    by_name = {field.name: field for field in compiled.inputs.fields}
    values: dict[str, str] = {}
    valid: list[str] = []
    for arrow_field in schema:
        name = arrow_field.name
        column = quote(name)
        if name in ignore or name.split(".", 1)[0] in ignore:
            continue
        if name in top or (name in by_name and by_name[name].instrument is not None):
            value, ok = _typed_column(by_name[name], column, arrow_field.type)
            values[name] = f"COALESCE({values[name]}, {value})" if name in values else value
            valid.append(ok)
        elif name in groups and pa.types.is_struct(arrow_field.type):
            items = groups[name]
            for child in arrow_field.type:
                element = f"{column}.{quote(child.name)}"
                if child.name not in items:
                    valid.append(f"({element} IS NULL)")
                    continue
                item_field = items[child.name]
                value, ok = _typed_column(item_field, element, child.type)
                key = item_field.name
                values[key] = f"COALESCE({values[key]}, {value})" if key in values else value
                valid.append(ok)
        else:
            valid.append(f"({column} IS NULL)")
    columns = [
        f"{values.get(field.name, 'NULL')}::{_sql_type(field)} AS {quote(field.name)}"
        for field in compiled.inputs.fields
    ]
    checks = " AND ".join(valid) if valid else "TRUE"
    carried = "".join(f"{quote(name)}, " for name in carry)
    sql = (
        f"SELECT {carried}NULL::VARCHAR AS __raw, {', '.join(columns)}, {checks} AS __valid "
        f"FROM {table}"
    )
    return Loader(sql, raw=False)


def _sql_type(field: InputField) -> str:
    from recovery_screening.columnar.sql import SQL_TYPES

    return SQL_TYPES[field.kind]
