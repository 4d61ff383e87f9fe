"""A ruleset compiles as it hashes: RFC 8785 writes `4` and `4.0` alike, so they mean the same.

Each edit below keeps the content hash (so the lock still accepts the file) and must keep every
decision byte-identical; before integral floats were made integers at load time, the AUDIT edit
refused admit.json, `points: 3.0` changed the decision JSON, and `min: 0.0` raised TypeError.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.conftest import REPO

from recovery_screening import load_document, load_ruleset
from recovery_screening.document.canonical import integral_as_int
from recovery_screening.document.reader import read_document

APPLICANTS = sorted((REPO / "examples" / "applicants").glob("*.json"))
INTAKE = "peer-support-intake/1.0.0.yaml"


def _audit_floats(text: str) -> str:
    for value in (0, 2, 4):
        text = text.replace(
            f"{{value: {value}, points: {value},", f"{{value: {value}.0, points: {value},"
        )
    return text


def _points_floats(text: str) -> str:
    return text.replace("points: 3\n", "points: 3.0\n")


def _band_floats(text: str) -> str:
    return text.replace("{name: low, min: 0, max: 4,", "{name: low, min: 0.0, max: 4.0,")


EDITS: dict[str, tuple[str, Callable[[str], str]]] = {
    "audit-option-values": ("audit/1.0.0.yaml", _audit_floats),
    "points": (INTAKE, _points_floats),
    "band-bounds": (INTAKE, _band_floats),
}


def _decisions(rulesets: Path | None) -> list[str]:
    ruleset = load_ruleset("peer-support-intake", rulesets_dir=rulesets)
    decisions = []
    for path in APPLICANTS:
        applicant = json.loads(path.read_text())
        if path.stem == "phq-9-answers":
            continue
        decisions.append(ruleset.evaluate(applicant).to_json())
    return decisions


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_integral_floats_keep_the_hash_and_every_decision(tmp_path: Path, edit: str) -> None:
    rulesets = tmp_path / "rulesets"
    shutil.copytree(REPO / "rulesets", rulesets)
    relative, change = EDITS[edit]
    path = rulesets / relative
    before = load_ruleset(path).content_hash
    edited = change(path.read_text())
    assert edited != path.read_text()
    path.write_text(edited)
    assert load_ruleset(path).content_hash == before
    assert _decisions(rulesets) == _decisions(None)


def test_a_document_given_as_a_dict_is_normalised_too() -> None:
    document = read_document(REPO / "rulesets" / INTAKE)
    for domain in document["domains"].values():
        for rule in domain["rules"]:
            rule["points"] = float(rule["points"])
        for band in domain["bands"]:
            band["min"], band["max"] = float(band["min"]), float(band["max"])
    ruleset = load_document(document)
    shipped = load_ruleset("peer-support-intake@1.0.0")
    assert ruleset.content_hash == shipped.content_hash
    assert all(
        type(rule["points"]) is int
        for domain in ruleset.document["domains"].values()
        for rule in domain["rules"]
    )
    for path in APPLICANTS:
        if path.stem != "phq-9-answers":
            applicant = json.loads(path.read_text())
            assert ruleset.evaluate(applicant).to_json() == shipped.evaluate(applicant).to_json()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (4.0, 4),
        (-0.0, 0),
        (2.5, 2.5),
        (1e300, 1e300),
        (float(2**53 - 1), 2**53 - 1),
        (float(2**53), float(2**53)),
        (True, True),
    ],
)
def test_integral_as_int(value: object, expected: object) -> None:
    result = integral_as_int({"a": [value]})["a"][0]
    assert result == expected and type(result) is type(expected)


def test_integral_as_int_copies_only_what_changes() -> None:
    unchanged = {"a": [1, "x", {"b": 2.5}]}
    assert integral_as_int(unchanged) is unchanged
