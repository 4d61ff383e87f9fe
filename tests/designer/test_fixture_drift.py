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


GUIDE = ROOT / "examples/designing/peer-support-intake"


def _guide(name: str) -> dict[str, object]:
    document: dict[str, object] = yaml.safe_load((GUIDE / name).read_text())
    return document


def _decisions(document: dict[str, object]) -> list[dict[str, str]]:
    decisions: list[dict[str, str]] = document["decisions"]  # type: ignore[assignment]
    return decisions


def test_the_guides_copies_differ_from_the_shipped_intake_only_as_the_guide_says() -> None:
    """examples/designing (docs/designing-rulesets.md): 1.3.0 changes one threshold; the drafts
    add a shadowed rule or a typo to it; the unsafe copy drops the severe-withdrawal rule."""
    threshold = _core(SHIPPED)
    threshold["decisions"] = [
        {**rule, "when": rule["when"].replace("audit.total >= 20", "audit.total >= 16")}
        for rule in _decisions(SHIPPED)
    ]
    assert _core(_guide("1.3.0.yaml")) == threshold

    draft = _core(_guide("draft.yaml"))
    added = _decisions(draft).pop(14)
    assert added["id"] == "defer-low-motivation-no-plan"
    assert draft == threshold

    typo = _guide("draft-typo.yaml")
    text = (GUIDE / "draft-typo.yaml").read_text().replace("readiness.totl", "readiness.total")
    assert "readiness.totl" in str(typo["domains"])
    assert _core(yaml.safe_load(text)) == threshold

    unsafe = _core(SHIPPED)
    unsafe["decisions"] = [
        rule for rule in _decisions(SHIPPED) if rule["id"] != "refer-withdrawal-emergency"
    ]
    assert _core(_guide("unsafe.yaml")) == unsafe
