"""The three outcomes in one ordered table, least to most protective, and the fallback rule ids.

An outcome is its name (`Outcome`: what decisions, records and JSON carry); its rank is its
position in `OUTCOMES` (what evaluation compares: the most protective outcome wins). Every other
module reads both from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal, get_args

Outcome = Literal["admit", "defer", "refer"]
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
"""Every outcome, least protective first: an outcome's rank is its index here."""
RANK: Mapping[str, int] = MappingProxyType({name: rank for rank, name in enumerate(OUTCOMES)})
ADMIT, DEFER, REFER = (RANK[name] for name in ("admit", "defer", "refer"))

DEFAULT_RULE = "default"
"""The id of the fallback rule that decides when no decision rule fires."""
INCOMPLETE_RULE = "incomplete"
"""The id of the fail-safe rule: `defer` when missing answers could change the outcome."""

__all__ = [
    "ADMIT",
    "DEFAULT_RULE",
    "DEFER",
    "INCOMPLETE_RULE",
    "OUTCOMES",
    "RANK",
    "REFER",
    "Outcome",
]
