"""The JSON Lines loader: every line the SQL takes as valid is one the scalar reader and check
accept, whether the line is written compactly (its length is the proof of its keys) or not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("duckdb")

from recovery_screening import InvalidApplicant, Ruleset
from recovery_screening.columnar import COLUMNAR
from recovery_screening.columnar.batch import (
    BatchStream,
    result_columns,
    scalar_columns,
    without,
)
from recovery_screening.document.reader import parse_document_bytes
from recovery_screening.errors import DocumentError


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def assert_as_scalar(
    ruleset: Ruleset, path: Path, ignore: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    """Each row as the scalar reader and engine see its line; returns the rows."""
    stream = BatchStream(ruleset, path, ignore=ignore)
    rows = [row for table in stream for row in table.to_pylist()]
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    assert len(rows) == len(lines)
    columns = result_columns(ruleset)
    for index, (row, line) in enumerate(zip(rows, lines, strict=True)):
        try:
            applicant = parse_document_bytes(line, "line", yaml_syntax=False)
            if not isinstance(applicant, dict):
                raise DocumentError("line", [])
            decision = ruleset.evaluate(without(applicant, ignore))
        except (DocumentError, InvalidApplicant):
            assert row["valid"] is False, (index, line)
            continue
        assert row["valid"] is True, (index, line, row["problems"])
        expected = scalar_columns(ruleset, decision, columns)
        assert {name: row[name] for name in expected} == expected, (index, line)
    return rows


BASE = {
    "withdrawal": "none",
    "ready": 8,
    "attends": True,
    "violent": False,
    "scale": {"q1": 0, "q2": True, "q3": 0},
}


def members(value: dict[str, Any]) -> str:
    """The object's compact text without its braces."""
    return compact(value)[1:-1]


@pytest.mark.parametrize(
    "line",
    [
        compact(BASE),
        json.dumps(BASE),  # white space: the keys are listed the slow way
        "{}",
        "[]",
        '"an applicant"',
        "3",
        compact({**BASE, "not_an_input": 1}),
        compact({**BASE, "not_an_input": None}),
        compact({**BASE, "": 1}),
        "{" + members(BASE) + ',"ready":8}',  # a key given twice
        "{" + members(BASE) + ',"ready":null}',
        "{" + members(BASE) + ",}",  # a trailing comma, which Python's reader refuses
        "{" + members({**BASE, "scale": {}})[:-1] + '{"q1":0,"q1":1}}',
        compact({**BASE, "scale": {"q1": 0, "q4": 1}}),
        compact({**BASE, "scale": {"q1": None}}),
        compact({**BASE, "scale": [0, 1]}),
        compact({**BASE, "scale": None}),
        compact({**BASE, "ready": None, "attends": None}),
        compact({**BASE, "ready": 8.0}),
        compact({**BASE, "ready": "8"}),
        compact({**BASE, "ready": True}),
        compact({**BASE, "ready": 11}),
        compact({**BASE, "attends": 1}),
        compact({**BASE, "attends": "true"}),
        compact({**BASE, "withdrawal": "Mild"}),
        compact({**BASE, "withdrawal": 1}),
        '{"\\u0072eady":8}',  # an escaped key: longer than DuckDB writes it
        '{"ready":-0}',
        compact({**BASE, "weight": 1.5}),
        compact({**BASE, "weight": 1}),
        '{"weight":1E0}',
        '{"weight":1e-4}',
        '{"weight":NaN}',
        '{"weight":Infinity}',
        compact({**BASE, "last_use": "2024-02-30"}),
        compact({**BASE, "last_use": "2024-02-03"}),
        compact({**BASE, "note_code": "AB-12"}),
        compact({**BASE, "note_code": " AB"}),
        compact({**BASE, "note_code": "\\u0041"}),
    ],
)
def test_each_line_is_read_as_the_scalar_reader_reads_it(
    mini: Ruleset, tmp_path: Path, line: str
) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_text(f"{compact(BASE)}\n{line}\n", encoding="utf-8")
    rows = assert_as_scalar(mini, path)
    assert rows[0]["engine"] == COLUMNAR


def test_an_ignored_key_leaves_no_room_for_an_unknown_one(mini: Ruleset, tmp_path: Path) -> None:
    # DuckDB writes `1E2` as `100.0`: an ignored side-car value (not checked) holding such
    # numbers is shorter in the file than DuckDB writes it, by as much as an unknown key takes
    ignored = {"cohort": [100.0] * 4}
    written = compact({**ignored, **BASE})
    line = '{"cohort":[1E2,1E2,1E2,1E2],"zz":1,' + members(BASE) + "}"
    line = line[:-1] + " " * (len(written) - len(line)) + "}"
    assert len(line) == len(written)
    path = tmp_path / "sidecar.jsonl"
    path.write_text(f"{written}\n{line}\n", encoding="utf-8")
    rows = assert_as_scalar(mini, path, frozenset({"cohort"}))
    assert [row["valid"] for row in rows] == [True, False]
    assert rows[1]["problems"][0]["code"] == "unknown-field"
