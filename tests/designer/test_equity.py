"""The equity report: group rates known by construction, side-car columns that never reach
evaluation, `--group-by` errors, and the diff of two versions per group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import COMPLETE_MINI, FIXTURE_RULESETS, REPO

from recovery_screening import InvalidApplicant, Ruleset, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.diff import diff_rulesets
from recovery_screening.designer.equity import (
    BELOW,
    MAX_GROUPS,
    MIN_GROUP_SIZE,
    NO_ADMITS,
    REFERENCE,
    TOO_SMALL,
    WITHIN,
    EquityTally,
    GroupByError,
    GroupCounts,
    GroupField,
    Grouping,
    equity_report,
    field_report,
    group_fields,
    wilson,
)
from recovery_screening.designer.simulate import simulate
from recovery_screening.designer.strategies import applicants

COHORT = REPO / "examples" / "cohort-1000.jsonl"
MINI = FIXTURE_RULESETS / "mini" / "1.0.0.yaml"

ADMITTED = COMPLETE_MINI
DEFERRED = {**COMPLETE_MINI, "ready": 0, "attends": False}  # defer-motivation
REFERRED = {**COMPLETE_MINI, "withdrawal": "severe"}  # refer-withdrawal


@pytest.fixture(scope="module")
def mini() -> Ruleset:
    return load_ruleset(MINI)


def _cohort(path: Path, groups: dict[str, tuple[int, int, int]]) -> Path:
    """A cohort whose side-car group `g` has (admitted, deferred, referred) applicants."""
    with path.open("w", encoding="utf-8") as out:
        for group, (admit, defer, refer) in groups.items():
            for applicant, count in ((ADMITTED, admit), (DEFERRED, defer), (REFERRED, refer)):
                for _ in range(count):
                    row = {"cohort": {"g": group, "site": "one"}, **applicant}
                    out.write(json.dumps(row) + "\n")
    return path


def _by_group(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["group"]: row for row in report["groups"]}


def test_wilson_interval_matches_the_published_values() -> None:
    low, high = wilson(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    assert wilson(10, 10)[1] == 1.0 and round(wilson(10, 10)[0], 4) == 0.7225
    assert wilson(0, 0) == (0.0, 1.0)


def test_a_built_in_disparity_is_found_and_traced_to_its_rule(
    mini: Ruleset, tmp_path: Path
) -> None:
    # a: 80% admitted; b: 40% (half of a's rate), its extra non-admits all refer-withdrawal;
    # c: too few to judge; d: ratio 0.75 but too few to tell from chance; e: ratio exactly 0.8
    cohort = _cohort(
        tmp_path / "disparity.jsonl",
        {"a": (160, 40, 0), "b": (80, 60, 60), "c": (5, 15, 0), "d": (18, 12, 0),
         "e": (128, 72, 0)},
    )  # fmt: skip
    data = simulate(mini, cohort, workers=1, group_by=("cohort.g", "cohort.site")).to_dict()
    assert data["evaluated"] == data["applicants"] == 200 + 200 + 20 + 30 + 200
    by_group, by_site = data["equity"]
    assert by_group["field"] == "cohort.g" and by_group["source"] == "side-car"
    assert by_group["reference"] == "a"
    rows = _by_group(by_group)
    assert {name: row["judgement"] for name, row in rows.items()} == {
        "a": REFERENCE, "b": BELOW, "c": TOO_SMALL, "d": TOO_SMALL, "e": WITHIN,
    }  # fmt: skip
    assert [name for name, row in rows.items() if row["flagged"]] == ["b"]
    b = rows["b"]
    assert b["count"] == 200 and b["admit_ratio"] == 0.5
    assert b["outcomes"]["admit"] == {"count": 80, "rate": 0.4, "low": 0.3346, "high": 0.4692}
    assert b["outcomes"]["refer"]["count"] == 60 and b["outcomes"]["defer"]["count"] == 60
    top = b["rules"][0]
    assert top == {"rule": "refer-withdrawal", "decided": 60, "rate": 0.3,
                   "reference_rate": 0.0, "excess": 0.3}  # fmt: skip
    assert b["rules"][1]["rule"] == "defer-motivation" and b["rules"][1]["excess"] == 0.1
    assert rows["c"]["count"] < MIN_GROUP_SIZE <= rows["d"]["count"]
    assert rows["d"]["admit_ratio"] == 0.75
    assert rows["e"]["admit_ratio"] == 0.8
    # one site for everybody: nothing to compare, nothing flagged
    assert [(row["group"], row["judgement"]) for row in by_site["groups"]] == [("one", REFERENCE)]


def test_a_cohort_without_disparity_is_not_flagged(mini: Ruleset, tmp_path: Path) -> None:
    cohort = _cohort(
        tmp_path / "fair.jsonl", {"x": (100, 50, 50), "y": (100, 50, 50), "z": (50, 25, 25)}
    )
    (report,) = simulate(mini, cohort, workers=1, group_by=("cohort.g",)).to_dict()["equity"]
    rows = _by_group(report)
    assert report["reference"] == "x"  # the first of the tied, in order
    assert {row["judgement"] for row in rows.values()} == {REFERENCE, WITHIN}
    assert not any(row["flagged"] for row in rows.values())
    assert {row["admit_ratio"] for row in rows.values()} == {1.0}
    assert all(rule["excess"] == 0.0 for row in rows.values() for rule in row["rules"])


def test_grouping_by_an_input_counts_its_answers(intake: Ruleset) -> None:
    data = simulate(intake, COHORT, workers=1, group_by=("housing", "phq9.q9")).to_dict()
    housing, item = data["equity"]
    assert housing["source"] == "input"
    expected: dict[str, int] = {}
    items: dict[str, int] = {}
    for line in COHORT.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        label = row.get("housing", "(missing)")
        expected[label] = expected.get(label, 0) + 1
        answer = row.get("phq9", {}).get("q9")
        key = "(missing)" if answer is None else str(answer)
        items[key] = items.get(key, 0) + 1
    assert {row["group"]: row["count"] for row in housing["groups"]} == expected
    # declared order first (homeless, temporary, stable), missing last
    assert [row["group"] for row in housing["groups"]][:3] == ["homeless", "temporary", "stable"]
    assert housing["groups"][-1]["group"] == "(missing)"
    assert {row["group"]: row["count"] for row in item["groups"]} == items
    for report in (housing, item):
        totals = {name: 0 for name in data["outcomes"]}
        for row in report["groups"]:
            for name, rate in row["outcomes"].items():
                totals[name] += rate["count"]
        assert totals == data["outcomes"]


def test_non_admits_by_rule_add_up_to_the_deciding_reasons(intake: Ruleset) -> None:
    decided: dict[str, int] = {}
    for line in COHORT.read_text(encoding="utf-8").splitlines():
        decision = intake.evaluate(json.loads(line))
        if decision.outcome != "admit":
            for rule in decision.deciding:
                decided[rule] = decided.get(rule, 0) + 1
    data = simulate(intake, COHORT, workers=1, group_by=("recovery_focus",)).to_dict()
    totals: dict[str, int] = {}
    for row in data["equity"][0]["groups"]:
        for rule in row["rules"]:
            totals[rule["rule"]] = totals.get(rule["rule"], 0) + rule["decided"]
    assert totals == decided


# --- side-car columns never reach evaluation -------------------------------------------------


@given(
    st.data(),
    st.dictionaries(
        st.text(min_size=1, max_size=12),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
        max_size=5,
    ),
)
def test_side_car_columns_never_change_a_decision(
    data: st.DataObject, sidecar: dict[str, Any]
) -> None:
    ruleset = load_ruleset(MINI)
    applicant = data.draw(applicants(ruleset))
    grouping = Grouping.for_rulesets((ruleset,), ("cohort.g",))
    seen, labels = grouping.split({**applicant, "cohort": sidecar})
    assert seen == applicant
    assert ruleset.evaluate(seen).to_json() == ruleset.evaluate(applicant).to_json()
    assert labels == (GroupField("cohort.g", "side-car", "cohort", "g").label({"cohort": sidecar}),)


def test_the_input_contract_still_refuses_the_side_car_key(mini: Ruleset) -> None:
    # stripping is the designer tools' job, done explicitly: evaluate() itself is unchanged
    with pytest.raises(InvalidApplicant) as raised:
        mini.evaluate({**COMPLETE_MINI, "cohort": {"g": "a"}})
    assert [problem.code for problem in raised.value.problems] == ["unknown-field"]


def test_simulation_is_identical_with_and_without_side_car_columns(
    intake: Ruleset, tmp_path: Path
) -> None:
    with_columns = tmp_path / "with.jsonl"
    lines = COHORT.read_text(encoding="utf-8").splitlines()
    with with_columns.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            row = json.loads(line)
            row["cohort"] = {"band": "odd" if number % 2 else "even", "housing": "not-an-answer"}
            out.write(json.dumps(row) + "\n")
    plain = simulate(intake, COHORT, workers=1).to_dict()
    grouped = simulate(intake, with_columns, workers=1).to_dict()
    assert grouped["invalid"] == 0
    assert {**grouped, "cohort": None} == {**plain, "cohort": None}
    with_equity = simulate(intake, with_columns, workers=1, group_by=("cohort.band",)).to_dict()
    assert {k: v for k, v in with_equity.items() if k not in ("equity", "cohort")} == {
        k: v for k, v in plain.items() if k != "cohort"
    }


def test_csv_side_car_columns(mini: Ruleset, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.csv"
    cohort.write_text(
        "withdrawal,ready,attends,violent,cohort.g\n"
        "none,8,true,false,a\nnone,0,false,false,a\nsevere,8,true,false,b\nnone,8,true,false,\n",
        encoding="utf-8",
    )
    data = simulate(mini, cohort, workers=1, group_by=("cohort.g",)).to_dict()
    assert data["invalid"] == 0
    counts = {row["group"]: row["count"] for row in data["equity"][0]["groups"]}
    assert counts == {"a": 2, "b": 1, "(missing)": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("withdrawal,cohort\nnone,a\n", encoding="utf-8")
    assert main(["simulate", str(MINI), "--cohort", str(bad)]) == 2


def test_a_ruleset_that_declares_cohort_reads_it_as_an_answer(tmp_path: Path) -> None:
    text = MINI.read_text(encoding="utf-8").replace(
        "inputs:\n", "inputs:\n  cohort: {type: string, label: Cohort code, max_length: 8}\n", 1
    )
    (tmp_path / "mini").mkdir()
    (tmp_path / "mini" / "1.0.0.yaml").write_text(text, encoding="utf-8")
    ruleset = load_ruleset(tmp_path / "mini" / "1.0.0.yaml", rulesets_dir=FIXTURE_RULESETS)
    grouping = Grouping.for_rulesets((ruleset,), ("cohort",))
    applicant = {**COMPLETE_MINI, "cohort": "c1"}
    assert grouping.split(applicant) == (applicant, ("c1",))
    with pytest.raises(GroupByError, match=r"cohort\.g"):
        group_fields((ruleset,), ("cohort.g",))


# --- what --group-by refuses -----------------------------------------------------------------


def test_group_by_errors_exit_2_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["simulate", "peer-support-intake@1.0.0", "--cohort", str(COHORT), "--workers", "1"]
    assert main([*base, "--group-by", "no_such_input"]) == 2
    assert "--group-by no_such_input" in capsys.readouterr().err
    assert main([*base, "--group-by", "housing", "housing"]) == 2
    assert "named twice" in capsys.readouterr().err
    assert main([*base, "--group-by", "days_since_last_use"]) == 2
    err = capsys.readouterr().err
    assert f"more than {MAX_GROUPS} distinct values" in err and "Traceback" not in err
    diff = ["diff", "peer-support-intake@1.0.0", "peer-support-intake@1.1.0"]
    assert main([*diff, "--group-by", "cohort.age_band"]) == 2
    assert "give --cohort" in capsys.readouterr().err


def test_too_many_groups_are_refused_across_chunks() -> None:
    fields = (GroupField("cohort.id", "side-car", "cohort", "id"),)
    first, second = EquityTally(1), EquityTally(1)
    for number in range(MAX_GROUPS):
        first.add((f"a{number}",), "admit", ("default",))
    second.add(("b",), "admit", ("default",))
    second.add(("c",), "admit", ("default",))
    first.merge(second)
    assert first.overflow == {0}
    with pytest.raises(GroupByError, match=r"cohort\.id"):
        equity_report(fields, first)


def test_no_admits_anywhere_is_said_plainly() -> None:
    entry = GroupField("g", "input", "g")
    counts = {"a": GroupCounts(), "b": GroupCounts()}
    counts["a"].outcomes["defer"] = 40
    counts["b"].outcomes["refer"] = 50
    report = field_report(entry, counts)
    assert [row["judgement"] for row in report["groups"]] == [NO_ADMITS, NO_ADMITS]
    assert not any(row["flagged"] for row in report["groups"])


# --- text and diff ---------------------------------------------------------------------------


def test_text_report_flags_the_disparity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = _cohort(tmp_path / "c.jsonl", {"a": (160, 40, 0), "b": (80, 60, 60)})
    assert main(["simulate", str(MINI), "--cohort", str(cohort), "--workers", "1",
                 "--group-by", "cohort.g"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Equity by cohort.g (side-car column); reference group: a (the most admitted):" in out
    (flagged,) = [line for line in out.splitlines() if "FLAGGED" in line and "<-" in line]
    assert flagged.split()[:2] == ["b", "200"] and "0.50" in flagged
    assert "    b: refer-withdrawal 60 (+30.0 pts), defer-motivation 60 (+10.0 pts)" in out


def test_diff_reports_both_versions_per_group(intake: Ruleset) -> None:
    new = load_ruleset("peer-support-intake@1.1.0")
    fields = ("recovery_focus",)
    diff = diff_rulesets(intake, new, COHORT, workers=1, limit=0, group_by=fields).to_dict()
    (report,) = diff["behaviour"]["equity"]
    assert diff["behaviour"]["compared"] == 1000
    old_alone = simulate(intake, COHORT, workers=1, group_by=fields).to_dict()["equity"][0]
    new_alone = simulate(new, COHORT, workers=1, group_by=fields).to_dict()["equity"][0]
    assert report["reference"] == {"old": old_alone["reference"], "new": new_alone["reference"]}
    for row, old, new_row in zip(
        report["groups"], old_alone["groups"], new_alone["groups"], strict=True
    ):
        assert row["group"] == old["group"] == new_row["group"]
        assert row["old"] == {k: v for k, v in old.items() if k not in ("group", "count")}
        assert row["new"] == {k: v for k, v in new_row.items() if k not in ("group", "count")}
        assert row["admit_change"] == round(
            new_row["outcomes"]["admit"]["rate"] - old["outcomes"]["admit"]["rate"], 4
        )


def test_diff_text_shows_old_and_new_per_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort = _cohort(tmp_path / "c.jsonl", {"a": (160, 40, 0), "b": (80, 60, 60)})
    assert main(["diff", str(MINI), str(MINI), "--cohort", str(cohort), "--workers", "1",
                 "--group-by", "cohort.g"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "reference group old a, new a:" in out
    (row,) = [line for line in out.splitlines() if line.startswith("  b ")]
    assert "40.0% -> 40.0%" in row and "0.50 -> 0.50" in row and "FLAGGED" in row


_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "(missing)"]),
        st.sampled_from(["admit", "defer", "refer"]),
        st.lists(st.sampled_from(["r1", "r2", "incomplete"]), min_size=1, max_size=2),
    ),
    max_size=60,
)


@given(_ROWS, st.integers(0, 60))
def test_tallies_merged_in_parts_equal_one_tally(
    rows: list[tuple[str, str, list[str]]], cut: int
) -> None:
    whole, first, second = EquityTally(1), EquityTally(1), EquityTally(1)
    for index, (label, outcome, deciding) in enumerate(rows):
        whole.add((label,), outcome, deciding)
        (first if index < cut else second).add((label,), outcome, deciding)
    first.merge(second)
    entry = (GroupField("g", "input", "g"),)
    assert equity_report(entry, first, 5) == equity_report(entry, whole, 5)


def test_the_same_report_with_one_or_two_workers(mini: Ruleset, tmp_path: Path) -> None:
    cohort = _cohort(tmp_path / "big.jsonl", {"a": (2000, 500, 0), "b": (1000, 800, 700)})
    one = simulate(mini, cohort, workers=1, group_by=("cohort.g",)).to_dict()
    two = simulate(mini, cohort, workers=2, group_by=("cohort.g",)).to_dict()
    assert one["equity"] == two["equity"]
    assert [row["count"] for row in one["equity"][0]["groups"]] == [2500, 2500]
