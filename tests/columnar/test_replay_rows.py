"""Replay's columnar rows: the Decision built from a row's result columns and the applicant is
the one `Ruleset.evaluate` gives, and each row goes to the line it was read from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.columnar.test_batch import SHIPPED, arrow_table, heavily_missing
from tests.records.conftest import chain, cohort

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.columnar.replay_rows import LogRows, decision_from_row, row_plan

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def cohort_log(intake: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rows") / "log.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in chain(intake, cohort(400))))
    return path


def test_a_decision_built_from_its_row_is_the_scalar_decision(
    intake: Ruleset, cohort_log: Path
) -> None:
    rows = LogRows(intake, str(cohort_log))
    built = 0
    for line in cohort_log.read_text().splitlines():
        record = json.loads(line)
        row = rows.take(record["record_hash"])
        decision = rows.built(record["input"], row) if row is not None else None
        if decision is not None:
            built += 1
            assert decision.to_dict() == intake.evaluate(record["input"]).to_dict()
    assert rows.failed is None
    assert built > 300  # the rest: a decision rule left undecided, or the fail-safe


def test_rows_go_only_to_their_own_line(intake: Ruleset, cohort_log: Path, tmp_path: Path) -> None:
    lines = cohort_log.read_text().splitlines(keepends=True)
    log = tmp_path / "log.jsonl"
    log.write_text("".join([lines[0], "not json\n", "{}\n", *lines[1:5]]))
    rows = LogRows(intake, str(log))
    keys = [json.loads(line)["record_hash"] for line in lines[:5]]
    assert rows.take("sha256:" + "0" * 64) is None  # no such row: nothing consumed
    assert all(rows.take(key) is not None for key in keys)
    assert rows.take(keys[0]) is None  # consumed
    rows.close()


def test_rulesets_whose_trace_the_columns_do_not_hold_have_no_plan() -> None:
    assert row_plan(load_ruleset("peer-support-intake@1.0.0")) is not None
    assert row_plan(load_ruleset("peer-support-intake@1.1.0")) is None  # format v2: exact


PLANNED = [
    pytest.param(ruleset, id=name)
    for name, ruleset in sorted(SHIPPED.items())
    if row_plan(ruleset) is not None
]


def test_every_v1_screening_and_instrument_has_a_plan() -> None:
    # the property below must cover more than the intake, or it would prove little
    assert len(PLANNED) >= 8


@pytest.mark.parametrize("ruleset", PLANNED)
@settings(max_examples=1, deadline=None)
@given(bases=st.data(), seed=st.integers(0, 2**32 - 1))
def test_a_decision_built_from_any_row_of_any_planned_ruleset_is_the_scalar_decision(
    ruleset: Ruleset, bases: st.DataObject, seed: int
) -> None:
    # rows with heavy missingness, as the columnar differential test draws them: every row
    # the query decides, and that has a plan, builds the scalar engine's decision exactly
    rows = heavily_missing(ruleset, bases, seed)
    result = ruleset.evaluate_batch(arrow_table(rows))
    assert len(result) == len(rows)
    plan = row_plan(ruleset)
    assert plan is not None
    table = result.table.to_pylist()
    for index, row in enumerate(table):
        if row["engine"] != "columnar":
            continue
        applicant = result.applicant(index)
        built = decision_from_row(ruleset, plan, applicant, row)
        if built is not None:
            assert built.to_json() == ruleset.evaluate(applicant).to_json(), index


@pytest.mark.parametrize("ruleset", PLANNED)
def test_the_embedded_cases_build_their_scalar_decisions(ruleset: Ruleset) -> None:
    # the complete applicants of each ruleset's own cases: most rows hold the whole trace
    given_applicants = [case["applicant"] for case in ruleset.tests]
    result = ruleset.evaluate_batch(arrow_table(given_applicants))
    plan = row_plan(ruleset)
    assert plan is not None
    built = 0
    for index, row in enumerate(result.table.to_pylist()):
        if row["engine"] != "columnar":
            continue
        applicant = result.applicant(index)
        decision = decision_from_row(ruleset, plan, applicant, row)
        if decision is not None:
            assert decision.to_json() == ruleset.evaluate(applicant).to_json(), index
            built += 1
    assert built > 0
