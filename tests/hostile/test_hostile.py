"""The hostile-input suite: every case in tests/hostile/cases/*.yaml is fed to the library or the
command line and must be refused cleanly (or read, where it says so) in bounded time.

A case file holds `cases:`, each with
- `id`, and `feed`: `reader` (the document reader), `ruleset` (a ruleset document compiled with
  `load_document`, over the defaults below), `applicant` (evaluated through the Python API) or
  `fhir` (a QuestionnaireResponse mapped with `from_questionnaire_response`) or `cli` (the
  command line, in process);
- the input: `text` (with `syntax: yaml` or `json`; default yaml), `document` / `applicant` /
  `response` (a mapping); `ruleset` for `applicant` and `fhir` (an id, or a path from the
  repository root; default the intake), or `generate: {name: ..., ...}` (built by
  tests/hostile/generators.py), and for `cli` `argv` (`{dir}` is a temporary directory holding
  `files: {name: text}`);
- `expect`: `error` (the exception class name), `problems` (each `{code, path}` must be among the
  error's problems), `message` (text the error must contain); `accepted: true` when the input must
  be read without error; for `cli`, `exit` and `stderr` (text stderr must contain);
- `secret`: text that must appear nowhere in the error, its problems, or the CLI's output;
- `seconds`: a generous upper bound on the time taken (default 5): a regression guard, not a
  benchmark.
Add a case here when an input is found that the library mishandles; it stays for good.
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.hostile.generators import generate

from recovery_screening import Ruleset, ScreeningError, load_document, load_ruleset
from recovery_screening.cli import main
from recovery_screening.document.reader import parse_document_bytes
from recovery_screening.errors import MAX_PROBLEMS

CASES = Path(__file__).parent / "cases"
REPO = Path(__file__).parent.parent.parent
DEFAULT_SECONDS = 5.0
DEFAULTS: dict[str, Any] = {
    "format": "recovery-screening/v1",
    "kind": "screening",
    "id": "hostile",
    "version": "1.0.0",
    "title": "Hostile snippet",
    "default": {"outcome": "admit", "code": "ADMIT", "text": "Admitted."},
    "inputs": {},
    "decisions": [],
}


def load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}::{case['id']}"))
    return params


def _input(case: dict[str, Any], key: str) -> Any:
    if "generate" in case:
        return generate(case["generate"])
    if key in case:
        return case[key]
    return case["text"]


def _read(case: dict[str, Any], value: Any) -> Any:
    if isinstance(value, str):
        yaml_syntax = case.get("syntax", "yaml") == "yaml"
        return parse_document_bytes(value.encode("utf-8"), "hostile", yaml_syntax=yaml_syntax)
    return value


def _ruleset(case: dict[str, Any]) -> Ruleset:
    return _load(case.get("ruleset", "peer-support-intake"))


@functools.cache
def _load(reference: str) -> Ruleset:
    """A case's ruleset, loaded once: the time bound is on handling the input, not on loading."""
    if "/" in reference:
        return load_ruleset(REPO / reference)
    return load_ruleset(reference)


def _feed_library(case: dict[str, Any]) -> None:
    feed = case["feed"]
    if feed == "reader":
        _read(case, _input(case, "text"))
    elif feed == "ruleset":
        document = _read(case, _input(case, "document"))
        load_document({**DEFAULTS, **document}, source="hostile snippet")
    elif feed == "applicant":
        _ruleset(case).evaluate(_read(case, _input(case, "applicant")))
    elif feed == "fhir":
        from recovery_screening.interchange import from_questionnaire_response

        from_questionnaire_response(_read(case, _input(case, "response")), _ruleset(case))
    else:
        raise AssertionError(f"unknown feed {feed!r}")


def _check_library(case: dict[str, Any]) -> None:
    expect = case["expect"]
    try:
        _feed_library(case)
    except ScreeningError as error:
        assert not expect.get("accepted"), f"refused: {error}"
        assert type(error).__name__ == expect["error"], error
        problems = list(getattr(error, "problems", ()))
        assert len(problems) <= MAX_PROBLEMS + 1
        found = {(problem.code, problem.path) for problem in problems}
        for wanted in expect.get("problems", ()):
            assert (wanted["code"], wanted["path"]) in found, (wanted, found)
        text = str(error) + "".join(repr(problem) for problem in problems)
        if "message" in expect:
            assert expect["message"] in text
        if "secret" in case:
            assert case["secret"] not in text
        return
    assert expect.get("accepted"), "the hostile input was not refused"


def _check_cli(case: dict[str, Any], directory: Path) -> None:
    for name, text in case.get("files", {}).items():
        (directory / name).write_text(text, encoding="utf-8")
    argv = [part.replace("{dir}", str(directory)) for part in case["argv"]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    expect = case["expect"]
    assert code == expect["exit"], err.getvalue()
    assert "Traceback" not in err.getvalue()
    if "stderr" in expect:
        assert expect["stderr"] in err.getvalue()
    if "secret" in case:
        assert case["secret"] not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("case", load_cases())
def test_hostile_input_is_handled(case: dict[str, Any], tmp_path: Path) -> None:
    if case["feed"] in ("applicant", "fhir"):
        _ruleset(case)
    started = time.perf_counter()
    if case["feed"] == "cli":
        _check_cli(case, tmp_path)
    else:
        _check_library(case)
    elapsed = time.perf_counter() - started
    assert elapsed < case.get("seconds", DEFAULT_SECONDS), f"took {elapsed:.1f} s"
