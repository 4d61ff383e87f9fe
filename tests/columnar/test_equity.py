"""The equity report (`--group-by`) on the columnar engine: DuckDB counts the decided rows per
group text, Python labels each text as `GroupField.label` labels the applicant, and the rows the
scalar engine decides are labelled from their applicants: the same report as the scalar engine's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from tests.columnar.test_csv import csv_text
from tests.conftest import COMPLETE_MINI, FIXTURE_RULESETS, REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.equity import GroupByError
from recovery_screening.designer.simulate import simulate

SIDE_CAR_VALUES: list[Any] = ["a", "b", " b ", "b\tb", 1, 1.0, True, None, {"x": 1}, [1], "é" * 70]


def _report(ruleset: Ruleset, path: Path, group_by: tuple[str, ...]) -> Any:
    """The simulation on both engines (or the error both raise), asserted equal."""
    found: list[Any] = []
    for engine, workers in (("columnar", None), ("scalar", 1)):
        try:
            found.append(
                simulate(ruleset, path, engine=engine, workers=workers, group_by=group_by).to_dict()
            )
        except GroupByError as error:
            found.append(str(error))
    assert found[0] == found[1]
    return found[0]


MINI = FIXTURE_RULESETS / "mini" / "1.0.0.yaml"


@pytest.fixture(scope="module")
def mini() -> Ruleset:
    return load_ruleset(MINI)


def test_group_by_inputs_and_side_car_values_on_jsonl(intake: Ruleset, tmp_path: Path) -> None:
    lines = (REPO / "examples" / "cohort-1000.jsonl").read_text(encoding="utf-8").splitlines()
    rows = []
    for index, line in enumerate(lines[:240]):
        applicant = json.loads(line)
        if index % 3:
            applicant["cohort"] = {"band": SIDE_CAR_VALUES[index % len(SIDE_CAR_VALUES)]}
        elif index % 9 == 0:
            applicant["cohort"] = "flat"
        rows.append(json.dumps(applicant))
    path = tmp_path / "side-car.jsonl"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    report = _report(intake, path, ("housing", "cohort.band", "phq9.q9"))
    labels = [group["group"] for group in report["equity"][1]["groups"]]
    assert {"a", "b", "b b", "1", "1.0", "true", "(missing)", "(not a single value)"} <= set(labels)


def test_too_many_groups_are_refused_on_both_engines(mini: Ruleset, tmp_path: Path) -> None:
    path = tmp_path / "ids.jsonl"
    rows = [{**COMPLETE_MINI, "cohort": {"id": str(index)}} for index in range(60)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert "more than 50 distinct values" in _report(mini, path, ("cohort.id",))


def test_a_side_car_object_with_a_repeated_key_is_invalid_on_both_engines(
    mini: Ruleset, tmp_path: Path
) -> None:
    # DuckDB keeps both keys where Python's parser refuses the line: the SQL used to decide it
    line = json.dumps(COMPLETE_MINI)
    path = tmp_path / "repeated.jsonl"
    path.write_text(line[:-1] + ', "cohort": {"band": "a", "band": "b"}}\n' + line + "\n")
    report = _report(mini, path, ("cohort.band",))
    assert report["invalid"] == 1
    assert [group["group"] for group in report["equity"][0]["groups"]] == ["(missing)"]


def test_group_by_where_the_scalar_engine_decides_some_rows(tmp_path: Path) -> None:
    ruleset = load_ruleset("peer-support-intake@1.1.0")  # format v2: some rows fall back
    lines = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text().splitlines()[:100]
    path = tmp_path / "cohort.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _report(ruleset, path, ("housing",))
    assert sum(group["count"] for group in report["equity"][0]["groups"]) == report["evaluated"]


def _mini_rows() -> list[dict[str, Any]]:
    rows = []
    for index, weight in enumerate([0.5, 1, 1.0, 1.5, 0, 0.25, None] * 6):
        row: dict[str, Any] = {**COMPLETE_MINI, "note_code": ["a", "a ", "b", None][index % 4]}
        if weight is not None:
            row["weight"] = weight
        if index % 5 == 0:
            row["attends"] = False
        rows.append(row)
    return rows


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_group_by_numbers_strings_and_booleans(mini: Ruleset, tmp_path: Path, kind: str) -> None:
    ruleset = mini
    rows = _mini_rows()
    path = tmp_path / f"cohort.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        for index, row in enumerate(rows):
            row["cohort.site"] = ["north", " north", "", "south\u00a0"][index % 4]
        text = csv_text(rows).replace("\n1.0,", "\n1e0,").replace(",1.0,", ",+1.0,")
        path.write_text(text, encoding="utf-8")
    group_by = ("weight", "note_code", "attends", *(("cohort.site",) if kind == "csv" else ()))
    report = _report(ruleset, path, group_by)
    assert report["equity"][0]["groups"]


def test_the_verb_with_group_by_prints_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _mini_rows()
    jsonl = tmp_path / "cohort.jsonl"
    jsonl.write_text(
        "".join(
            json.dumps({**row, "cohort": {"site": str(i % 3)}}) + "\n" for i, row in enumerate(rows)
        ),
        encoding="utf-8",
    )
    csv_path = tmp_path / "cohort.csv"
    csv_path.write_text(
        csv_text([{**row, "cohort.site": str(i % 3)} for i, row in enumerate(rows)]),
        encoding="utf-8",
    )
    for cohort in (jsonl, csv_path):
        outputs = []
        for engine in ("columnar", "scalar"):
            verb = ["simulate", str(MINI), "--cohort", str(cohort), "--engine", engine]
            assert main([*verb, "--group-by", "weight", "cohort.site"]) == 0
            outputs.append(capsys.readouterr().out)
        assert outputs[0] == outputs[1]
        assert "Equity by cohort.site" in outputs[0]
