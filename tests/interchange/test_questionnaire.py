"""Generated Questionnaires: valid R4B resources with the items, codes and weights a form needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaire import Questionnaire
from tests.conftest import FIXTURE_RULESETS
from tests.interchange.shared import SHIPPED, ruleset_at

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.interchange import to_fhir_questionnaire
from recovery_screening.interchange._extras import LOINC, ORDINAL_VALUE


def _items(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        found[item["linkId"]] = item
        found.update(_items(item.get("item", [])))
    return found


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_every_shipped_ruleset_gives_a_valid_questionnaire(path: Path) -> None:
    ruleset = ruleset_at(path)
    questionnaire = to_fhir_questionnaire(ruleset)
    parsed = Questionnaire.model_validate(questionnaire)
    assert parsed.status == "active"
    assert (questionnaire["id"], questionnaire["version"]) == (ruleset.id, ruleset.version)
    items = _items(questionnaire["item"])
    for field in ruleset.inputs:
        if field.reserved:  # v2's screening_date is the response's `authored`, not an item
            assert field.link_id not in items
            continue
        assert field.link_id in items, field.name
        assert items[field.link_id]["required"] is field.must_answer


def test_one_item_per_input_and_a_group_per_instrument(intake: Ruleset) -> None:
    questionnaire = to_fhir_questionnaire(intake)
    top = [item["linkId"] for item in questionnaire["item"]]
    groups = [item for item in questionnaire["item"] if item["type"] == "group"]
    assert [group["linkId"] for group in groups] == ["audit", "dast10", "phq9", "gad7", "readiness"]
    assert "withdrawal-severity" in top  # the ruleset's own linkId
    assert "recovery_focus" in top  # the input's name by default
    phq9 = next(group for group in groups if group["linkId"] == "phq9")
    assert phq9["code"] == [{"system": LOINC, "code": "44249-1"}]
    assert [item["linkId"] for item in phq9["item"]] == [f"phq9.q{i}" for i in range(1, 10)]
    q9 = phq9["item"][8]
    assert q9["code"] == [{"system": LOINC, "code": "44260-8"}]
    assert q9["type"] == "choice"
    weights = [
        (option["valueCoding"]["code"], option["valueCoding"]["extension"][0])
        for option in q9["answerOption"]
    ]
    assert weights == [(str(i), {"url": ORDINAL_VALUE, "valueDecimal": i}) for i in range(4)]


def test_item_types_follow_the_input_types(mini: Ruleset) -> None:
    items = _items(to_fhir_questionnaire(mini)["item"])
    assert {name: items[name]["type"] for name in
            ("withdrawal", "ready", "attends", "last_use", "note_code", "weight")} == {
        "withdrawal": "choice", "ready": "integer", "attends": "boolean", "last_use": "date",
        "note_code": "string", "weight": "decimal",
    }  # fmt: skip
    assert items["note_code"]["maxLength"] == 8
    assert [e["valueInteger"] for e in items["ready"]["extension"]] == [0, 10]
    assert [o["valueCoding"]["code"] for o in items["withdrawal"]["answerOption"]] == [
        "none", "mild", "moderate", "severe",
    ]  # fmt: skip
    assert "extension" not in items["withdrawal"]["answerOption"][0]["valueCoding"]


def test_scored_boolean_and_choice_items_carry_their_points(mini: Ruleset) -> None:
    items = _items(to_fhir_questionnaire(mini)["item"])
    reverse = items["scale.q2"]["answerOption"]
    assert [(o["valueCoding"]["code"], o["valueCoding"]["extension"][0]["valueDecimal"])
            for o in reverse] == [("Y", 0), ("N", 1)]  # fmt: skip
    labelled = items["scale.q3"]["answerOption"]
    assert [o["valueCoding"]["display"] for o in labelled] == ["No", "Not lately", "Lately"]


def test_audit_options_keep_their_published_labels_and_points() -> None:
    questionnaire = to_fhir_questionnaire(load_ruleset("audit"))
    assert questionnaire["code"] == [{"system": LOINC, "code": "72110-0"}]
    q10 = _items(questionnaire["item"])["q10"]
    options = [option["valueCoding"] for option in q10["answerOption"]]
    assert [(option["code"], option["display"]) for option in options] == [
        ("0", "No"), ("2", "Yes, but not in the last year"), ("4", "Yes, during the last year"),
    ]  # fmt: skip


def test_the_cli_prints_the_questionnaire(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from recovery_screening.cli import main

    assert main(["questionnaire", "phq-9"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["resourceType"] == "Questionnaire"
    assert printed["url"].endswith("/Questionnaire/phq-9")


MINI_V2 = FIXTURE_RULESETS / "mini-v2" / "1.0.0.yaml"


def test_v2_instrument_answers_are_worded_and_coded() -> None:
    questionnaire = to_fhir_questionnaire(load_ruleset(MINI_V2))
    Questionnaire.model_validate(questionnaire)
    items = _items(questionnaire["item"])
    q1 = [option["valueCoding"] for option in items["scale.q1"]["answerOption"]]
    assert q1[0] == {
        "system": LOINC,
        "code": "LA6568-5",
        "display": "Not at all",
        "extension": [{"url": ORDINAL_VALUE, "valueDecimal": 0}],
    }
    assert [option["display"] for option in q1] == [
        "Not at all", "Several days", "More than half the days", "Nearly every day",
    ]  # fmt: skip
    # a reverse-scored yes/no item: LOINC's Yes / No, with the reversed points
    q2 = [option["valueCoding"] for option in items["scale.q2"]["answerOption"]]
    assert [(o["code"], o["display"], o["extension"][0]["valueDecimal"]) for o in q2] == [
        ("LA33-6", "Yes", 0),
        ("LA32-8", "No", 1),
    ]
    # choice options: a LOINC code where given, the instrument's own code system otherwise
    q3 = [option["valueCoding"] for option in items["scale.q3"]["answerOption"]]
    assert [(o["system"] == LOINC, o["code"], o["display"]) for o in q3] == [
        (True, "LA32-8", "No"), (False, "2", "Not lately"), (False, "4", "Lately"),
    ]  # fmt: skip


def test_v2_instructions_are_a_display_item_and_copyright_is_carried() -> None:
    questionnaire = to_fhir_questionnaire(load_ruleset(MINI_V2))
    group = next(item for item in questionnaire["item"] if item["linkId"] == "scale")
    stem = group["item"][0]
    assert stem == {
        "linkId": "scale.instructions",
        "text": "Over the last 2 weeks, how often have you been bothered by the following?",
        "type": "display",
    }
    assert questionnaire["copyright"].startswith("Mini scale (v2): Written for the")
    alone = load_ruleset(FIXTURE_RULESETS / "mini-scale-v2" / "1.0.0.yaml")
    assert to_fhir_questionnaire(alone)["copyright"].startswith("Written for the")


def test_v2_enum_inputs_show_their_value_labels_and_the_screening_date_is_not_asked() -> None:
    items = _items(to_fhir_questionnaire(load_ruleset(MINI_V2))["item"])
    housing = [option["valueCoding"] for option in items["housing"]["answerOption"]]
    assert [(o["code"], o["display"]) for o in housing] == [
        ("stable", "Stable housing"), ("temporary", "Temporary housing"), ("none", "No housing"),
    ]  # fmt: skip
    assert "screening_date" not in items


def test_v1_questionnaires_keep_their_codes(mini: Ruleset) -> None:
    items = _items(to_fhir_questionnaire(mini)["item"])
    assert [o["valueCoding"]["display"] for o in items["withdrawal"]["answerOption"]] == [
        "none", "mild", "moderate", "severe",
    ]  # fmt: skip
    assert {o["valueCoding"]["system"] for o in items["scale.q1"]["answerOption"]} != {LOINC}


def test_a_response_missing_a_required_answer_is_in_progress(intake: Ruleset) -> None:
    import json

    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
    from tests.conftest import REPO

    from recovery_screening.interchange import to_questionnaire_response

    newest = load_ruleset("peer-support-intake@1.1.0")
    complete = json.loads((REPO / "examples/applicants/intake-1.1/admit.json").read_text())
    assert to_questionnaire_response(complete, newest)["status"] == "completed"
    optional = {key: value for key, value in complete.items() if key != "pregnant"}
    assert not newest.compiled.inputs.top["pregnant"].must_answer
    assert to_questionnaire_response(optional, newest)["status"] == "completed"
    without_top = {key: value for key, value in complete.items() if key != "wants_to_join_group"}
    partial = to_questionnaire_response(without_top, newest)
    assert partial["status"] == "in-progress"
    QuestionnaireResponse.model_validate(partial)
    phq9 = {key: value for key, value in complete["phq9"].items() if key != "q9"}
    assert to_questionnaire_response({**complete, "phq9": phq9}, newest)["status"] == (
        "in-progress"
    )
    assert to_questionnaire_response({}, newest)["status"] == "in-progress"
    phq = load_ruleset("phq-9@1.1.0")  # an instrument's items sit at the top of its applicant
    assert to_questionnaire_response({"q1": 0}, phq)["status"] == "in-progress"
    every = {f"q{i}": 0 for i in range(1, 10)}
    assert to_questionnaire_response(every, phq)["status"] == "completed"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_every_questionnaire_has_a_generated_narrative(path: Path) -> None:
    import html
    import re

    questionnaire = to_fhir_questionnaire(ruleset_at(path))
    assert list(questionnaire)[:3] == ["resourceType", "id", "text"]
    text = questionnaire["text"]
    assert text["status"] == "generated"
    assert text["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml"><h3>')
    assert text["div"].endswith("</div>")
    shown = html.unescape(re.sub(r"<[^>]+>", " ", text["div"]))
    assert questionnaire["title"] in shown
    for item in _items(questionnaire["item"]).values():
        assert item["text"] in shown, item["linkId"]
        for option in item.get("answerOption", []):
            assert option["valueCoding"]["display"] in shown
