"""`diff`: structural changes, and over a cohort who changed, how, and which rules did it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import FIXTURES, REPO

from recovery_screening import load_document, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.diff import structural_diff

COHORT = str(REPO / "examples" / "cohort-1000.jsonl")
OLD = "peer-support-intake@1.0.0"
THRESHOLD = str(FIXTURES / "designer" / "audit-threshold-16.yaml")
UNSAFE = str(FIXTURES / "designer" / "unsafe-withdrawal.yaml")


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["diff", *args, "--format", "json", "--workers", "1"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


def test_diff_through_a_subprocess_with_two_workers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "recovery_screening.cli", "diff", OLD, THRESHOLD,
         "--cohort", COHORT, "--format", "json"],
        capture_output=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    behaviour = json.loads(result.stdout)["behaviour"]
    assert behaviour["compared"] == 1000 and behaviour["changed_count"] > 0


def test_structural_diff_of_a_threshold_change(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", OLD, THRESHOLD]) == 0
    out = capsys.readouterr().out
    assert "~ decisions: refer-level-of-care changed" in out
    assert (
        '      when: audit.total >= 20 or dast10.total >= 6 or substance_dependence.band == "high"'
        ' -> audit.total >= 16 or dast10.total >= 6 or substance_dependence.band == "high"'
    ) in out.splitlines()
    assert "Behaviour" not in out


def test_behavioural_diff_of_a_threshold_change(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, OLD, THRESHOLD, "--cohort", COHORT)
    (change,) = [c for c in data["structural"] if c["section"] == "decisions"]  # type: ignore[attr-defined]
    assert change["id"] == "refer-level-of-care" and set(change["fields"]) == {"when"}
    behaviour = data["behaviour"]
    assert isinstance(behaviour, dict)
    matrix = behaviour["transitions"]
    assert sum(sum(row.values()) for row in matrix.values()) == 1000
    # a lower threshold only refers more people: nobody moves away from refer
    assert matrix["refer"]["admit"] == 0 and matrix["refer"]["defer"] == 0
    moved = matrix["admit"]["refer"] + matrix["defer"]["refer"]
    assert moved > 0
    for entry in behaviour["changed"]:
        assert "refer-level-of-care" in entry["new"]["deciding"]
        assert "applicant" not in entry
        assert isinstance(entry["line"], int)


def test_diff_against_1_0_0_catches_the_unsafe_version(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, OLD, UNSAFE, "--cohort", COHORT)
    (removed,) = [c for c in data["structural"] if c["change"] == "removed"]  # type: ignore[attr-defined]
    assert (removed["section"], removed["id"]) == ("decisions", "refer-withdrawal-emergency")
    behaviour = data["behaviour"]
    assert isinstance(behaviour, dict)
    left_refer = [e for e in behaviour["changed"] if e["old"]["outcome"] == "refer"
                  and e["new"]["outcome"] != "refer"]  # fmt: skip
    assert left_refer
    assert all(e["old"]["deciding"] == ["refer-withdrawal-emergency"] for e in left_refer)
    assert main(["diff", OLD, UNSAFE, "--cohort", COHORT, "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "- decisions: refer-withdrawal-emergency removed" in out
    assert "refer-withdrawal-emergency ->" in out


def test_values_only_with_show_values(capsys: pytest.CaptureFixture[str]) -> None:
    hidden = _json(capsys, OLD, UNSAFE, "--cohort", COHORT, "--limit", "2")
    shown = _json(capsys, OLD, UNSAFE, "--cohort", COHORT, "--limit", "2", "--show-values")
    assert all("applicant" not in e for e in hidden["behaviour"]["changed"])  # type: ignore[index]
    changed = shown["behaviour"]["changed"]  # type: ignore[index]
    assert len(changed) == 2
    assert all(e["applicant"]["withdrawal_severity"] == "severe" for e in changed)


def test_an_answer_to_a_question_only_one_version_asks_is_not_shown_to_the_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old_path = REPO / "rulesets" / "continuing-support" / "1.0.0.yaml"
    new_text = old_path.read_text(encoding="utf-8")
    new_text = new_text.replace("version: 1.0.0\n", "version: 1.0.1\n", 1)
    new_text = new_text.replace(
        "  wants_anonymity_online:\n",
        "  extra_question:\n    type: boolean\n    label: A question only 1.0.1 asks\n"
        "  wants_anonymity_online:\n",
        1,
    )
    new_path = tmp_path / "continuing-support-1.0.1.yaml"
    new_path.write_text(new_text, encoding="utf-8")
    applicant = load_ruleset(old_path).tests[0]["applicant"]
    rows = [applicant, {**applicant, "extra_question": True}, {**applicant, "typo_field": 1}]
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    data = _json(capsys, str(old_path), str(new_path), "--cohort", str(cohort))
    behaviour = data["behaviour"]
    assert isinstance(behaviour, dict)
    # the new question's answer goes to 1.0.1 only; a key neither version declares stays invalid
    assert behaviour["compared"] == 2
    assert behaviour["changed_count"] == 0


def test_structural_diff_lists_advisory_changes() -> None:
    fixtures = FIXTURES / "rulesets"
    old = load_ruleset(fixtures / "mini-v2" / "1.0.0.yaml")
    document = old.document
    document["version"] = "1.0.1"
    document["advisories"][0]["text"] = "Naloxone information."
    document["advisories"].pop()
    new = load_document(document, rulesets_dir=fixtures)
    changes = [(c.section, c.id, c.change) for c in structural_diff(old, new)]
    assert ("advisories", "advise-harm-reduction", "changed") in changes
    assert ("advisories", "advise-motivated-note", "removed") in changes


def test_the_structural_diff_is_in_the_same_order_in_every_process() -> None:
    """Domains common to both versions used to be walked as a set: the order changed with
    PYTHONHASHSEED, so the same diff printed differently from run to run."""
    import os
    import subprocess
    import sys

    program = (
        "from recovery_screening import load_ruleset\n"
        "from recovery_screening.designer.diff import structural_diff\n"
        "old, new = load_ruleset('peer-support-intake@1.0.0'), "
        "load_ruleset('peer-support-intake@1.1.0')\n"
        "print([(c.section, c.id) for c in structural_diff(old, new)])\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
        ).stdout
        for seed in range(1, 7)
    }  # fmt: skip
    assert len(outputs) == 1
