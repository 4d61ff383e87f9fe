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
takes). One `json_extract` parses each line and gives every answer as the JSON text DuckDB
writes for it (`true`, `3`, `"mild"`, `null`), and the checks compare those texts: no answer is
converted before its JSON type is known, so nothing is coerced. A line with a key the ruleset
does not declare (which a typed reader would drop silently), a key given twice or a trailing
comma is seen without a second parse where the line is written compactly (no white space or
escapes, as `json.dumps(..., separators=(",", ":"))`, DuckDB and most exporters write it):
its length is then exactly the length of its known members as DuckDB writes them, and any other
member, repeated key, comma or space would make it longer. (DuckDB writes a number no longer
than it was given except a non-integral one, `1E2` as `100.0`: with such a number in the line
the proof is not taken.) Any other line has its keys listed by `json_keys`, as before.

An Arrow table (or a Parquet file) is read by its typed columns, with
instrument items as struct columns (`audit` with fields `q1`...) or flat columns (`audit.q1`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
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


def _keys_ok(keys: str, allowed: Sequence[str]) -> str:
    listed = ", ".join(string_literal(key) for key in allowed)
    return (
        f"(list_has_all([{listed}]::VARCHAR[], {keys}) "
        f"AND len(list_distinct({keys})) = len({keys}))"
    )


def top_keys(compiled: CompiledRuleset) -> list[str]:
    return list(compiled.inputs.top) + list(compiled.inputs.groups)


_PLAIN = re.compile(r"[A-Za-z0-9 _.,:;+\-()']*")
"""Text yyjson writes between quotes unchanged (no escape, no multi-byte character)."""


def _json_text(text: str) -> str:
    """The JSON text of a plain string, as DuckDB's JSON functions write it."""
    return '"' + text + '"'


def _plain(text: str) -> bool:
    return _PLAIN.fullmatch(text) is not None


def _json_answer(field: InputField, text: str) -> tuple[str, str, str]:
    """(typed value, proven valid, whether its text is as short as any writing of it) of one
    answer given as the JSON text DuckDB wrote for it (NULL when absent, `null` for null)."""
    absent = f"({text} IS NULL OR {text} = 'null')"
    exact = "TRUE"
    if field.kind == "boolean":
        value = f"(CASE {text} WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)"
        return value, f"({absent} OR {text} IN ('true', 'false'))", exact
    if field.kind == "enum" and all(_plain(v) for v in field.values):
        cases = " ".join(
            f"WHEN {string_literal(_json_text(v))} THEN {string_literal(v)}" for v in field.values
        )
        value = f"(CASE {text} {cases} END)"
        return value, f"({absent} OR {value} IS NOT NULL)", exact
    if field.kind == "integer":
        value = f"TRY_CAST({text} AS BIGINT)"
        allowed = _integer_texts(field)
        if allowed is not None:
            listed = ", ".join(string_literal(t) for t in allowed)
            return value, f"({absent} OR {text} IN ({listed}))", exact
        checks = [f"regexp_full_match({text}, '-?[0-9]{{1,15}}')", *_value_checks(field, value)]
        return value, f"({absent} OR ({' AND '.join(checks)}))", exact
    if field.kind == "number":
        value = f"TRY_CAST({text} AS DOUBLE)"
        checks = [f"{value} IS NOT NULL", *_value_checks(field, value)]
        exact = f"({absent} OR regexp_full_match({text}, '-?[0-9]{{1,15}}'))"
        return value, f"({absent} OR ({' AND '.join(checks)}))", exact
    if field.kind == "date":
        value = (
            f"(CASE WHEN regexp_full_match({text}, "
            f"'\"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]\"') AND {text} >= '\"0001' "
            f"THEN TRY_CAST({text}[2:-2] AS DATE) END)"
        )
        return value, f"({absent} OR {value} IS NOT NULL)", exact
    # a string, or an enum with a value DuckDB might write escaped
    value = f"(CASE WHEN starts_with({text}, '\"') THEN json_extract_string({text}, '$') END)"
    conditions = " AND ".join([f"{value} IS NOT NULL", *_value_checks(field, value)])
    return value, f"({absent} OR ({conditions}))", exact


def _integer_texts(field: InputField) -> list[str] | None:
    """The texts of every allowed whole number, when there are few."""
    if field.values:
        return [str(int(v)) for v in field.values if float(v).is_integer()]
    if field.minimum is None or field.maximum is None:
        return None
    low, high = math.ceil(field.minimum), math.floor(field.maximum)
    return [str(v) for v in range(low, high + 1)] if high - low < 64 else None


def _members_length(members: Sequence[tuple[str, str]]) -> str:
    """The length of the shortest JSON text of an object with these (key, value text) members
    where present: braces, `"key":value` for each, commas between."""
    terms = [
        f"COALESCE(strlen({text}) + {len(_json_text(key).encode()) + 1}, 0)"
        for key, text in members
    ]
    present = " + ".join(f"({text} IS NOT NULL)::INTEGER" for _, text in members)
    return f"(1 + {' + '.join(terms)} + GREATEST({present}, 1))" if members else "2"


def _group_valid(text: str, items: Sequence[tuple[str, str]]) -> str:
    """Whether an instrument's answers (JSON text `text`) are absent, null or an object of its
    items, each at most once: proven by the object's length where its item keys are plain."""
    keys_known = _keys_ok(f"json_keys({text})", [item for item, _ in items])
    if all(_plain(item) for item, _ in items):
        keys_known = (
            f"CASE WHEN strlen({text}) = {_members_length(items)} THEN TRUE ELSE {keys_known} END"
        )
    return f"({text} IS NULL OR {text} = 'null' OR (starts_with({text}, '{{') AND ({keys_known})))"


def jsonl_loader(
    compiled: CompiledRuleset,
    path: str,
    ignore: frozenset[str] = frozenset(),
    *,
    member: str | None = None,
    carry: Sequence[str] = (),
    labels: Sequence[tuple[str, str | None]] = (),
) -> Loader:
    """The objects of a JSON Lines file, each checked and converted (see the module's note).
    With `member`, a line's applicant is that member of the line's object (a decision record's
    `input`); the `carry` members of each line's object (a record's `record_hash`) come first,
    as text."""
    top = compiled.inputs.top
    groups = compiled.inputs.groups
    ignored = sorted(ignore - set(top) - set(groups))
    paths: list[str] = []
    texts: dict[str, str] = {}
    exact: list[str] = []
    """Conditions under which the line's length proves it has no key but the known ones."""

    def element(key: str, json_path: str) -> str:
        paths.append(json_path)
        texts[key] = quote(f"__t{len(paths)}")
        return texts[key]

    members: list[tuple[str, str]] = []
    unread: list[str] = []
    """Conditions that Python's parser accepts an ignored key's value, which nothing reads."""
    for name in top:
        members.append((name, element(name, f"$.{_json_key(name)}")))
    for alias in groups:
        members.append((alias, element(alias, f"$.{_json_key(alias)}")))
    for key in ignored:
        members.append((key, element(key, f"$.{_json_key(key)}")))
        # an ignored value is not checked: a number in it may be written shorter than DuckDB
        # writes it (`1E2` is `100.0`), which would leave room for an unknown key
        exact.append(f"NOT regexp_matches(COALESCE({texts[key]}, ''), '[0-9][.eE]')")
        unread.append(_unread_valid(texts[key]))
    for alias, items in groups.items():
        for item, field in items.items():
            element(field.name, f"$.{_json_key(alias)}.{_json_key(item)}")
    label_columns = _json_labels(labels, element)
    columns: list[str] = []
    valid: list[str] = []
    for field in compiled.inputs.fields:
        value, ok, short = _json_answer(field, texts[field.name])
        columns.append(f"{value} AS {quote(field.name)}")
        valid.append(ok)
        if short != "TRUE":
            exact.append(short)
    for alias, items in groups.items():
        valid.append(
            _group_valid(texts[alias], [(item, texts[f.name]) for item, f in items.items()])
        )
    valid += unread
    plain_keys = all(_plain(key) for key, _ in members)
    allowed = [*top_keys(compiled), *sorted(ignore)]
    exactly = f"strlen(__raw) = {_members_length(members)}"
    if exact:
        exactly += " AND " + " AND ".join(exact)
    thorough = (
        f"json_type(__raw) = 'OBJECT' AND NOT regexp_matches(__raw, '{_LENIENT}') "
        f"AND {_keys_ok('json_keys(__raw)', allowed)}"
    )
    if plain_keys:
        # a line written without white space or escapes: its length proves it has no other key
        keys = f"CASE WHEN starts_with(__raw, '{{') AND {exactly} THEN TRUE ELSE {thorough} END"
    else:
        keys = thorough
    checks = " AND ".join([f"strlen(__raw) + 2 <= {MAX_DOCUMENT_BYTES}", *valid, f"({keys})"])
    listed = ", ".join(string_literal(p) for p in paths)
    unpacked = ", ".join(
        f"__e[{i}]::VARCHAR AS {quote(f'__t{i}')}" for i in range(1, len(paths) + 1)
    )
    carried = "".join(f"{quote(name)}, " for name in carry)
    lines = "".join(
        f", json_extract_string(json, {string_literal('$.' + _json_key(name))}) AS {quote(name)}"
        for name in carry
    )
    raw = (
        "json"
        if member is None
        else f"json_extract(json, {string_literal('$.' + _json_key(member))})::VARCHAR"
    )
    sql = (
        f"SELECT {carried}__raw, {', '.join([*columns, *label_columns])}, "
        f"COALESCE({checks}, FALSE) AS __valid "
        f"FROM (SELECT {carried}__raw, {unpacked} FROM (SELECT {carried}__raw, "
        f"json_extract(__raw, [{listed}]) AS __e FROM (SELECT {raw} AS __raw{lines} "
        f"FROM read_ndjson_objects({string_literal(path)}, ignore_errors=true))))"
    )
    return Loader(sql, raw=True)


def label_column(index: int) -> str:
    """The name of the column holding the text of a row's `index`-th group field."""
    return f"__label{index}"


def _json_labels(
    labels: Sequence[tuple[str, str | None]], element: Callable[[str, str], str]
) -> list[str]:
    """Per group field (top-level key, item within it): the JSON text of its value, prefixed
    `v` (NULL when absent); or `o` and the whole object at the key when the item's key may be
    in it twice (Python keeps the last of repeated keys, DuckDB's path the first)."""
    columns = []
    for index, (key, item) in enumerate(labels):
        name = label_column(index)
        if item is None:
            value = element(name, f"$.{_json_key(key)}")
            columns.append(f"'v' || {value} AS {quote(name)}")
            continue
        value = element(name, f"$.{_json_key(key)}.{_json_key(item)}")
        parent = element(f"{name}.parent", f"$.{_json_key(key)}")
        member = string_literal(_json_key(item) + ":")
        repeated = f"strlen({parent}) - strlen(replace({parent}, {member}, ''))"
        once = f"{repeated} <= {len(_json_key(item).encode()) + 1}" if _plain(item) else "FALSE"
        columns.append(
            f"CASE WHEN NOT ({once}) THEN 'o' || {parent} ELSE 'v' || {value} END AS {quote(name)}"
        )
    return columns


def _unread_valid(text: str) -> str:
    """Whether Python's strict parser (document.reader) surely accepts a value DuckDB read
    (its JSON text `text`): no integer of more digits than it allows (DuckDB writes a huge one
    with an exponent), and no repeated key, which DuckDB keeps: proven for a value without
    objects or arrays in it, or a flat object whose keys are distinct."""
    flat = f"NOT regexp_matches({text}, '[\\[{{]')"
    keys = f"json_keys({text})"
    flat_object = (
        f"(starts_with({text}, '{{') AND NOT regexp_matches(substr({text}, 2), '[\\[{{]') "
        f"AND len(list_distinct({keys})) = len({keys}))"
    )
    return (
        f"({text} IS NULL OR (NOT regexp_matches({text}, '[0-9]{{16}}|[0-9][eE]') "
        f"AND ({flat} OR {flat_object})))"
    )


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


# --- CSV cohorts ---------------------------------------------------------------------------------

_BLANK = "[ \\t]*"
_SAFE_CELL = "[ \\t]*[!-~](?s:.*[!-~])?[ \\t]*"
"""A cell whose text, without the spaces and tabs around it, starts and ends with printable
ASCII: Python's `strip()` (Unicode's white space) then removes exactly those spaces and tabs."""
_INTEGER_CELL = "[+-]?[0-9]{1,15}"
_DECIMAL_CELL = "[+-]?([0-9]{1,30}([.][0-9]{0,30})?|[.][0-9]{1,30})([eE][+-]?[0-9]{1,3})?"
"""Texts Python's `float()` and DuckDB's cast read as the same double (both round correctly)."""


def _csv_cell(field: InputField, text: str, typed: bool) -> tuple[str, str]:
    """(answer, proven convertible and, with `typed`, valid) of a cell's text without the white
    space around it, as `cohort_csv.convert_cell` converts it and the applicant check checks it."""
    from recovery_screening.cohort_csv import FALSE_CELLS, TRUE_CELLS

    if field.kind == "boolean":
        truths = ", ".join(string_literal(word) for word in sorted(TRUE_CELLS))
        falsities = ", ".join(string_literal(word) for word in sorted(FALSE_CELLS))
        value = (
            f"(CASE WHEN NOT regexp_full_match({text}, '[A-Za-z01]+') THEN NULL "
            f"WHEN lower({text}) IN ({truths}) THEN TRUE "
            f"WHEN lower({text}) IN ({falsities}) THEN FALSE END)"
        )
        return value, f"({value} IS NOT NULL)"
    if field.kind == "integer":
        value = f"TRY_CAST({text} AS BIGINT)"
        checks = [f"regexp_full_match({text}, '{_INTEGER_CELL}')"]
    elif field.kind == "number":
        # a whole number is read by int() in Python: 0, never -0.0
        value = (
            f"(CASE WHEN regexp_full_match({text}, '{_INTEGER_CELL}') "
            f"THEN TRY_CAST({text} AS BIGINT)::DOUBLE "
            f"WHEN regexp_full_match({text}, '{_DECIMAL_CELL}') "
            f"THEN TRY_CAST({text} AS DOUBLE) END)"
        )
        checks = [f"{value} IS NOT NULL"]
    elif field.kind == "date":
        value = (
            f"(CASE WHEN regexp_full_match({text}, "
            f"'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]') AND {text} >= '0001' "
            f"THEN TRY_CAST({text} AS DATE) END)"
        )
        checks = [f"{value} IS NOT NULL"] if typed else []
    else:
        value = text
        checks = []
    if typed:
        checks += _value_checks(field, value)
    return value, f"({' AND '.join(checks) or 'TRUE'})"


def csv_loader(
    compiled: CompiledRuleset,
    header: Sequence[str],
    table: str,
    ignore: frozenset[str] = frozenset(),
    fields: Mapping[str, InputField] | None = None,
    labels: Sequence[tuple[str, str | None]] = (),
) -> Loader:
    """The rows of a CSV cohort, registered as `table` with a text column `c<i>` per header
    column (NULL past the end of a shorter row), `__cells` (the row's number of cells) and
    `__offset` (where the row starts in the file: `__raw`), each cell converted and checked.

    `fields` are the inputs the cells are converted by (a diff's two versions'; the ruleset's own
    by default): a cell of another input, or of a top-level key in `ignore`, is only checked to
    convert. A row is proven valid only where every cell is blank or has printable ASCII at both
    ends of its text, every answer converts as the scalar reader converts it, and no cell is
    given to a column that is not an input (or a side-car column, when those are stripped)."""
    from recovery_screening.cohort_csv import SIDECAR, is_sidecar_column

    by_name = {field.name: field for field in compiled.inputs.fields}
    parsing = dict(fields) if fields is not None else by_name
    values: dict[str, str] = {}
    valid = [f"__cells <= {len(header)}"]
    if len(set(header)) != len(header):
        valid.append("FALSE")  # a column named twice: the scalar reader takes the last answer
    for index, column in enumerate(header):
        cell = quote(f"c{index}")
        blank = f"({cell} IS NULL OR regexp_full_match({cell}, '{_BLANK}'))"
        safe = f"regexp_full_match({cell}, '{_SAFE_CELL}')"
        text = f"trim({cell}, ' \t')"
        field = parsing.get(column)
        if field is None:
            if is_sidecar_column(column) and SIDECAR in ignore:
                continue
            valid.append(blank)
            continue
        own = by_name.get(column)
        if own is None and (field.instrument or field.name) not in ignore:
            valid.append(blank)  # another version's item under a key this one reads: unknown
            continue
        typed = own is not None and (own.instrument or own.name) not in ignore
        if (
            own is not None
            and typed
            and (own.kind, own.instrument, own.item) != (field.kind, field.instrument, field.item)
        ):
            valid.append(blank)  # converted by another version's input of that name
            continue
        value, ok = _csv_cell(field, text, typed)
        valid.append(f"({blank} OR ({safe} AND {ok}))")
        if typed and column not in values:
            values[column] = f"(CASE WHEN {safe} THEN {value} END)"
    columns = [
        f"{values.get(field.name, 'NULL')}::{_sql_type(field)} AS {quote(field.name)}"
        for field in compiled.inputs.fields
    ]
    # a group field's text is its cell's (NULL for a column the file does not have)
    for index, (key, item) in enumerate(labels):
        column = key if item is None else f"{key}.{item}"
        cell = quote(f"c{header.index(column)}") if column in header else "NULL::VARCHAR"
        columns.append(f"{cell} AS {quote(label_column(index))}")
    sql = (
        f"SELECT __offset::VARCHAR AS __raw, {', '.join(columns)}, "
        f"COALESCE({' AND '.join(valid)}, FALSE) AS __valid FROM {table}"
    )
    return Loader(sql, raw=True)
