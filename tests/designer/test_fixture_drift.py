"""The broken intake copies in the designer tests differ from the shipped one only as meant."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "rulesets/peer-support-intake/1.0.0.yaml").read_text())
FIXTURES = ROOT / "tests/fixtures/designer"


def _core(document: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in document.items() if key not in ("version", "changelog")}


def test_unsafe_copy_only_drops_the_severe_withdrawal_rule() -> None:
    unsafe = yaml.safe_load((FIXTURES / "unsafe-withdrawal.yaml").read_text())
    expected = _core(SHIPPED)
    expected["decisions"] = [
        rule for rule in SHIPPED["decisions"] if rule["id"] != "refer-withdrawal-emergency"
    ]
    assert _core(unsafe) == expected


def test_threshold_copy_only_changes_the_audit_threshold() -> None:
    changed = yaml.safe_load((FIXTURES / "audit-threshold-16.yaml").read_text())
    expected = _core(SHIPPED)
    expected["decisions"] = [
        {**rule, "when": rule["when"].replace("audit.total >= 20", "audit.total >= 16")}
        for rule in SHIPPED["decisions"]
    ]
    assert _core(changed) == expected
