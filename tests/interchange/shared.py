"""What the interchange tests share: the shipped rulesets, each loaded once."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from recovery_screening import Ruleset, load_ruleset, shipped_rulesets_directory

SHIPPED = sorted(shipped_rulesets_directory().glob("*/*.yaml"))


@functools.cache
def ruleset_at(path: Path) -> Ruleset:
    return load_ruleset(path)


CASES = [
    pytest.param(path, index, id=f"{path.parent.name}::{case['id']}")
    for path in SHIPPED
    for index, case in enumerate(ruleset_at(path).tests)
]
