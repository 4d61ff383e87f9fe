"""`simulate` on the columnar engine counts exactly what the scalar engine counts."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

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


def _v2_cohort_with_invalid_rows(tmp_path: Path) -> Path:
    """200 applicants of mini-v2 with many unanswered questions (about a third of them left by
    the SQL to the scalar engine's exact search), and four invalid lines among them."""
    rng = random.Random(7)
    lines = []
    for _ in range(200):
        answers: dict[str, Any] = {
            "withdrawal": rng.choice(["none", "mild", "moderate", "severe"]),
            "ready": rng.randint(0, 10),
            "injects": rng.random() < 0.5,
            "housing": rng.choice(["stable", "temporary", "none"]),
            "screening_date": "2026-01-10",
            "scale": {"q1": rng.randint(0, 3), "q2": rng.random() < 0.5, "q3": rng.choice([0, 4])},
        }
        applicant = {key: value for key, value in answers.items() if rng.random() < 0.7}
        lines.append(json.dumps(applicant))
    lines[10:10] = ["{not json", '{"withdrawal": "sevre"}', "[1]", '{"ready": 11}']
    path = tmp_path / "mini-v2.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _mini_v2_pair(tmp_path: Path) -> tuple[Ruleset, Ruleset]:
    """mini-v2 1.0.0 and a 1.1.0 that takes a lower readiness as motivated."""
    fixtures = REPO / "tests" / "fixtures" / "rulesets"
    shutil.copytree(fixtures / "mini-scale-v2", tmp_path / "rulesets" / "mini-scale-v2")
    text = (fixtures / "mini-v2" / "1.0.0.yaml").read_text(encoding="utf-8")
    changed = text.replace("version: 1.0.0", "version: 1.1.0", 1).replace(
        "ready >= 7", "ready >= 5"
    )
    assert changed.count("1.1.0") == 1 and "ready >= 5" in changed
    (tmp_path / "rulesets" / "mini-v2").mkdir()
    new = tmp_path / "rulesets" / "mini-v2" / "1.1.0.yaml"
    new.write_text(changed, encoding="utf-8")
    return load_ruleset(fixtures / "mini-v2" / "1.0.0.yaml"), load_ruleset(new)


def _counting_submits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the rows of every piece of work handed to a worker process."""
    from recovery_screening.designer._cohort import WorkerPool

    handed: list[int] = []
    submit = WorkerPool.submit

    def counted(pool: WorkerPool, item: Any) -> Any:
        handed.append(len(item.rows))
        return submit(pool, item)

    monkeypatch.setattr(WorkerPool, "submit", counted)
    return handed


def test_the_scalar_engines_rows_on_two_workers_count_as_on_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recovery_screening.columnar import batch
    from recovery_screening.designer.diff import diff_rulesets

    monkeypatch.setattr(batch, "POOL_ROWS", 4)  # many pieces, out of the workers in turn
    monkeypatch.setattr(batch, "POOL_MIN_ROWS", 8)
    handed = _counting_submits(monkeypatch)
    path = _v2_cohort_with_invalid_rows(tmp_path)
    old, new = _mini_v2_pair(tmp_path)
    one = simulate(old, path, engine="columnar", workers=1).to_dict()
    assert not handed  # one worker: every row decided in this process
    assert simulate(old, path, engine="columnar", workers=2).to_dict() == one
    assert len(handed) > 4 and max(handed) <= 4  # the SQL proves most rows: a few pieces
    assert one == simulate(old, path, engine="scalar", workers=1).to_dict()
    assert one["invalid"] == 4
    assert {entry["code"] for entry in one["invalid_answers"]} >= {"syntax", "type"}
    handed.clear()
    diff_one = diff_rulesets(old, new, path, engine="columnar", workers=1, limit=5).to_dict()
    assert not handed
    assert (
        diff_rulesets(old, new, path, engine="columnar", workers=2, limit=5).to_dict() == diff_one
    )
    assert len(handed) > 8  # both versions' rows
    assert diff_one["behaviour"]["changed_count"] > 0


def test_no_worker_process_starts_when_the_sql_decides_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    from recovery_screening.designer.diff import diff_rulesets

    def no_process(method: str | None = None) -> Any:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(multiprocessing, "get_context", no_process)
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    path = REPO / "examples" / "cohort-1000.jsonl"
    simulated = simulate(ruleset, path, engine="columnar", workers=2).to_dict()
    assert simulated["applicants"] == 1000
    diffed = diff_rulesets(ruleset, ruleset, path, engine="columnar", workers=2).to_dict()
    assert diffed["behaviour"]["compared"] == 1000


def test_a_few_rows_of_the_scalar_engine_are_decided_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # about 70 rows, under POOL_MIN_ROWS: a process would cost more than it saves
    handed = _counting_submits(monkeypatch)
    ruleset, _ = _mini_v2_pair(tmp_path)
    path = _v2_cohort_with_invalid_rows(tmp_path)
    two = simulate(ruleset, path, engine="columnar", workers=2).to_dict()
    assert not handed
    assert two == simulate(ruleset, path, engine="columnar", workers=1).to_dict()
