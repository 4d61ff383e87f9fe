"""recovery-screening: explainable admit / defer / refer screening for peer recovery groups.

from recovery_screening import load_ruleset
ruleset = load_ruleset("peer-support-intake")
decision = ruleset.evaluate({"withdrawal_severity": "none", ...})
decision.outcome, decision.needs, decision.explain(), decision.to_json()

The public names are imported when first used (a module `__getattr__`, as pydantic does), so
`import recovery_screening` loads neither pydantic, jsonschema, PyYAML nor rfc8785.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from recovery_screening._version import __version__

if TYPE_CHECKING:
    from recovery_screening.decision import Decision
    from recovery_screening.errors import (
        BackendUnavailable,
        DocumentError,
        InvalidApplicant,
        Problem,
        RulesetAltered,
        RulesetError,
        RulesetNotFound,
        ScreeningError,
    )
    from recovery_screening.models import DecisionModel
    from recovery_screening.publication import RulesetRegistry
    from recovery_screening.records.record import DecisionRecord
    from recovery_screening.records.replay import replay
    from recovery_screening.ruleset import (
        DEFAULT_RULESET,
        Ruleset,
        load_document,
        load_ruleset,
        shipped_rulesets_directory,
    )

_PUBLIC = {
    "DEFAULT_RULESET": "recovery_screening.ruleset",
    "BackendUnavailable": "recovery_screening.errors",
    "Decision": "recovery_screening.decision",
    "DecisionModel": "recovery_screening.models",
    "DecisionRecord": "recovery_screening.records.record",
    "DocumentError": "recovery_screening.errors",
    "InvalidApplicant": "recovery_screening.errors",
    "Problem": "recovery_screening.errors",
    "Ruleset": "recovery_screening.ruleset",
    "RulesetAltered": "recovery_screening.errors",
    "RulesetError": "recovery_screening.errors",
    "RulesetNotFound": "recovery_screening.errors",
    "RulesetRegistry": "recovery_screening.publication",
    "ScreeningError": "recovery_screening.errors",
    "load_document": "recovery_screening.ruleset",
    "load_ruleset": "recovery_screening.ruleset",
    "replay": "recovery_screening.records.replay",
    "shipped_rulesets_directory": "recovery_screening.ruleset",
}
"""Each public name and the module that defines it."""


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


__all__ = [
    "DEFAULT_RULESET",
    "BackendUnavailable",
    "Decision",
    "DecisionModel",
    "DecisionRecord",
    "DocumentError",
    "InvalidApplicant",
    "Problem",
    "Ruleset",
    "RulesetAltered",
    "RulesetError",
    "RulesetNotFound",
    "RulesetRegistry",
    "ScreeningError",
    "__version__",
    "load_document",
    "load_ruleset",
    "replay",
    "shipped_rulesets_directory",
]
