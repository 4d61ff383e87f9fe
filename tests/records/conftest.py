"""Shared for the audit tests: chained record logs made from the example cohort."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.conftest import REPO

from recovery_screening import DecisionRecord, Ruleset
from recovery_screening.records.record import make_record

COHORT = REPO / "examples" / "cohort-1000.jsonl"
WHEN = "2026-03-01T09:30:00Z"


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
) -> list[DecisionRecord]:
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
            )
        )
    return records


@pytest.fixture(scope="session")
def small_log(intake: Ruleset) -> list[DecisionRecord]:
    return chain(intake, cohort(8))
