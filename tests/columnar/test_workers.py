"""A worker process's part of the columnar engine: the rows the SQL leaves to the scalar engine,
decided from the ruleset shipped as plain data, as the main process decides them."""

from __future__ import annotations

import pickle

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from tests.conftest import FIXTURE_RULESETS

from recovery_screening import load_ruleset
from recovery_screening.columnar.batch import ScalarWork, Unreadable, _scalar_rows, result_columns
from recovery_screening.columnar.workers import ScalarRows
from recovery_screening.errors import Problem
from recovery_screening.ruleset import ruleset_data


def test_a_piece_of_work_is_decided_as_in_the_main_process() -> None:
    ruleset = load_ruleset(FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml")
    other = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    # what a worker is given goes through pickle: the rulesets as data, the work as it is
    shipped = pickle.loads(pickle.dumps((ruleset_data(other), ruleset_data(ruleset))))
    worker = ScalarRows(shipped)
    applicants = (
        {"withdrawal": "none", "ready": 8, "housing": "stable"},
        {"withdrawal": "sevre"},
        Unreadable((Problem((), "syntax", "not JSON", root="line 3"),)),
        {"ready": 3, "cohort": {"site": "north"}},
        [1],
    )
    columns = result_columns(ruleset)
    work = ScalarWork(
        ruleset.content_hash, (4, 7, 9, 12, 13), applicants, columns, None, frozenset({"cohort"})
    )
    decided = worker(pickle.loads(pickle.dumps(work)))
    expected = _scalar_rows(ruleset, applicants, work.rows, columns, None, frozenset({"cohort"}))
    assert decided.equals(expected)
    assert decided["valid"].to_pylist() == [True, False, False, True, False]
    assert decided["readable"].to_pylist() == [True, True, False, True, False]
    assert decided["problems"][2].as_py() == [
        {"path": "line 3", "code": "syntax", "message": "not JSON"}
    ]
