"""recovery-screening: explainable admit / defer / refer screening for peer recovery groups.

from recovery_screening import load_ruleset
ruleset = load_ruleset("peer-support-intake")
decision = ruleset.evaluate({"withdrawal_severity": "none", ...})
decision.outcome, decision.needs, decision.explain(), decision.to_json()
"""

from recovery_screening._version import __version__
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
