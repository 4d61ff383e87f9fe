"""Loading checks meaning as well as form, and reports every problem with its path at once."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import FIXTURE_RULESETS

from recovery_screening import RulesetError, load_document, load_ruleset
from recovery_screening.compiler import content_hash

MINI = yaml.safe_load((FIXTURE_RULESETS / "mini" / "1.0.0.yaml").read_text())


def problems_of(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(RulesetError) as raised:
        load_document(document, rulesets_dir=FIXTURE_RULESETS)
    return [(problem.path, problem.code) for problem in raised.value.problems]


def mini(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(MINI)
    document.update(changes)
    return document


def test_fixture_loads_and_hash_is_canonical() -> None:
    ruleset = load_document(mini(), rulesets_dir=FIXTURE_RULESETS)
    reordered = dict(reversed(list(mini().items())))
    assert load_document(reordered, rulesets_dir=FIXTURE_RULESETS).content_hash == (
        ruleset.content_hash
    )
    assert ruleset.content_hash == content_hash(MINI)


def test_schema_errors_carry_paths_and_all_are_reported() -> None:
    document = mini()
    document["inputs"]["ready"]["typo"] = 1
    document["decisions"][0]["outcome"] = "maybe"
    del document["title"]
    found = problems_of(document)
    assert ("$.inputs.ready", "unknown-field") in found
    assert ("$.decisions[0].outcome", "not-allowed") in found
    assert ("$", "missing-field") in found


def test_unknown_names_type_mismatches_and_bad_enum_literals() -> None:
    document = mini()
    document["decisions"][0]["when"] = 'withdrawl >= "moderate"'
    document["decisions"][1]["when"] = "ready == true"
    document["domains"]["motivation"]["rules"][0]["when"] = 'withdrawal == "sevre"'
    found = problems_of(document)
    assert ("$.decisions[0].when", "unknown-input") in found
    assert ("$.decisions[1].when", "type-mismatch") in found
    assert ("$.domains.motivation.rules[0].when", "unknown-value") in found


def test_unknown_name_message_suggests_the_declared_one() -> None:
    document = mini()
    document["decisions"][0]["when"] = 'withdrawl >= "moderate"'
    with pytest.raises(RulesetError) as raised:
        load_document(document, rulesets_dir=FIXTURE_RULESETS)
    assert "withdrawal" in raised.value.problems[0].message


def test_band_gap_overlap_and_coverage() -> None:
    document = mini()
    document["domains"]["motivation"]["bands"] = [
        {"name": "low", "min": 0, "max": 0},
        {"name": "high", "min": 2, "max": 3},
    ]
    document["domains"]["risk"]["bands"] = [
        {"name": "none", "min": 0, "max": 1},
        {"name": "some", "min": 1, "max": 3},
    ]
    found = problems_of(document)
    assert ("$.domains.motivation.bands[1]", "band-gap") in found
    assert ("$.domains.risk.bands[1]", "band-overlap") in found
    short = mini()
    short["domains"]["motivation"]["bands"] = [{"name": "all", "min": 0, "max": 2}]
    assert problems_of(short) == [
        ("$.domains.motivation.bands", "band-coverage"),
        ("$.decisions[1].when", "unknown-value"),
    ]


def test_duplicate_rule_ids_and_unknown_referrals() -> None:
    document = mini()
    document["decisions"][1]["id"] = "refer-withdrawal"
    document["decisions"][0]["referral"] = "nowhere"
    found = problems_of(document)
    assert ("$.decisions[1]", "duplicate-id") in found
    assert ("$.decisions[0].referral", "unknown-referral") in found


def test_domain_cycles_are_reported() -> None:
    document = mini()
    document["domains"]["motivation"]["rules"][0]["when"] = "risk.score >= 1"
    document["domains"]["risk"]["rules"][0]["when"] = 'motivation.band == "high"'
    found = problems_of(document)
    assert any(code == "cycle" for _, code in found)


def test_domains_may_read_earlier_domains_in_any_order() -> None:
    document = mini()
    document["domains"]["motivation"]["rules"][0]["when"] = "risk.score >= 1"
    ruleset = load_document(document, rulesets_dir=FIXTURE_RULESETS)
    decision = ruleset.evaluate({"violent": True, "attends": True, "withdrawal": "none"})
    assert decision.domain("motivation").score == 3


def test_missing_instrument_is_a_problem_not_a_crash() -> None:
    document = mini(instruments={"scale": "mini-scale@9.9.9"})
    found = problems_of(document)
    assert ("$.instruments.scale", "unknown-instrument") in found


def test_instrument_problems() -> None:
    document = yaml.safe_load((FIXTURE_RULESETS / "mini-scale" / "1.0.0.yaml").read_text())
    document["items"][0]["min"] = 5
    document["bands"][1]["min"] = 4
    document["flags"][0]["when"] = "q4 == 1"
    found = problems_of(document)
    assert ("$.items[0]", "bad-range") in found
    assert ("$.flags[0].when", "unknown-input") in found


def test_loading_by_id_and_version(tmp_path: Path) -> None:
    ruleset = load_ruleset("mini@^1.0", rulesets_dir=FIXTURE_RULESETS)
    assert (ruleset.id, ruleset.version) == ("mini", "1.0.0")
    assert load_ruleset("mini", rulesets_dir=FIXTURE_RULESETS).version == "1.0.0"
    from recovery_screening import RulesetNotFound

    with pytest.raises(RulesetNotFound):
        load_ruleset("mini@2.0.0", rulesets_dir=FIXTURE_RULESETS)
    with pytest.raises(RulesetNotFound):
        load_ruleset("nothing-here", rulesets_dir=tmp_path)


def test_yaml_and_json_forms_have_one_hash(tmp_path: Path) -> None:
    import json

    folder = tmp_path / "mini"
    folder.mkdir()
    (folder / "1.0.0.json").write_text(json.dumps(MINI, indent=3))
    from_json = load_ruleset(folder / "1.0.0.json", rulesets_dir=FIXTURE_RULESETS)
    from_yaml = load_ruleset(FIXTURE_RULESETS / "mini" / "1.0.0.yaml")
    assert from_json.content_hash == from_yaml.content_hash


def test_a_document_that_cannot_be_hashed_exactly_is_refused() -> None:
    document = mini()
    document["inputs"]["ready"]["maximum"] = 2**60
    assert problems_of(document) == [("$", "not-canonical")]


def test_format_v2_is_accepted_and_exposed_for_both_kinds() -> None:
    v1 = load_document(mini(), rulesets_dir=FIXTURE_RULESETS)
    as_v2 = mini(format="recovery-screening/v2")
    # v2 enum inputs label their values (FORMAT-V2.md)
    as_v2["inputs"]["withdrawal"]["value_labels"] = {
        value: value.title() for value in as_v2["inputs"]["withdrawal"]["values"]
    }
    v2 = load_document(as_v2, rulesets_dir=FIXTURE_RULESETS)
    assert (v1.compiled.format_version, v2.compiled.format_version) == (1, 2)
    phq9 = yaml.safe_load((Path("rulesets") / "phq-9" / "1.0.0.yaml").read_text())
    assert load_document(phq9).compiled.format_version == 1
    # v2 scale items give their answers' labels
    answers = [{"value": value, "label": f"answer {value}"} for value in range(4)]
    phq9_v2 = {
        **phq9,
        "format": "recovery-screening/v2",
        "items": [{**item, "answers": answers} for item in phq9["items"]],
    }
    instrument = load_document(phq9_v2).compiled
    assert instrument.format_version == 2
    assert instrument.instruments[0].format_version == 2
    assert problems_of(mini(format="recovery-screening/v3")) == [("$.format", "not-allowed")]


def _recursive_order(reads: dict[str, set[str]]) -> list[str]:
    """The recursive walk the compiler used before its explicit stack (same order)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name):
            return
        state[name] = 1
        for other in sorted(reads[name]):
            visit(other)
        state[name] = 2
        order.append(name)

    for name in reads:
        visit(name)
    return order


@given(
    st.dictionaries(
        st.sampled_from("abcdefgh"), st.sets(st.sampled_from("abcdefgh"), max_size=3), min_size=1
    )
)
def test_domain_order_is_the_recursive_order(graph: dict[str, set[str]]) -> None:
    from recovery_screening.compiler import _Compiler

    reads = {name: {o for o in others if o in graph} for name, others in graph.items()}
    document = {"format": "recovery-screening/v1"}
    compiler = _Compiler(document, "test", "sha256:", lambda reference: ({}, ""))
    assert compiler._domain_order(reads) == _recursive_order(reads)
    assert all(problem.code == "cycle" for problem in compiler.problems)
