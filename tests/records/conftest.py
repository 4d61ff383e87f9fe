"""Shared for the audit tests: chained record logs made from the example cohort."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.conftest import REPO

from recovery_screening import DecisionRecord, Ruleset
from recovery_screening.records.record import make_record, record_hash, redact_evidence

COHORT = REPO / "examples" / "cohort-1000.jsonl"
WHEN = "2026-03-01T09:30:00Z"
#: The deployment's secret for keyed (v2) digests in these tests.
DIGEST_KEY = b"a-deployment-digest-secret-32-b!"


def cohort(limit: int | None = None) -> list[dict[str, Any]]:
    with COHORT.open(encoding="utf-8") as handle:
        applicants = [json.loads(line) for line in handle if line.strip()]
    return applicants[:limit]


def chain(
    ruleset: Ruleset,
    applicants: list[dict[str, Any]],
    *,
    include_input: bool = True,
    key: bytes | None = None,
    digest_key: bytes | None = None,
) -> list[DecisionRecord]:
    """Chained records; without their input they are v2, keyed with DIGEST_KEY by default."""
    if not include_input and digest_key is None:
        digest_key = DIGEST_KEY
    records: list[DecisionRecord] = []
    for number, applicant in enumerate(applicants):
        records.append(
            make_record(
                ruleset.evaluate(applicant),
                subject_ref=f"subject-{number:05d}",
                evaluated_at=WHEN,
                previous=records[-1] if records else None,
                include_input=include_input,
                key=key,
                digest_key=digest_key,
            )
        )
    return records


@pytest.fixture(scope="session")
def small_log(intake: Ruleset) -> list[DecisionRecord]:
    return chain(intake, cohort(8))


def v1_without_input(record: DecisionRecord) -> dict[str, Any]:
    """A v1 record as hash-only records were made before format v2: no input, the evidence in
    its decision redacted, hashes recomputed. Old logs hold such records; they still replay."""
    body = record.to_dict()
    assert body["record_format"] == "recovery-screening/record/v1"
    del body["input"]
    body["decision"] = redact_evidence(body["decision"])
    body["record_hash"] = record_hash(body)
    return body
