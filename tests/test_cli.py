"""The command line from the outside: exit codes, stdout for results, stderr for errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import FIXTURE_RULESETS, REPO

from recovery_screening.cli import build_parser, main

EXAMPLES = REPO / "examples" / "applicants"


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "recovery_screening.cli", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_python_dash_m_runs_the_command() -> None:
    path = str(EXAMPLES / "intake-1.1" / "admit.json")
    for module in ("recovery_screening", "recovery_screening.cli"):
        result = subprocess.run(
            [sys.executable, "-m", module, "evaluate", "--format", "json", path],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["outcome"] == "admit"


def test_evaluate_default_ruleset_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(EXAMPLES / "intake-1.1" / "admit.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Outcome: ADMIT")
    assert "Ruleset peer-support-intake 1.2.0" in out


def test_the_1_0_0_examples_still_evaluate_with_1_0_0(capsys: pytest.CaptureFixture[str]) -> None:
    admit = str(EXAMPLES / "admit.json")
    assert main(["evaluate", admit, "--ruleset", "peer-support-intake@1.0.0"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Outcome: ADMIT")
    assert "Ruleset peer-support-intake 1.0.0" in out


def test_evaluate_json_from_stdin_is_the_decision_json() -> None:
    applicant = (EXAMPLES / "refer-withdrawal.json").read_bytes()
    result = run(
        "evaluate",
        "-",
        "--format",
        "json",
        "--ruleset",
        "peer-support-intake@1.0.0",
        stdin=applicant,
    )
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "refer"
    assert decision["engine"]["backend"] == "native"


def test_evaluate_an_instrument_on_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    ruleset = str(REPO / "rulesets" / "phq-9" / "1.0.0.yaml")
    assert main(["evaluate", str(EXAMPLES / "phq-9-answers.json"), "--ruleset", ruleset]) == 0
    out = capsys.readouterr().out
    assert "Patient Health Questionnaire-9" in out


def test_evaluate_audience_applicant_prints_the_plain_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    applicant = str(EXAMPLES / "intake-1.1" / "defer-missing.json")
    assert main(["evaluate", applicant, "--audience", "applicant"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Result: Not yet\n")
    assert "Have you overdosed in the last 90 days?" in out
    assert "overdose_last_90_days" not in out and "sha256" not in out
    assert main(["evaluate", applicant, "--audience", "staff"]) == 0
    assert capsys.readouterr().out.startswith("Outcome: DEFER")


@pytest.mark.parametrize(
    "payload",
    [
        b'{"withdrawal_severity": "JaneSecretValue"}',
        b'{"withdrawal_severity": "none", "withdrawal_severity": "JaneSecretValue"}',
        b'{"days_abstinent": NaN, "x": "JaneSecretValue"}',
        b"\xff\xfeJaneSecretValue",
        b"[" * 100_000,
        b'{"a": ' + b"9" * 5000 + b', "b": "JaneSecretValue"}',
        b"JaneSecretValue",
        b'["JaneSecretValue"]',
    ],
)
def test_bad_applicants_exit_2_without_traceback_or_value(payload: bytes) -> None:
    result = run("evaluate", "-", stdin=payload)
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    assert b"JaneSecretValue" not in result.stderr + result.stdout
    assert result.stderr.startswith(b"error: ")


def test_json_errors_for_programs() -> None:
    result = run("evaluate", "-", "--format", "json", stdin=b'{"withdrawal_severity": 3}')
    assert result.returncode == 2
    body = json.loads(result.stderr)
    assert body["problems"] == [
        {
            "path": "$.withdrawal_severity",
            "code": "allowed-values",
            "message": "allowed values are none, mild, moderate, severe",
        }
    ]


def test_missing_file_and_unknown_ruleset_exit_2() -> None:
    assert run("evaluate", "does-not-exist.json").returncode == 2
    result = run("evaluate", str(EXAMPLES / "admit.json"), "--ruleset", "no-such-ruleset")
    assert result.returncode == 2
    assert b"no ruleset 'no-such-ruleset'" in result.stderr


def test_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok ")
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: recovery-screening/v1\nkind: screening\nid: x\n")
    assert main(["validate", str(broken), "--format", "json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report[-1]["valid"] is False
    assert {"path": "$", "code": "missing-field"}.items() <= report[-1]["problems"][0].items()


@pytest.mark.parametrize(
    "text",
    ["a: &x [1]\nb: *x\n", "format: 1\nformat: 2\n", "- [" * 5000, "key: .nan\n"],
)
def test_validate_hostile_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    result = run("validate", str(path))
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr + result.stdout


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "peer-support-intake"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "phq9" in schema["properties"]


def test_evaluate_as_of_sets_the_screening_date(tmp_path: Path) -> None:
    ruleset = str(FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml")
    applicant = tmp_path / "applicant.json"
    applicant.write_text(
        json.dumps({"withdrawal": "none", "ready": 8, "injects": False, "housing": "stable",
                    "trained_on": "2026-02-01", "scale": {"q1": 0, "q2": True, "q3": 0}})
    )  # fmt: skip
    undated = run("evaluate", str(applicant), "--ruleset", ruleset, "--format", "json")
    assert json.loads(undated.stdout)["needs"] == ["screening_date"]
    dated = run("evaluate", str(applicant), "--ruleset", ruleset, "--format", "json",
                "--as-of", "2026-01-10")  # fmt: skip
    assert dated.returncode == 0, dated.stderr
    assert json.loads(dated.stdout)["deciding"] == ["defer-training-in-future"]
    later = run("evaluate", str(applicant), "--ruleset", ruleset, "--as-of", "2026-03-01")
    assert later.stdout.decode().startswith("Outcome: ADMIT")


@pytest.mark.parametrize("as_of", ["2026-13-01", "10/01/2026", "20260110"])
def test_evaluate_as_of_must_be_a_date(as_of: str) -> None:
    result = run("evaluate", str(EXAMPLES / "admit.json"), "--as-of", as_of)
    assert result.returncode == 2
    assert b"YYYY-MM-DD" in result.stderr
    assert b"Traceback" not in result.stderr


def test_evaluate_as_of_with_a_v1_ruleset_notes_it_is_unused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    applicant = str(EXAMPLES / "admit.json")
    assert main(["evaluate", applicant, "--ruleset", "peer-support-intake@1.0.0",
                 "--as-of", "2026-01-10", "--format", "json"]) == 0  # fmt: skip
    captured = capsys.readouterr()
    assert "has no screening date" in captured.err
    assert main(["evaluate", applicant, "--ruleset", "peer-support-intake@1.0.0",
                 "--format", "json"]) == 0  # fmt: skip
    assert capsys.readouterr().out == captured.out


@pytest.mark.parametrize("verb", [["publish", "ruleset.yaml"], ["replay", "log.jsonl"], ["serve"]])
def test_rulesets_dir_is_the_option_and_rulesets_a_deprecated_alias(
    verb: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parsed = build_parser().parse_args([*verb, "--rulesets-dir", "mine"])
    assert parsed.rulesets_dir == "mine"
    assert capsys.readouterr().err == ""
    parsed = build_parser().parse_args([*verb, "--rulesets", "old"])
    assert parsed.rulesets_dir == "old"
    assert capsys.readouterr().err == "warning: --rulesets is deprecated; use --rulesets-dir\n"
    assert build_parser().parse_args(verb).rulesets_dir is None


def test_replay_with_the_deprecated_rulesets_option_still_verifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = REPO / "examples" / "audit" / "records.jsonl"
    shipped = REPO / "rulesets"
    assert main(["replay", str(log), "--rulesets", str(shipped), "--problems-only"]) == 0
    captured = capsys.readouterr()
    assert captured.out.rstrip().endswith("every record verified")
    assert "--rulesets is deprecated" in captured.err


def _options(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.extend((f"{name} {option}", act) for option, act in _options(sub))
        else:
            found.append(("/".join(action.option_strings) or action.dest, action))
    return found


def test_every_numeric_option_is_range_checked_by_argparse() -> None:
    from recovery_screening.cli import build_parser

    options = _options(build_parser())
    bare = [name for name, action in options if action.type in (int, float)]
    assert bare == [], f"use int_in_range for {bare}"
    assert any(getattr(action.type, "__name__", "") == "whole number" for _, action in options)


def _verbs() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _option(parser: argparse.ArgumentParser, name: str) -> argparse.Action | None:
    return next((a for a in parser._actions if name in a.option_strings), None)


def test_one_vocabulary_format_and_rulesets_dir_on_every_verb() -> None:
    """Every verb takes `--format` with `json` among its choices and `--rulesets-dir`; `serve`
    prints no result, so it takes no `--format`."""
    verbs = _verbs()
    assert set(verbs) >= {"evaluate", "validate", "schema", "lint", "test", "simulate", "diff",
                          "check", "publish", "replay", "questionnaire", "serve"}  # fmt: skip
    for name, parser in verbs.items():
        assert _option(parser, "--rulesets-dir") is not None, name
        if name == "serve":
            assert _option(parser, "--format") is None
            continue
        output = _option(parser, "--format")
        assert output is not None and output.choices is not None, name
        assert "json" in output.choices, name
        if name in ("schema", "questionnaire"):  # their output is a JSON document
            assert list(output.choices) == ["json"] and output.default == "json"
        else:
            assert {"text", "json"} <= set(output.choices) and output.default == "text", name


def test_lint_exits_2_for_a_missing_file_and_1_for_lint_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lint", str(tmp_path / "missing.yaml")]) == 2
    assert "unreadable" in capsys.readouterr().out
    assert main(["lint", "no-such-ruleset-id"]) == 2
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: recovery-screening/v1\nkind: screening\nid: x\n")
    assert main(["lint", str(broken)]) == 1
    assert main(["lint", str(REPO / "rulesets" / "phq-9" / "1.1.0.yaml")]) == 0


def test_replay_format_json_and_the_deprecated_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    log = str(REPO / "examples" / "audit" / "records.jsonl")
    assert main(["replay", log, "--format", "json"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert len(lines) == 51 and lines[-1]["summary"]["records"] == 50
    assert captured.err == ""
    assert main(["replay", log, "--format", "jsonl"]) == 0
    again = capsys.readouterr()
    assert again.out == captured.out
    assert again.err == "warning: --format jsonl is deprecated; use --format json\n"


def test_an_applicant_in_yaml_on_stdin_is_read_as_from_a_file(tmp_path: Path) -> None:
    import yaml

    applicant = json.loads((EXAMPLES / "intake-1.1" / "refer-safety.json").read_text())
    document = yaml.safe_dump(applicant).encode()
    path = tmp_path / "applicant.yaml"
    path.write_bytes(document)
    from_stdin = run("evaluate", "-", "--format", "json", stdin=document)
    from_file = run("evaluate", str(path), "--format", "json")
    assert from_stdin.returncode == from_file.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout
    assert json.loads(from_stdin.stdout)["outcome"] == "refer"
    broken = run("evaluate", "-", stdin=b"withdrawal_severity: [unclosed\n")
    assert broken.returncode == 2 and b"Traceback" not in broken.stderr
