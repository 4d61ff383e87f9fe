"""Decision records: schema, hashing, signing, privacy of records kept without input."""

from __future__ import annotations

import itertools
import json

import jsonschema
import pytest
from tests.conftest import FIXTURE_RULESETS, REPO
from tests.records.conftest import DIGEST_KEY, WHEN, v1_without_input

from recovery_screening import DecisionRecord, Ruleset, load_ruleset
from recovery_screening.document.canonical import canonical_hash
from recovery_screening.records.record import (
    RecordError,
    input_digest,
    make_record,
    record_json_schema,
)

SECRET_NOTE = "ZQX7"
SECRET_DATE = "2019-07-13"


def test_record_schema_matches_the_model() -> None:
    on_disk = json.loads((REPO / "schemas" / "decision-record.schema.json").read_text())
    assert on_disk == record_json_schema(), "regenerate it with record_json_schema()"


def test_records_validate_against_the_schema(small_log: list[DecisionRecord]) -> None:
    validator = jsonschema.Draft202012Validator(record_json_schema())
    for record in small_log:
        validator.validate(json.loads(record.to_json()))


def test_a_record_names_everything_needed_to_replay_it(
    intake: Ruleset, small_log: list[DecisionRecord]
) -> None:
    first, second = small_log[0], small_log[1]
    assert first.record_format == "recovery-screening/record/v1"
    assert first.previous_hash is None and second.previous_hash == first.record_hash
    assert first.ruleset.id == intake.id and first.ruleset.content_hash == intake.content_hash
    assert first.engine.backend == "native"
    assert first.input is not None and canonical_hash(first.input) == first.input_hash
    assert first.decision is not None
    assert intake.evaluate(first.input).to_dict()["outcome"] == first.decision.outcome
    for record in small_log:
        assert record.verify_hash()
        again = DecisionRecord.model_validate_json(record.to_json())
        assert again == record and again.to_json() == record.to_json()


def test_record_ids_are_deterministic(intake: Ruleset) -> None:
    decision = intake.evaluate(json.loads((REPO / "examples/applicants/admit.json").read_text()))
    one = make_record(decision, subject_ref="s-1", evaluated_at=WHEN)
    assert one.record_id == make_record(decision, subject_ref="s-1", evaluated_at=WHEN).record_id
    assert one.record_id != make_record(decision, subject_ref="s-2", evaluated_at=WHEN).record_id
    chosen = make_record(decision, subject_ref="s-1", evaluated_at=WHEN, record_id="visit-42")
    assert chosen.record_id == "visit-42" and chosen.verify_hash()


def test_missing_and_null_answers_hash_the_same(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples/applicants/defer-missing.json").read_text())
    with_nulls = dict(applicant, days_since_last_use=None, phq9=None)
    without = {k: v for k, v in applicant.items() if k not in ("days_since_last_use", "phq9")}
    left = make_record(intake.evaluate(with_nulls), subject_ref="s", evaluated_at=WHEN)
    right = make_record(intake.evaluate(without), subject_ref="s", evaluated_at=WHEN)
    assert left.input_hash == right.input_hash


@pytest.mark.parametrize("subject", ["Jane Doe", "", "x" * 200])
def test_subject_ref_must_be_opaque(intake: Ruleset, subject: str) -> None:
    decision = intake.evaluate({})
    with pytest.raises(RecordError) as error:
        make_record(decision, subject_ref=subject, evaluated_at=WHEN)
    assert subject not in str(error.value) or not subject


@pytest.mark.parametrize(
    "when",
    [
        "yesterday",
        "2026-03-01",
        "2026-03-01T09:30:00",
        "2026-02-30T09:30:00Z",
        "2026-03-01T09:30:00.5Z",
    ],
)
def test_evaluated_at_must_be_an_iso_timestamp_with_offset(intake: Ruleset, when: str) -> None:
    with pytest.raises(RecordError):
        make_record(intake.evaluate({}), subject_ref="s", evaluated_at=when)


@pytest.mark.parametrize("when", ["2026-03-01T09:30:00.123+01:00", "2026-03-01T09:30-05:00"])
def test_timestamps_every_python_reads_alike_are_accepted(intake: Ruleset, when: str) -> None:
    assert make_record(intake.evaluate({}), subject_ref="s", evaluated_at=when).evaluated_at == when


def test_signing_and_verifying(small_log: list[DecisionRecord], intake: Ruleset) -> None:
    key = b"k" * 32
    record = make_record(intake.evaluate({}), subject_ref="s", evaluated_at=WHEN, key=key)
    assert record.signature is not None and record.verify_signature(key)
    assert not record.verify_signature(b"x" * 32)
    with pytest.raises(RecordError):
        make_record(intake.evaluate({}), subject_ref="s", evaluated_at=WHEN, key=b"short")


def _mini_applicant() -> dict[str, object]:
    return {
        "withdrawal": "none",
        "ready": 8,
        "attends": True,
        "violent": False,
        "last_use": SECRET_DATE,
        "screened_on": "2019-07-14",
        "note_code": SECRET_NOTE,
        "weight": 1.25,
        "scale": {"q1": 0, "q2": True, "q3": 0},
    }


def test_a_record_without_input_holds_no_answer() -> None:
    mini = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    decision = mini.evaluate(_mini_applicant())
    assert SECRET_DATE in decision.to_json()  # the rule on days since last use applied
    shared = make_record(
        decision, subject_ref="s", evaluated_at=WHEN, include_input=False, digest_key=DIGEST_KEY
    )
    text = shared.to_json()
    body = json.loads(text)
    assert set(body) == {
        "record_format", "record_id", "subject_ref", "evaluated_at", "ruleset", "engine",
        "input_digest", "outcome", "decision_digest", "previous_hash", "record_hash",
    }  # fmt: skip
    assert body["record_format"] == "recovery-screening/record/v2"
    assert body["outcome"] == decision.outcome and shared.decision is None
    assert SECRET_DATE not in text and SECRET_NOTE not in text and "1.25" not in text
    for rule in decision.deciding:  # no rule id that would say which answers applied
        assert rule not in text
    kept = make_record(decision, subject_ref="s", evaluated_at=WHEN)
    assert kept.input is not None and kept.input["note_code"] == SECRET_NOTE
    keyed = make_record(decision, subject_ref="s", evaluated_at=WHEN, digest_key=DIGEST_KEY)
    assert keyed.input == kept.input and keyed.decision == kept.decision
    assert shared.input_digest == keyed.input_digest != kept.input_hash


def test_a_record_without_input_needs_a_digest_key(intake: Ruleset) -> None:
    decision = intake.evaluate({})
    with pytest.raises(RecordError, match="digest_key"):
        make_record(decision, subject_ref="s", evaluated_at=WHEN, include_input=False)
    with pytest.raises(RecordError, match="16 bytes"):
        make_record(decision, subject_ref="s", evaluated_at=WHEN, digest_key=b"short")


def test_v2_records_validate_against_the_schema(intake: Ruleset) -> None:
    validator = jsonschema.Draft202012Validator(record_json_schema())
    for applicant in ({}, {"withdrawal_severity": "none"}):
        decision = intake.evaluate(applicant)
        for include_input in (True, False):
            record = make_record(
 decision,
                subject_ref="s", evaluated_at=WHEN, include_input=include_input,
                digest_key=DIGEST_KEY,
            )  # fmt: skip
            validator.validate(json.loads(record.to_json()))
            assert DecisionRecord.model_validate_json(record.to_json()) == record


def test_a_v2_record_needs_every_v2_field_and_no_v1_one(intake: Ruleset) -> None:
    body = make_record(
        intake.evaluate({}),
        subject_ref="s", evaluated_at=WHEN, include_input=False, digest_key=DIGEST_KEY,
    ).to_dict()  # fmt: skip
    for name in ("input_digest", "outcome", "decision_digest"):
        with pytest.raises(ValueError):
            DecisionRecord.model_validate({k: v for k, v in body.items() if k != name})
    with pytest.raises(ValueError):
        DecisionRecord.model_validate({**body, "input_hash": "sha256:" + "0" * 64})
    with pytest.raises(ValueError):  # a decision without its input would hold the answers
        full = make_record(intake.evaluate({}), subject_ref="s", evaluated_at=WHEN)
        DecisionRecord.model_validate({**body, "decision": full.to_dict()["decision"]})


def test_brute_forcing_a_phq9_record_needs_the_digest_key() -> None:
    """The attack of issue 10 item 9: every PHQ-9 answer set hashed with the library's own hash.

    It recovers the answers from a hash-only v1 record; against a v2 record it finds nothing
    without the deployment's secret, and only the secret makes a guess testable.
    """
    phq9 = load_ruleset("phq-9")
    answers = json.loads((REPO / "examples" / "applicants" / "phq-9-answers.json").read_text())
    decision = phq9.evaluate(answers)
    v1 = v1_without_input(make_record(decision, subject_ref="s", evaluated_at=WHEN))
    v2 = make_record(
        decision, subject_ref="s", evaluated_at=WHEN, include_input=False, digest_key=DIGEST_KEY
    ).to_dict()
    v2_hexes = {v2["input_digest"].split(":")[1], v2["decision_digest"].split(":")[1]}
    names = [f"q{n}" for n in range(1, 10)]
    from_v1, from_v2, with_the_key = [], [], []
    for values in itertools.product(range(4), repeat=9):
        candidate = dict(zip(names, values, strict=True))
        digest = canonical_hash(candidate)
        if digest == v1["input_hash"]:
            from_v1.append(candidate)
        if digest.split(":")[1] in v2_hexes:
            from_v2.append(candidate)
        if values[:4] == (1, 2, 1, 2) and input_digest(DIGEST_KEY, candidate) == v2["input_digest"]:
            with_the_key.append(candidate)  # only part of the space: the secret makes it work
    assert from_v1 == [answers]
    assert from_v2 == []
    assert with_the_key == [answers]
    text = json.dumps(v2)
    assert '"total"' not in text and "band" not in text and '"q9"' not in text
