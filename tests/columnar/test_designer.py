"""`simulate` on the columnar engine counts exactly what the scalar engine counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.designer._batches import AUTO_MIN_BYTES, chosen_engine
from recovery_screening.designer.simulate import simulate
from recovery_screening.errors import DocumentError


@pytest.mark.parametrize(
    ("cohort", "reference"),
    [
        ("cohort-1000.jsonl", "peer-support-intake@1.0.0"),
        ("cohort-1000-v1.1.jsonl", "peer-support-intake@1.1.0"),
    ],
)
def test_simulate_columnar_equals_scalar(cohort: str, reference: str) -> None:
    ruleset = load_ruleset(reference)
    path = REPO / "examples" / cohort
    columnar = simulate(ruleset, path, engine="columnar").to_dict()
    assert columnar == simulate(ruleset, path, engine="scalar", workers=1).to_dict()


def test_simulate_columnar_counts_invalid_lines_by_line(intake: Ruleset, tmp_path: Path) -> None:
    good = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()[:3]
    broken = json.loads(good[1])
    broken["housing"] = "sevre"
    lines = [good[0], "", "{not json", json.dumps(broken), "[1]", good[2], good[2][:-1] + ",}"]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    columnar = simulate(intake, path, engine="columnar").to_dict()
    assert columnar == simulate(intake, path, engine="scalar", workers=1).to_dict()
    assert columnar["invalid"] == 4
    assert {entry["code"]: entry["first_lines"] for entry in columnar["invalid_answers"]} == {
        "syntax": [3, 7],
        "allowed-values": [4],
        "type": [5],
    }


def test_simulate_columnar_with_a_line_duckdb_splits_differently(
    intake: Ruleset, tmp_path: Path
) -> None:
    # Python's strip() finds a line of a vertical tab blank, DuckDB does not: its counts over
    # the file's rows would be misaligned with the lines, so the scalar reader counts the file
    good = (REPO / "examples" / "cohort-1000.jsonl").read_text().splitlines()[:3]
    path = tmp_path / "split.jsonl"
    path.write_text("\n".join([good[0], "\x0b", "{not json", *good[1:]]) + "\n", encoding="utf-8")
    columnar = simulate(intake, path, engine="columnar").to_dict()
    assert columnar == simulate(intake, path, engine="scalar", workers=1).to_dict()
    assert (columnar["applicants"], columnar["invalid"]) == (4, 1)


def test_the_scalar_engines_rows_are_counted_in_small_tables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recovery_screening.columnar import batch

    monkeypatch.setattr(batch, "SCALAR_ROWS", 7)  # 226 of the 1,000 rows: many tables
    ruleset = load_ruleset("peer-support-intake@1.1.0")
    path = REPO / "examples" / "cohort-1000-v1.1.jsonl"
    columnar = simulate(ruleset, path, engine="columnar").to_dict()
    assert columnar == simulate(ruleset, path, engine="scalar", workers=1).to_dict()


def test_the_sql_counts_are_checked_complete(intake: Ruleset) -> None:
    from recovery_screening.designer._batches import TallyMismatch, _Tallies
    from recovery_screening.designer.simulate import Tally

    tallies = _Tallies(intake.compiled)
    checked = tallies.sql.index("sum(len(needs))")
    values = [0] * len(tallies.sql)
    values[checked] = 1  # a need none of the inputs' counts took
    with pytest.raises(TallyMismatch, match="needs"):
        tallies.add(Tally(), tuple(values), 1)


def test_the_engine_choice(tmp_path: Path) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text("{}\n")
    with large.open("wb") as handle:
        handle.truncate(AUTO_MIN_BYTES)
    assert chosen_engine("auto", small) == "scalar"  # planning the query costs more
    assert chosen_engine("auto", large) == "columnar"
    assert chosen_engine("auto", "cohort.csv") == "scalar"  # no such file: nothing to gain
    large_csv = tmp_path / "large.csv"
    with large_csv.open("wb") as handle:
        handle.truncate(AUTO_MIN_BYTES)
    assert chosen_engine("auto", large_csv) == "columnar"
    assert chosen_engine("columnar", "cohort.csv") == "columnar"
    assert chosen_engine("scalar", "cohort.jsonl") == "scalar"
    with pytest.raises(DocumentError):
        chosen_engine("columnar", "cohort.xlsx")
    with pytest.raises(ValueError, match="engine"):
        chosen_engine("fast", "cohort.jsonl")


def test_the_simulate_verb_takes_an_engine(capsys: pytest.CaptureFixture[str]) -> None:
    from recovery_screening.cli import main

    cohort = str(REPO / "examples" / "cohort-1000.jsonl")
    reports = []
    for engine in ("columnar", "scalar"):
        verb = ["simulate", "peer-support-intake@1.0.0", "--cohort", cohort]
        assert main([*verb, "--engine", engine, "--format", "json"]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]


@pytest.mark.parametrize("show_values", [False, True])
def test_diff_columnar_equals_scalar(show_values: bool) -> None:
    from recovery_screening.designer.diff import diff_rulesets

    old, new = load_ruleset("peer-support-intake@1.0.0"), load_ruleset("peer-support-intake@1.1.0")
    cohort = REPO / "examples" / "cohort-1000-v1.1.jsonl"
    columnar = diff_rulesets(old, new, cohort, engine="columnar", show_values=show_values, limit=7)
    scalar = diff_rulesets(
        old, new, cohort, engine="scalar", show_values=show_values, limit=7, workers=1
    )
    assert columnar.to_dict() == scalar.to_dict()
    assert columnar.to_dict()["behaviour"]["changed_count"] > 0


def test_diff_columnar_counts_invalid_rows_per_version(tmp_path: Path) -> None:
    from recovery_screening.designer.diff import diff_rulesets

    old, new = load_ruleset("peer-support-intake@1.0.0"), load_ruleset("peer-support-intake@1.1.0")
    lines = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text().splitlines()[:4]
    broken = json.loads(lines[1])
    broken["age_years"] = 3  # only 1.1.0 asks, and 3 is out of its range
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([lines[0], "{nope", json.dumps(broken), lines[3]]) + "\n")
    columnar = diff_rulesets(old, new, path, engine="columnar").to_dict()
    assert columnar == diff_rulesets(old, new, path, engine="scalar", workers=1).to_dict()
    assert columnar["behaviour"]["compared"] == 2
