"""The columnar replay reports exactly what the scalar replay reports: every status, finding,
field-level diff and chain verdict, on good logs, tampered logs and lines that are no record."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import REPO

from recovery_screening import DecisionRecord, Ruleset, RulesetRegistry, replay
from recovery_screening.cli import main
from recovery_screening.document.canonical import NotCanonical
from recovery_screening.errors import DocumentError
from recovery_screening.models import DecisionModel
from recovery_screening.records.record import record_hash
from recovery_screening.records.replay import chosen_engine

from .conftest import DIGEST_KEY, chain, cohort, v1_without_input

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

EXAMPLE_LOG = REPO / "examples" / "audit" / "records.jsonl"
SIGNING_KEY = b"a-signing-key-of-32-bytes-000000"
_SHIPPED = RulesetRegistry()
"""One registry for every replay here: each ruleset is compiled once."""


def _lines(records: list[DecisionRecord] | list[dict[str, Any]]) -> list[bytes]:
    return [
        (r.to_json() if isinstance(r, DecisionRecord) else json.dumps(r, sort_keys=True)).encode()
        + b"\n"
        for r in records
    ]


def _outcome(
    path: Path, engine: str, *, fast_only: bool = False, **options: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(reports, summary) of one replay. `fast_only`: the columnar path's record checks with
    the scalar engine deciding (no DuckDB), for many quick examples."""
    registry = options.pop("registry", _SHIPPED)
    run = replay(path, registry, engine="scalar" if fast_only else engine, **options)
    if fast_only:
        run.engine = "columnar"
    reports = [report.to_dict() for report in run]
    return reports, run.summary.to_dict()


def assert_same(path: Path, *, fast_only: bool = False, **options: Any) -> list[dict[str, Any]]:
    scalar = _outcome(path, "scalar", **dict(options))
    columnar = _outcome(path, "columnar", fast_only=fast_only, **dict(options))
    assert columnar == scalar
    return scalar[0]


@pytest.fixture(scope="module")
def log_lines(intake: Ruleset) -> list[bytes]:
    return _lines(chain(intake, cohort(120)))


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_the_example_log_replays_the_same_on_both_engines() -> None:
    reports = assert_same(EXAMPLE_LOG)
    assert len(reports) == 50 and all(r["status"] == "identical" for r in reports)


def test_a_generated_log_replays_the_same(log_lines: list[bytes], tmp_path: Path) -> None:
    reports = assert_same(_write(tmp_path / "log.jsonl", log_lines))
    assert {r["status"] for r in reports} == {"identical"}


def test_tampered_records_are_reported_the_same(log_lines: list[bytes], tmp_path: Path) -> None:
    lines = list(log_lines)
    lines[3] = lines[3].replace(b'"outcome":"', b'"outcome":"x', 1)  # altered record
    body = json.loads(lines[5])
    body["input"]["days_since_last_use"] = 1  # altered input, hash recomputed: input-altered
    body["record_hash"] = record_hash(body)
    lines[5] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    body = json.loads(lines[8])
    body["decision"]["domains"][0]["score"] = 99  # another decision, hash recomputed: different
    body["record_hash"] = record_hash(body)
    lines[8] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    body = json.loads(lines[11])
    body["input"]["no_such_question"] = True  # an input that breaks the contract
    body["record_hash"] = record_hash(body)
    lines[11] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    lines[14] = json.dumps(json.loads(lines[14]), indent=1).replace("\n", " ").encode() + b"\n"
    del lines[20]  # broken chain
    lines[30] = b"not json\n"
    lines[31] = b'{"a": 1}\n'
    lines[40] = lines[40].replace(b'"score":', b'"score":1.0E0,"x":', 1)
    reports = assert_same(_write(tmp_path / "log.jsonl", lines))
    statuses = {r["status"] for r in reports}
    assert {"chain-broken", "input-altered", "different", "identical"} <= statuses


def test_missing_and_altered_rulesets_are_reported_the_same(
    log_lines: list[bytes], tmp_path: Path
) -> None:
    log = _write(tmp_path / "log.jsonl", log_lines[:10])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "rulesets.lock").write_text("{}\n")
    edited = tmp_path / "edited"
    shutil.copytree(REPO / "rulesets", edited)
    phq9 = edited / "phq-9" / "1.0.0.yaml"
    phq9.write_text(phq9.read_text().replace("title: ", "title: (edited) ", 1))
    for directory in (empty, edited):
        reports = assert_same(log, registry=RulesetRegistry(directory))
        assert all(r["status"] != "identical" for r in reports)


def test_records_kept_without_input_and_v2_records_replay_the_same(
    intake: Ruleset, tmp_path: Path
) -> None:
    applicants = cohort(40)
    shared = chain(intake, applicants, include_input=False)
    log = _write(tmp_path / "shared.jsonl", _lines(shared))
    inputs = tmp_path / "inputs.jsonl"
    entries = [
        json.dumps({"record_id": r.record_id, "input": intake.evaluate(a).applicant()})
        for r, a in zip(shared, applicants, strict=True)
    ]
    entries[4] = entries[4].replace('"input": {', '"input": {"housing": "stable", ', 1)
    entries[9] = "garbage"
    inputs.write_text("\n".join(entries) + "\n")
    reports = assert_same(log, inputs=inputs, digest_key=DIGEST_KEY)
    assert {r["status"] for r in reports} >= {"identical", "input-missing"}
    assert_same(log, inputs=inputs, digest_key=b"another-digest-key-of-32-bytes!!")
    assert_same(log, inputs=inputs)  # no key: every v2 record is input-missing
    keyed = _write(
        tmp_path / "keyed.jsonl", _lines(chain(intake, applicants, digest_key=DIGEST_KEY))
    )
    assert {r["status"] for r in assert_same(keyed, digest_key=DIGEST_KEY)} == {"identical"}
    v1 = chain(intake, applicants[:10])
    old = _write(tmp_path / "old.jsonl", _lines([v1_without_input(r) for r in v1]))
    old_inputs = tmp_path / "old-inputs.jsonl"
    old_inputs.write_text(
        "".join(json.dumps({"record_id": r.record_id, "input": r.input}) + "\n" for r in v1)
    )
    assert assert_same(old, inputs=old_inputs)[0]["status"] == "identical"
    assert assert_same(old, inputs={r.record_id: r.input for r in v1})[0]["status"] == "identical"


def test_signed_records_replay_the_same(intake: Ruleset, tmp_path: Path) -> None:
    lines = _lines(chain(intake, cohort(12), key=SIGNING_KEY))
    lines[2] = lines[2].replace(b'"signature":"hmac-sha256:', b'"signature":"hmac-sha256:0', 1)
    log = _write(tmp_path / "signed.jsonl", lines)
    reports = assert_same(log, key=SIGNING_KEY)
    assert reports[0]["status"] == "identical" and reports[2]["status"] != "identical"
    assert_same(log, key=b"another-signing-key-of-32-bytes!")


def test_the_replayed_decision_dict_is_a_valid_decision(intake: Ruleset) -> None:
    """The fast path takes a recorded decision that equals the replayed one as valid."""
    for applicant in cohort(60):
        DecisionModel.model_validate(intake.evaluate(applicant).to_dict())


_TAMPERING = st.sampled_from(["flip", "delete", "swap", "duplicate", "rehash", "float", "blank"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_randomly_tampered_small_logs_are_reported_the_same(
    log_lines: list[bytes], tmp_path: Path, data: st.DataObject
) -> None:
    lines = list(log_lines[: data.draw(st.integers(1, 10))])
    for _ in range(data.draw(st.integers(0, 3))):
        how = data.draw(_TAMPERING)
        at = data.draw(st.integers(0, len(lines) - 1))
        line = lines[at]
        if how == "flip":
            where = data.draw(st.integers(0, len(line) - 2))
            byte = data.draw(st.integers(0, 255))
            lines[at] = line[:where] + bytes([byte]) + line[where + 1 :]
        elif how == "delete" and len(lines) > 1:
            del lines[at]
        elif how == "swap":
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif how == "duplicate":
            lines.insert(at, line)
        elif how in ("rehash", "float"):
            try:
                body = json.loads(line)
                body["decision"]["domains"][0]["score"] = 2.0 if how == "float" else 7
                body["record_hash"] = record_hash(body)
            except (ValueError, KeyError, IndexError, TypeError, NotCanonical):
                continue
            lines[at] = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        elif how == "blank":
            lines.insert(at, b"   \n")
    assert_same(_write(tmp_path / "log.jsonl", lines), fast_only=True)


def test_the_engine_is_chosen_by_size_and_extra(tmp_path: Path) -> None:
    assert chosen_engine("auto", EXAMPLE_LOG) == "scalar"  # small: DuckDB's planning costs more
    assert chosen_engine("columnar", EXAMPLE_LOG) == "columnar"
    assert chosen_engine("scalar", EXAMPLE_LOG) == "scalar"
    assert chosen_engine("auto", [b"{}"]) == "scalar"
    with pytest.raises(DocumentError):
        chosen_engine("columnar", [b"{}"])
    with pytest.raises(ValueError, match="engine"):
        chosen_engine("fast", EXAMPLE_LOG)


def test_the_cli_engine_option_gives_the_same_output(
    log_lines: list[bytes], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = list(log_lines[:30])
    del lines[7]
    log = _write(tmp_path / "log.jsonl", lines)
    outputs = []
    for engine in ("scalar", "columnar", "auto"):
        code = main(["replay", str(log), "--engine", engine, "--format", "json", "-q"])
        outputs.append((code, capsys.readouterr().out))
    assert outputs[0][0] == 1 and outputs[0] == outputs[1] == outputs[2]


def test_the_columnar_engine_needs_a_log_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(EXAMPLE_LOG.read_bytes())))
    assert main(["replay", "-", "--engine", "columnar", "-q"]) == 2
