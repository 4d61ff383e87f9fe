"""`evaluate --next-steps`: text and JSON, with the decision's JSON unchanged inside."""

from __future__ import annotations

import json

import pytest
from tests.conftest import REPO

from recovery_screening.cli import main

STABILITY = str(REPO / "examples" / "applicants" / "intake-1.1" / "defer-stability.json")


def test_text_adds_the_next_steps_after_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", STABILITY, "--next-steps"]) == 0
    out = capsys.readouterr().out
    decision, steps = out.split("\n\nNext steps from defer:\n")
    assert decision.startswith("Outcome: DEFER")
    assert "If you find stable housing with help from housing services" in steps
    assert "If you come back in 14 days, the outcome would be: Join the group (admit)." in steps


def test_json_holds_the_decision_byte_for_byte(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", STABILITY, "--format", "json"]) == 0
    alone = capsys.readouterr().out.strip()
    assert main(["evaluate", STABILITY, "--format", "json", "--next-steps"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith('{"decision":' + alone + ',"next_steps":')
    steps = json.loads(out)["next_steps"]
    assert [s["changes"][0]["input"] for s in steps["sets"]] == ["housing", "wait"]
    assert steps["sets"][1]["wait_days"] == 4 and steps["sets"][1]["come_back_after_days"] == 14
    assert steps["bound"] is None


def test_max_changes_bounds_the_search(capsys: pytest.CaptureFixture[str]) -> None:
    several = str(REPO / "examples" / "applicants" / "intake-1.1" / "defer-several-steps.json")
    assert (
        main(["evaluate", several, "--next-steps", "--max-changes", "2", "--format", "json"]) == 0
    )
    steps = json.loads(capsys.readouterr().out)["next_steps"]
    assert (steps["sets"], steps["bound"]) == ([], "max-changes")


def test_a_bad_bound_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["evaluate", STABILITY, "--next-steps", "--max-changes", "0"])
    assert raised.value.code == 2
    assert "--max-changes" in capsys.readouterr().err


def test_the_applicant_text_holds_the_next_steps_in_plain_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["evaluate", STABILITY, "--next-steps", "--audience", "applicant"]) == 0
    with_flag = capsys.readouterr().out
    assert "What could change the result:\n  - If you do one of these" in with_flag
    assert "Next steps from" not in with_flag and "lifts:" not in with_flag
    assert "(admit)" not in with_flag and "defer-sobriety-unstable" not in with_flag
    assert main(["evaluate", STABILITY, "--audience", "applicant"]) == 0
    assert capsys.readouterr().out == with_flag  # the section is the text's own either way


def test_the_applicant_text_keeps_the_bound_the_command_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    several = str(REPO / "examples" / "applicants" / "intake-1.1" / "defer-several-steps.json")
    command = ["evaluate", several, "--audience", "applicant", "--next-steps"]
    assert main(command) == 0
    assert "What could change the result:" in capsys.readouterr().out
    assert main([*command, "--max-changes", "2"]) == 0
    assert "What could change the result:" not in capsys.readouterr().out  # none within 2
