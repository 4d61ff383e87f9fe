"""CSV cohorts on the columnar engine: the cells Python's csv module reads, converted and checked
in SQL, give exactly the scalar engine's counts, problems and line numbers, hostile files too."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import COMPLETE_MINI, FIXTURE_RULESETS, REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.diff import diff_rulesets
from recovery_screening.designer.simulate import simulate
from recovery_screening.errors import DocumentError

MINI = FIXTURE_RULESETS / "mini" / "1.0.0.yaml"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_text(applicants: list[dict[str, Any]]) -> str:
    """Applicants as a CSV cohort: a column per answer (`alias.item` for an instrument's)."""
    flat_rows = []
    header: dict[str, None] = {}
    for applicant in applicants:
        flat: dict[str, Any] = {}
        for key, value in applicant.items():
            if isinstance(value, dict):
                flat.update({f"{key}.{item}": answer for item, answer in value.items()})
            else:
                flat[key] = value
        header.update(dict.fromkeys(flat))
        flat_rows.append(flat)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    for flat in flat_rows:
        writer.writerow([_cell(flat.get(column)) for column in header])
    return out.getvalue()


def _both(ruleset: Ruleset, path: Path, **options: Any) -> dict[str, Any]:
    columnar = simulate(ruleset, path, engine="columnar", **options).to_dict()
    assert columnar == simulate(ruleset, path, engine="scalar", workers=1, **options).to_dict()
    return columnar


@pytest.fixture(scope="module")
def mini() -> Ruleset:
    return load_ruleset(MINI)


@pytest.fixture(scope="module")
def example_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = (REPO / "examples" / "cohort-1000.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("csv") / "cohort-300.csv"
    path.write_text(csv_text([json.loads(line) for line in lines[:300]]), encoding="utf-8")
    return path


def test_the_simulate_verb_on_a_csv_cohort(
    example_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for engine in ("columnar", "scalar"):
        verb = ["simulate", "peer-support-intake@1.0.0", "--cohort", str(example_csv)]
        assert main([*verb, "--engine", engine, "--format", "json", "--workers", "1"]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1]
    assert outputs[0]["evaluated"] == 300


MINI_HEADER = (
    "withdrawal,ready,attends,violent,last_use,note_code,weight,scale.q1,scale.q2,scale.q3"
)
GOOD = "none,8,true,false,2024-01-31,ab,0.5,0,true,0"


def _rows(*rows: str, header: str = MINI_HEADER, end: str = "\n") -> str:
    return end.join([header, *rows]) + end


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_rows(GOOD, "moderate,3,FALSE,No,,,,1,yes,2"), id="cases-and-words"),
        pytest.param(_rows(GOOD, " none , 8 ,\ttrue\t,false,,,,,,"), id="spaces-and-tabs"),
        pytest.param(
            _rows("none,\xa08,true,false,,,,,,", "none\u2003,8,,,,,,,,"), id="unicode-space"
        ),
        pytest.param(
            _rows("sevre,8,true,false,,,,,,", "none,8.5,true,false,,,,,,"), id="bad-cells"
        ),
        pytest.param(
            _rows("none,maybe,true,false,,,,,,", "none,1_0,,,,,,,,", "none,+7,,,,,,,,"),
            id="integers",
        ),
        pytest.param(
            _rows(
                *(
                    f"none,8,true,false,,,{w},,,"
                    for w in ("1e0", ".5", "5.", "-0", "1e400", "nan", "inf", "1.5000", "2", "0x1")
                )
            ),
            id="numbers",
        ),
        pytest.param(
            _rows(
                *(
                    f"none,8,true,false,{d},,,,,"
                    for d in (
                        "2024-02-30",
                        "2024-1-01",
                        "0000-01-01",
                        "20240101",
                        "2024-01-31T00:00",
                    )
                )
            ),
            id="dates",
        ),
        pytest.param(
            _rows(
                *(
                    f"none,8,true,false,,{s},,,,"
                    for s in ("abcdefghi", "a b", '"a,b"', '" ab"', "é", '"a""b"', "{x}")
                )
            ),
            id="strings",
        ),
        pytest.param(_rows(GOOD + ",extra", GOOD + ",", "none,8", GOOD), id="column-counts"),
        pytest.param(
            _rows('"none","8","true"', '"mild\nish",8,,,,,,,,', GOOD), id="quoted-newline"
        ),
        pytest.param("\ufeff" + _rows(GOOD, GOOD), id="bom"),
        pytest.param(_rows("", GOOD, ",,,,", "   ", "\t,", GOOD, ""), id="empty-lines"),
        pytest.param(_rows(GOOD, "\xa0,", GOOD), id="a-row-only-python-finds-blank"),
        pytest.param(_rows(GOOD, GOOD, end="\r\n"), id="crlf"),
        pytest.param(_rows(GOOD, GOOD, end="\r"), id="lone-cr"),
        pytest.param(_rows('"none,8', GOOD), id="unterminated-quote"),
        pytest.param(_rows('none "x",8', ' "none",8', '"none"x,8'), id="stray-quotes"),
        pytest.param(_rows(GOOD, header=MINI_HEADER + ",cohort.site"), id="side-car"),
        pytest.param(_rows("none,8,,", header="withdrawal,ready,ready,attends"), id="twice"),
        pytest.param(_rows("none,\x00,,"), id="nul"),
    ],
)
def test_hostile_csv_is_counted_as_the_scalar_engine_counts_it(
    mini: Ruleset, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(text.encode("utf-8"))
    _both(mini, path)


def _errors(ruleset: Ruleset, path: Path, engine: str) -> list[str]:
    with pytest.raises(DocumentError) as raised:
        simulate(ruleset, path, engine=engine, workers=1)
    return [str(problem) for problem in raised.value.problems]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"withdrawal,shoe_size\nnone,9\n", id="unknown-column"),
        pytest.param(_rows(GOOD, GOOD).encode() + b"\xff,8\n", id="not-utf8"),
        pytest.param(b"withdrawal,ready\n" + b'"' + b"x" * 200_000 + b'"\n', id="huge-field"),
        pytest.param(b"\xffwithdrawal\nnone\n", id="header-not-utf8"),
    ],
)
def test_a_file_the_scalar_reader_refuses_is_refused_alike(
    mini: Ruleset, tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(data)
    assert _errors(mini, path, "columnar") == _errors(mini, path, "scalar")


@pytest.mark.parametrize("data", [b"", b"withdrawal,shoe_size\n", b"withdrawal,ready\n\n,\n"])
def test_a_cohort_without_rows(mini: Ruleset, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(data)
    assert _both(mini, path)["applicants"] == 0


_CELLS = {
    "withdrawal": ["none", "mild", "severe", " moderate", "NONE", "sevre", ""],
    "ready": ["8", "0", "10", "11", "-1", " 7", "+3", "007", "3.0", "x", ""],
    "attends": ["true", "false", "TRUE", "1", "0", "yes", "No", "maybe", ""],
    "weight": ["0.5", "1", "1.5", "1.6", "1e0", ".5", "-0", "nan", "abc", ""],
    "last_use": ["2024-01-31", "2024-02-30", "24-01-01", ""],
    "note_code": ["ab", "a b", "abcdefghi", " x ", "a,b", 'q"q', "é", ""],
    "scale.q1": ["0", "1", "2", "9", ""],
    "scale.q2": ["true", "false", "2", ""],
    "cohort.g": ["a", "b", " a", ""],
}
_TEXT = st.text(st.sampled_from(' \t\xa0\n",ab1.-e'), max_size=4)


@st.composite
def _csv_cohorts(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(st.sampled_from(list(_CELLS)), min_size=1, max_size=6, unique=True))
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        cells = [draw(st.one_of(st.sampled_from(_CELLS[c]), _TEXT)) for c in header]
        cells = cells[: draw(st.integers(len(cells) - 1, len(cells)))] + draw(
            st.lists(st.sampled_from(["", "x"]), max_size=1)
        )
        rows.append(cells)
    out = io.StringIO()
    end = draw(st.sampled_from(["\n", "\r\n"]))
    if draw(st.booleans()):
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator=end)
    else:
        writer = csv.writer(out, lineterminator=end)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_csv_cohorts())
def test_generated_csv_cohorts_count_alike(mini: Ruleset, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "cohort.csv"
    path.write_bytes(data)
    _both(mini, path)


def test_evaluate_batch_reads_csv(mini: Ruleset, tmp_path: Path) -> None:
    path = tmp_path / "cohort.csv"
    path.write_text(_rows(GOOD, "sevre,8,,,,,,,,", "none,8,,,,,,,,,"), encoding="utf-8")
    result = mini.evaluate_batch(path)
    assert result.table["valid"].to_pylist() == [True, False, False]
    assert result.line(2) == 4
    assert result.decision(0) == mini.evaluate(COMPLETE_MINI | {
        "last_use": "2024-01-31", "note_code": "ab", "weight": 0.5,
        "scale": {"q1": 0, "q2": True, "q3": 0}})  # fmt: skip
    problems = result.table["problems"].to_pylist()
    assert problems[2] == [{"path": "$", "code": "csv-cell",
                            "message": "the row has more cells than the header"}]  # fmt: skip


def test_diff_over_a_csv_cohort(tmp_path: Path) -> None:
    old, new = load_ruleset("peer-support-intake@1.0.0"), load_ruleset("peer-support-intake@1.1.0")
    lines = (REPO / "examples" / "cohort-1000-v1.1.jsonl").read_text().splitlines()[:80]
    applicants = [json.loads(line) for line in lines]
    applicants[3]["age_years"] = "old"  # only 1.1.0 asks: a cell neither version can read
    applicants[4]["housing"] = "sevre"
    path = tmp_path / "cohort.csv"
    path.write_text(csv_text(applicants), encoding="utf-8")
    columnar = diff_rulesets(old, new, path, engine="columnar", show_values=True)
    scalar = diff_rulesets(old, new, path, engine="scalar", show_values=True, workers=1)
    assert columnar.to_dict() == scalar.to_dict()
    behaviour = columnar.to_dict()["behaviour"]
    assert behaviour["changed_count"] > 0
    assert behaviour["invalid_old"][0]["code"] == "csv-cell"
