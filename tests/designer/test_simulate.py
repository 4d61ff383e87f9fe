"""`simulate`: streaming JSONL and CSV cohorts, counts, the HTML report, no values in output."""

from __future__ import annotations

import json
import re
import threading
import warnings
from html.parser import HTMLParser
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening import load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.simulate import simulate

COHORT = REPO / "examples" / "cohort-1000.jsonl"


@pytest.fixture(scope="module")
def cohort_json(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    report = tmp_path_factory.mktemp("report") / "report.html"
    out = tmp_path_factory.mktemp("out") / "out.json"
    import sys
    from subprocess import run

    result = run(
        [sys.executable, "-m", "recovery_screening.cli", "simulate", "peer-support-intake@1.0.0",
         "--cohort", str(COHORT), "--report", str(report), "--format", "json"],
        capture_output=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out.write_bytes(result.stdout)
    data: dict[str, object] = json.loads(result.stdout)
    data["_report"] = report.read_text(encoding="utf-8")
    return data


def test_counts_add_up(cohort_json: dict[str, object]) -> None:
    data = cohort_json
    assert data["applicants"] == 1000 and data["evaluated"] == 1000
    outcomes = data["outcomes"]
    assert isinstance(outcomes, dict) and sum(outcomes.values()) == 1000
    reasons = {r["name"]: r["count"] for r in data["reasons"]}  # type: ignore[attr-defined]
    assert reasons["ADMIT_READY"] == outcomes["admit"]
    for domain in data["domains"]:  # type: ignore[attr-defined]
        assert sum(domain["scores"].values()) + domain["undecided"] == 1000
        assert sum(domain["bands"].values()) + domain["band_unknown"] == 1000
        assert domain["band_unknown"] <= domain["undecided"]
    assert data["never_fired"] == []


def test_the_same_result_with_one_or_two_workers() -> None:
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    one = simulate(ruleset, COHORT, workers=1).to_dict()
    two = simulate(ruleset, COHORT, workers=2).to_dict()
    assert one == two


class _Cells(HTMLParser):
    """Reads `<td class="count" data-name=...>N</td>` cells, per table id."""

    def __init__(self) -> None:
        super().__init__()
        self.table: str | None = None
        self.name: str | None = None
        self.cells: dict[str, dict[str, int]] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.table = found.get("id")
        elif tag == "td" and found.get("class") == "count":
            self.name = found.get("data-name")
        elif tag in ("script", "link", "img"):
            self.scripts += 1

    def handle_data(self, data: str) -> None:
        if self.name is not None and self.table is not None:
            self.cells.setdefault(self.table, {})[self.name] = int(data)
            self.name = None


def test_workers_are_not_forked_from_a_process_with_threads() -> None:
    """A host (or this test run) may hold threads, DuckDB's or Spark's gateway; a worker forked
    from it inherits their locks, held (Python 3.12+ warns: "use of fork() may lead to
    deadlocks in the child"). Workers start from a fresh process instead."""
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            two = simulate(ruleset, COHORT, workers=2).to_dict()
    finally:
        release.set()
        thread.join()
    assert not [warning for warning in caught if "fork()" in str(warning.message)]
    assert two == simulate(ruleset, COHORT, workers=1).to_dict()


def test_a_worker_that_cannot_start_raises_its_error_in_the_main_process() -> None:
    # a pool whose initializer raised would start new processes for ever: the error comes back
    from recovery_screening.designer._cohort import Chunk, RulesetSpec, WorkerPool
    from recovery_screening.designer.simulate import SimulationWorker
    from recovery_screening.errors import RulesetNotFound

    pool = WorkerPool(SimulationWorker, (RulesetSpec("no-such-ruleset@9.9.9", None),), 2)
    with pool, pytest.raises(RulesetNotFound, match="no-such-ruleset"):
        list(pool.map([Chunk("jsonl", (), ((1, b"{}"),))]))


def test_a_workers_unexpected_error_is_passed_on_without_its_message() -> None:
    from recovery_screening.designer import _cohort

    def answers_in_the_message(item: object) -> object:
        raise ValueError("the applicant answered 'severe'")

    _cohort._WORKER = answers_in_the_message
    try:
        with pytest.raises(
            _cohort.WorkerFailed, match=r"ValueError at test_simulate\.py"
        ) as caught:
            _cohort._run_chunk(1)
    finally:
        _cohort._WORKER = None
    assert "severe" not in str(caught.value)
    assert caught.value.__suppress_context__


def test_html_report_numbers_match_the_json(cohort_json: dict[str, object]) -> None:
    html = str(cohort_json["_report"])
    parser = _Cells()
    parser.feed(html)
    assert parser.scripts == 0
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert parser.cells["outcomes"] == cohort_json["outcomes"]
    assert parser.cells["reasons"] == {r["name"]: r["count"] for r in cohort_json["reasons"]}  # type: ignore[attr-defined]
    coverage = {e["rule"]: e["fired"] for e in cohort_json["rule_coverage"]}  # type: ignore[attr-defined]
    assert parser.cells["coverage"] == coverage
    for domain in cohort_json["domains"]:  # type: ignore[attr-defined]
        bands = parser.cells[f"bands-{domain['name']}"]
        assert bands == {**domain["bands"], "band unknown": domain["band_unknown"]}
    assert re.search(r'<span id="applicants">1000</span>', html)
    assert html.count("<svg") >= 4 + len(cohort_json["domains"])  # type: ignore[arg-type]


def test_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(COHORT), "--workers", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "Applicants: 1000 (evaluated 1000, invalid 0)" in out
    assert "Rules that never fired: (none)" in out


def test_invalid_applicants_are_counted_by_field_without_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = COHORT.read_text(encoding="utf-8").splitlines()[:3]
    bad = json.loads(lines[1])
    bad["withdrawal_severity"] = "sevre-secret"
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("\n".join([lines[0], json.dumps(bad), "{not json", lines[2]]) + "\n")
    assert (
        main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(cohort), "--format", "json"])
        == 0
    )
    captured = capsys.readouterr()
    assert "sevre-secret" not in captured.out + captured.err
    data = json.loads(captured.out)
    assert data["applicants"] == 4 and data["evaluated"] == 2
    invalid = {(e["path"], e["code"]): e["first_lines"] for e in data["invalid_answers"]}
    assert invalid[("$.withdrawal_severity", "allowed-values")] == [2]
    assert any(lines == [3] for lines in invalid.values())


def test_csv_cohort(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    (case,) = [c for c in ruleset.tests if c["id"] == "admit-ready"]
    flat: dict[str, object] = {}
    for key, value in case["applicant"].items():
        if isinstance(value, dict):
            flat.update({f"{key}.{item}": answer for item, answer in value.items()})
        else:
            flat[key] = value
    header = list(flat)

    def cell(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    row = [cell(flat[c]) for c in header]
    missing = [("" if c == "phq9.q9" else v) for c, v in zip(header, row, strict=True)]
    broken = [
        ("often" if c == "days_since_last_use" else v) for c, v in zip(header, row, strict=True)
    ]
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "\n".join(",".join(r) for r in (header, row, missing, broken)) + "\n", encoding="utf-8"
    )
    assert (
        main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(cohort), "--format", "json"])
        == 0
    )
    captured = capsys.readouterr()
    assert "often" not in captured.out + captured.err
    data = json.loads(captured.out)
    assert data["outcomes"] == {"admit": 1, "defer": 1, "refer": 0}
    assert {n["name"]: n["count"] for n in data["needs"]} == {"phq9.q9": 1}
    (invalid,) = data["invalid_answers"]
    assert invalid == {"path": "$.days_since_last_use", "code": "csv-cell", "count": 1,
                       "first_lines": [4]}  # fmt: skip


def test_csv_with_an_unknown_column_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("withdrawal_severity,shoe_size\nnone,9\n", encoding="utf-8")
    assert main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(cohort)]) == 2
    assert "shoe_size" in capsys.readouterr().err


def test_unknown_cohort_format_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = tmp_path / "cohort.xlsx"
    cohort.write_bytes(b"")
    assert main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(cohort)]) == 2
    assert ".jsonl or .csv" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["cohort.json", "cohort.txt", "cohort"])
def test_a_cohort_not_jsonl_or_csv_is_refused_as_the_message_says(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pretty-printed applicant (.json) used to be read as JSON Lines, one invalid line each."""
    cohort = tmp_path / name
    cohort.write_bytes((REPO / "examples" / "applicants" / "admit.json").read_bytes())
    assert main(["simulate", "peer-support-intake@1.0.0", "--cohort", str(cohort)]) == 2
    captured = capsys.readouterr()
    assert "must end in .jsonl or .csv" in captured.err
    assert captured.out == ""
