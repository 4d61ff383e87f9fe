"""Replay: identical for the cohort; every alteration found at the right record, with why."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import FIXTURE_RULESETS
from tests.records.conftest import DIGEST_KEY, WHEN, chain, cohort, v1_without_input
from tests.records.test_record import SECRET_DATE, SECRET_NOTE, _mini_applicant

from recovery_screening import DecisionRecord, Ruleset, RulesetRegistry, load_ruleset, replay
from recovery_screening.cli import main
from recovery_screening.document.canonical import canonical_json
from recovery_screening.records.record import make_record, record_hash

KEY = b"an-audit-key-of-32-bytes-length!"


def _write(path: Path, records: list[DecisionRecord]) -> Path:
    path.write_text("".join(record.to_json() + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cohort_log(intake: Ruleset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    records = chain(intake, cohort())
    return _write(tmp_path_factory.mktemp("log") / "records.jsonl", records)


def test_the_whole_cohort_replays_identical_through_the_api(cohort_log: Path) -> None:
    run = replay(cohort_log, RulesetRegistry())
    assert all(report.identical for report in run)
    assert run.summary.records == 1000 and run.summary.ok and run.summary.chain_whole


def test_the_whole_cohort_replays_identical_through_the_cli(
    cohort_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(cohort_log), "--format", "json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    reports = [json.loads(line) for line in lines[:-1]]
    assert len(reports) == 1000 and {r["status"] for r in reports} == {"identical"}
    assert json.loads(lines[-1])["summary"]["ok"] is True


def test_records_kept_without_input_replay_from_an_inputs_file(
    intake: Ruleset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applicants = cohort(20)
    records = chain(intake, applicants, include_input=False)
    log = _write(tmp_path / "records.jsonl", records)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(
        "".join(
            json.dumps({"record_id": r.record_id, "input": intake.evaluate(a).applicant()}) + "\n"
            for r, a in zip(records, applicants, strict=True)
        )
    )
    key_file = tmp_path / "digest.key"
    key_file.write_bytes(DIGEST_KEY + b"\n")
    assert (
        main(["replay", str(log), "--inputs", str(inputs), "--digest-key-file", str(key_file)]) == 0
    )
    assert "every record verified" in capsys.readouterr().out
    missing = list(replay(log, digest_key=DIGEST_KEY))
    assert {r.status for r in missing} == {"input-missing"}
    swapped = {records[0].record_id: intake.evaluate(applicants[1]).applicant()}
    altered = next(iter(replay(log, None, swapped, digest_key=DIGEST_KEY)))
    assert altered.status == "input-altered"


def test_signatures_are_checked_with_the_key(intake: Ruleset, tmp_path: Path) -> None:
    records = chain(intake, cohort(3), key=KEY)
    assert replay(records, key=KEY).run().ok
    statuses = [r.status for r in replay(records, key=b"another-key-of-32-bytes-length!!")]
    assert statuses == ["signature-invalid"] * 3
    unsigned = chain(intake, cohort(2))
    assert [r.status for r in replay(unsigned, key=KEY)] == ["signature-invalid"] * 2
    key_file = tmp_path / "audit.key"
    key_file.write_bytes(KEY + b"\n")
    log = _write(tmp_path / "records.jsonl", records)
    assert main(["replay", str(log), "--key-file", str(key_file)]) == 0
    key_file.write_bytes(b"x" * 32)
    assert main(["replay", str(log), "--key-file", str(key_file)]) == 1


def test_a_different_decision_is_reported_field_by_field(small_log: list[DecisionRecord]) -> None:
    body = small_log[-1].to_dict()
    body["decision"]["outcome"] = "admit" if body["decision"]["outcome"] != "admit" else "refer"
    body["record_hash"] = record_hash(body)  # a forger who recomputes the last record's hash
    reports = list(replay([*small_log[:-1], body]))
    assert [r.status for r in reports[:-1]] == ["identical"] * (len(small_log) - 1)
    assert reports[-1].status == "different"
    assert [change.path for change in reports[-1].diff] == ["$.outcome"]


def test_missing_and_altered_rulesets(
    small_log: list[DecisionRecord], tmp_path: Path, intake: Ruleset
) -> None:
    assert {r.status for r in replay(small_log, tmp_path)} == {"ruleset-missing"}
    altered = tmp_path / "altered"
    (altered / "peer-support-intake").mkdir(parents=True)
    source = Path(intake.source or "")
    text = source.read_text().replace("title:", "title: Edited", 1)
    (altered / "peer-support-intake" / "1.0.0.yaml").write_text(text)
    reports = list(replay(small_log, altered))
    assert {r.status for r in reports} == {"ruleset-altered"}


def test_unreadable_input_exits_2(tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "absent.jsonl")]) == 2
    (tmp_path / "log.jsonl").write_text("")
    assert main(["replay", str(tmp_path / "log.jsonl"), "--key-file", str(tmp_path / "k")]) == 2


def _line_bytes(records: list[DecisionRecord]) -> list[bytes]:
    return [record.to_json().encode() + b"\n" for record in records]


def _value_span(line: bytes, body: dict[str, object], name: str) -> tuple[int, int]:
    value = canonical_json(body[name])
    start = line.index(b'"' + name.encode() + b'":' + value) + len(name) + 3
    return start, start + len(value)


@settings(max_examples=60)
@given(
    st.integers(min_value=0, max_value=7),
    st.sampled_from(["decision", "input", "ruleset", "previous_hash"]),
    st.integers(min_value=0),
    st.integers(min_value=1, max_value=255),
)
def test_any_single_byte_change_is_detected_at_that_record(
    small_log: list[DecisionRecord], index: int, part: str, offset: int, delta: int
) -> None:
    lines = _line_bytes(small_log)
    line = bytearray(lines[index])
    start, end = _value_span(bytes(line), small_log[index].to_dict(), part)
    position = start + offset % (end - start)
    line[position] = (line[position] + delta) % 256
    lines[index] = bytes(line)
    reports = {r.line: r for r in replay(io.BytesIO(b"".join(lines)))}
    assert not reports[index + 1].identical


@settings(max_examples=30)
@given(st.data())
def test_reordering_breaks_the_chain_at_the_first_moved_record(
    small_log: list[DecisionRecord], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(small_log))))
    if order == list(range(len(small_log))):
        return
    run = replay([small_log[i] for i in order])
    summary = run.run()
    first_moved = next(position for position, i in enumerate(order) if i != position)
    assert not summary.ok and summary.first_break == first_moved + 1


@settings(max_examples=20)
@given(st.data())
def test_deleting_a_record_breaks_the_chain_where_it_was(
    small_log: list[DecisionRecord], data: st.DataObject
) -> None:
    gone = data.draw(st.integers(min_value=0, max_value=len(small_log) - 1))
    kept = [r for i, r in enumerate(small_log) if i != gone]
    summary = replay(kept).run()
    if gone == len(small_log) - 1:  # only the head hash, kept elsewhere, shows this
        assert summary.ok and summary.head_hash != small_log[-1].record_hash
    else:
        assert not summary.ok and summary.first_break == gone + 1


def test_reports_on_records_without_input_hold_no_answer(tmp_path: Path) -> None:
    mini = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    decision = mini.evaluate(_mini_applicant())
    body = v1_without_input(make_record(decision, subject_ref="s-1", evaluated_at=WHEN))
    for reason in body["decision"]["reasons"]:  # a tampered record: evidence values changed
        reason["evidence"] = dict.fromkeys(reason["evidence"], "2001-01-01")
    body["decision"]["outcome"] = "refer"
    log = tmp_path / "records.jsonl"
    log.write_bytes(canonical_json(body) + b"\n")
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(json.dumps({"record_id": body["record_id"], "input": decision.applicant()}))
    registry = RulesetRegistry(FIXTURE_RULESETS)
    reports = list(replay(log, registry, inputs))
    assert reports[0].status == "chain-broken"
    assert {f.status for f in reports[0].findings} >= {"different"}
    assert any(".evidence" in change.path for change in reports[0].diff)
    text = json.dumps([r.to_dict() for r in reports])
    assert SECRET_DATE not in text and SECRET_NOTE not in text and "2001-01-01" not in text


def test_the_committed_example_log_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    log = Path(__file__).parent.parent.parent / "examples" / "audit" / "records.jsonl"
    assert main(["replay", str(log), "--problems-only"]) == 0
    assert capsys.readouterr().out.strip().endswith("every record verified")


def test_a_line_that_is_not_a_record_breaks_the_chain_there(
    small_log: list[DecisionRecord],
) -> None:
    lines = _line_bytes(small_log)
    lines[2] = b'{"record_id": "Jane\\nDoe", "subject_ref": 7}\n'
    reports = list(replay(io.BytesIO(b"".join(lines))))
    assert reports[2].status == "chain-broken" and reports[2].record_id is None
    assert reports[2].subject_ref is None
    assert reports[3].status == "chain-broken"  # cannot be linked to an unreadable record
    assert all(r.identical for r in reports[4:])


@pytest.mark.parametrize(
    "line",
    [b"{not json", b'{"a": 1, "a": 2}', b'{"a": NaN}', b"\xff\xfe", b"[" * 5000 + b"]" * 5000],
)
def test_unreadable_lines_are_reported_not_raised(line: bytes) -> None:
    (report,) = replay(io.BytesIO(line + b"\n"))
    assert report.status == "chain-broken"
    assert report.findings[0].detail.startswith("not a readable decision record")


def test_expected_head_detects_records_removed_from_the_end(
    small_log: list[DecisionRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = small_log[-1].record_hash
    whole = _write(tmp_path / "whole.jsonl", small_log)
    truncated = _write(tmp_path / "truncated.jsonl", small_log[:-2])

    run = replay(truncated, RulesetRegistry(), expect_head=head)
    assert all(report.identical for report in run)
    assert run.summary.chain_whole and run.summary.head_matches is False and not run.summary.ok

    assert main(["replay", str(whole), "--expect-head", head]) == 0
    assert "ends at the expected head" in capsys.readouterr().out
    assert main(["replay", str(truncated), "--expect-head", head]) == 1
    out = capsys.readouterr().out
    assert "DOES NOT end at the expected head" in out and "VERIFICATION FAILED" in out
    assert main(["replay", str(truncated), "--expect-head", head, "--format", "json"]) == 1
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert (summary["head_matches"], summary["expected_head"], summary["ok"]) == (
        False,
        head,
        False,
    )


# --- replay never gives up on one bad line, and never claims more than it checked -------------


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_log_is_nothing_to_verify(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "empty.jsonl"
    log.write_bytes(content)
    run = replay(log)
    assert list(run) == [] and not run.summary.ok
    assert main(["replay", str(log)]) == 1
    out = capsys.readouterr().out
    assert "NOTHING TO VERIFY" in out and "every record verified" not in out
    assert main(["replay", str(log), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["summary"]["ok"] is False


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", str(2**53 + 1).encode()])
def test_a_number_that_cannot_be_hashed_is_one_malformed_record(
    number: bytes,
    small_log: list[DecisionRecord],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines = _line_bytes(small_log)
    assert b'"input":{' in lines[2]
    lines[2] = lines[2].replace(b'"input":{', b'"input":{"extra":' + number + b",", 1)
    log = tmp_path / "records.jsonl"
    log.write_bytes(b"".join(lines))
    reports = list(replay(log))
    assert len(reports) == len(small_log)
    assert reports[2].status == "chain-broken"
    assert "cannot be hashed exactly" in reports[2].findings[0].detail
    assert all(r.identical for i, r in enumerate(reports) if i != 2)
    assert main(["replay", str(log)]) == 1
    out = capsys.readouterr().out
    assert f"{len(small_log)} records:" in out and "VERIFICATION FAILED" in out


def _hash_only_log(intake: Ruleset, tmp_path: Path, count: int = 6) -> tuple[Path, Path]:
    applicants = cohort(count)
    records = chain(intake, applicants, include_input=False)
    log = _write(tmp_path / "records.jsonl", records)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text(
        "".join(
            json.dumps({"record_id": r.record_id, "input": intake.evaluate(a).applicant()}) + "\n"
            for r, a in zip(records, applicants, strict=True)
        )
    )
    return log, inputs


@pytest.mark.parametrize("damage", [b"\xff", b"x", b"\x00"])
def test_a_damaged_inputs_line_is_reported_and_replay_goes_on(
    damage: bytes, intake: Ruleset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log, inputs = _hash_only_log(intake, tmp_path)
    lines = inputs.read_bytes().splitlines(keepends=True)
    lines[1] = damage + lines[1][1:]
    inputs.write_bytes(b"".join(lines))
    run = replay(log, None, inputs, digest_key=DIGEST_KEY)
    statuses = [report.status for report in run]
    assert statuses == ["identical", "input-missing", *["identical"] * 4]
    assert run.summary.malformed_inputs == [2] and not run.summary.ok
    key_file = tmp_path / "digest.key"
    key_file.write_bytes(DIGEST_KEY)
    assert (
        main(["replay", str(log), "--inputs", str(inputs), "--digest-key-file", str(key_file)]) == 1
    )
    out = capsys.readouterr().out
    assert "inputs: 1 unreadable entries skipped (lines 2)" in out
    assert "may be one of them" in out and "VERIFICATION FAILED" in out


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_flipped_byte_in_the_inputs_never_aborts_replay(
    intake: Ruleset, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    log, inputs = _hash_only_log(intake, tmp_path_factory.mktemp("flip"), count=3)
    content = bytearray(inputs.read_bytes())
    where = data.draw(st.integers(0, len(content) - 1))
    content[where] ^= data.draw(st.integers(1, 255))
    inputs.write_bytes(bytes(content))
    run = replay(log, None, inputs, digest_key=DIGEST_KEY)
    reports = list(run)
    assert len(reports) == 3 and run.summary.records == 3
    assert not run.summary.ok or content == inputs.read_bytes()


def test_the_summary_says_the_end_is_unchecked_without_an_expected_head(
    small_log: list[DecisionRecord], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truncated = _write(tmp_path / "truncated.jsonl", small_log[:-2])
    assert main(["replay", str(truncated)]) == 0
    out = capsys.readouterr().out
    assert "end: not checked" in out and "--expect-head" in out
    assert main(["replay", str(truncated), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]["end_checked"] is False
    assert replay(truncated, expect_head=small_log[-1].record_hash).run().end_checked


# --- format v2: keyed digests ---------------------------------------------------------------


def test_v2_records_replay_only_with_the_digest_key(intake: Ruleset, tmp_path: Path) -> None:
    applicants = cohort(5)
    full = chain(intake, applicants, digest_key=DIGEST_KEY)
    assert {r.record_format for r in full} == {"recovery-screening/record/v2"}
    assert replay(full, digest_key=DIGEST_KEY).run().ok
    without_key = list(replay(full))
    assert {r.status for r in without_key} == {"input-missing"}
    assert "digest key" in without_key[0].findings[0].detail
    other = b"another-deployment-secret-32-byt"
    assert {r.status for r in replay(full, digest_key=other)} == {"input-altered"}


def test_a_v2_record_without_input_is_proved_by_the_inputs_and_the_key(
    intake: Ruleset,
) -> None:
    applicants = cohort(5)
    shared = chain(intake, applicants, include_input=False)
    inputs = {
        r.record_id: intake.evaluate(a).applicant() for r, a in zip(shared, applicants, strict=True)
    }
    run = replay(shared, None, inputs, digest_key=DIGEST_KEY)
    assert all(report.identical for report in run) and run.summary.ok


def _retouched(record: DecisionRecord, **changes: object) -> dict[str, object]:
    body = {**record.to_dict(), **changes}
    body["record_hash"] = record_hash(body)
    return body


def test_a_v2_record_with_another_outcome_or_digest_is_different(intake: Ruleset) -> None:
    applicant = cohort(1)[0]
    decision = intake.evaluate(applicant)
    record = make_record(
        decision, subject_ref="s", evaluated_at=WHEN, include_input=False, digest_key=DIGEST_KEY
    )
    inputs = {record.record_id: decision.applicant()}
    other = next(o for o in ("admit", "defer", "refer") if o != decision.outcome)
    (report,) = replay([_retouched(record, outcome=other)], None, inputs, digest_key=DIGEST_KEY)
    assert report.status == "different"
    assert [(c.path, c.recorded, c.replayed) for c in report.diff] == [
        ("$.outcome", other, decision.outcome)
    ]
    forged = "hmac-sha256:" + "0" * 64
    (report,) = replay(
        [_retouched(record, decision_digest=forged)], None, inputs, digest_key=DIGEST_KEY
    )
    assert report.status == "different" and "decision_digest" in report.findings[0].detail


def test_replay_reads_the_digest_key_from_a_file_or_the_environment(
    intake: Ruleset,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = _write(tmp_path / "records.jsonl", chain(intake, cohort(3), digest_key=DIGEST_KEY))
    assert main(["replay", str(log)]) == 1
    assert "digest key" in capsys.readouterr().out
    monkeypatch.setenv("RECOVERY_SCREENING_DIGEST_KEY", DIGEST_KEY.decode())
    assert main(["replay", str(log)]) == 0
    monkeypatch.setenv("RECOVERY_SCREENING_DIGEST_KEY", "short")
    assert main(["replay", str(log)]) == 2
    err = capsys.readouterr().err
    assert "16 bytes" in err and "short" not in err.replace("16 bytes", "")
    monkeypatch.delenv("RECOVERY_SCREENING_DIGEST_KEY")
    key_file = tmp_path / "digest.key"
    key_file.write_bytes(DIGEST_KEY + b"\n")
    assert main(["replay", str(log), "--digest-key-file", str(key_file)]) == 0


def test_old_v1_records_without_input_still_replay(intake: Ruleset) -> None:
    applicants = cohort(4)
    records = [v1_without_input(r) for r in chain(intake, applicants)]
    for previous, record in itertools.pairwise(records):  # re-link the rewritten records
        record["previous_hash"] = previous["record_hash"]
        record["record_hash"] = record_hash(record)
    inputs = {
        str(r["record_id"]): intake.evaluate(a).applicant()
        for r, a in zip(records, applicants, strict=True)
    }
    assert replay(records, None, inputs).run().ok


def test_a_v2_screening_date_is_part_of_the_record_and_replays(tmp_path: Path) -> None:
    import datetime

    mini_v2 = load_ruleset(FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml")
    applicant = {"withdrawal": "none", "ready": 8, "injects": True, "housing": "temporary",
                 "trained_on": "2026-02-01", "scale": {"q1": 0, "q2": True, "q3": 0}}  # fmt: skip
    records: list[DecisionRecord] = []
    for day in (datetime.date(2026, 1, 10), datetime.date(2026, 3, 1)):
        decision = mini_v2.evaluate(applicant, as_of=day)
        records.append(
            make_record(
                decision,
                subject_ref=f"subject-{day}",
                evaluated_at=WHEN,
                previous=records[-1] if records else None,
            )
        )
    # the same answers screened on two days: different inputs, different decisions
    assert records[0].to_dict()["input_hash"] != records[1].to_dict()["input_hash"]
    outcomes = [record.to_dict()["decision"]["outcome"] for record in records]
    assert outcomes == ["defer", "admit"]
    run = replay(records, FIXTURE_RULESETS)
    assert [report.status for report in run] == ["identical", "identical"]
