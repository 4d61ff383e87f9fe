"""How clinic software embeds recovery-screening: load once, evaluate per intake, store the JSON.

python examples/embed.py examples/applicants/defer-missing.json
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from recovery_screening import InvalidApplicant, load_ruleset

log = logging.getLogger("intake")

# Load once at start-up: the ruleset is immutable and safe to share between threads.
RULESET = load_ruleset("peer-support-intake")  # newest shipped version; or "id@1.0.0", or a path


def screen(answers: dict[str, object]) -> dict[str, object]:
    """Screen one intake; return what the clinic's own system stores and shows."""
    try:
        decision = RULESET.evaluate(answers)
    except InvalidApplicant as error:
        # Problems name fields and rules, never the answers: safe to log.
        for problem in error.problems:
            log.warning("intake field %s breaks rule %s", problem.path, problem.code)
        return {"status": "invalid", "fields": list(error.fields)}
    return {
        "status": "screened",
        "outcome": decision.outcome,  # "admit" | "defer" | "refer"
        "needs": list(decision.needs),  # missing answers that could change it
        "referrals": [referral.title for referral in decision.referrals],
        "rescreen_after_days": decision.rescreen_after_days,
        "explanation": decision.explain(),  # plain text for the peer worker
        "decision_json": decision.to_json(),  # byte-identical for the same input
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    path = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).parent / "applicants" / "admit.json"
    )
    result = screen(json.loads(path.read_text()))
    print(result.get("explanation", result))
    print("\nForm fields:", ", ".join(RULESET.input_schema()["properties"]))


if __name__ == "__main__":
    main()
