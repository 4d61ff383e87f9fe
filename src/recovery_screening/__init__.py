"""recovery-screening: explainable admit / defer / refer screening for peer recovery groups.

from recovery_screening import load_ruleset
ruleset = load_ruleset("peer-support-intake")
decision = ruleset.evaluate({"withdrawal_severity": "none", ...})
decision.outcome, decision.needs, decision.explain(), decision.to_json()
"""

from recovery_screening._version import __version__
from recovery_screening.decision import Decision, DecisionModel
from recovery_screening.errors import (
    BackendUnavailable,
    DocumentError,
    InvalidApplicant,
    Problem,
    RulesetError,
    RulesetNotFound,
    ScreeningError,
)
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
    "DocumentError",
    "InvalidApplicant",
    "Problem",
    "Ruleset",
    "RulesetError",
    "RulesetNotFound",
    "ScreeningError",
    "__version__",
    "load_document",
    "load_ruleset",
    "shipped_rulesets_directory",
]
