"""Shared fixtures: the small test rulesets and the shipped ones."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from recovery_screening import Ruleset, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_RULESETS = FIXTURES / "rulesets"
REPO = Path(__file__).parent.parent

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def mini() -> Ruleset:
    return load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")


@pytest.fixture(scope="session")
def intake() -> Ruleset:
    return load_ruleset("peer-support-intake@1.0.0")


COMPLETE_MINI = {
    "withdrawal": "none",
    "ready": 8,
    "attends": True,
    "violent": False,
    "scale": {"q1": 0, "q2": True, "q3": 0},
}
