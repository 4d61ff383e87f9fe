"""QuestionnaireResponse → applicant: the plain applicant's decision; errors without values."""

from __future__ import annotations

import copy
import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import COMPLETE_MINI, REPO
from tests.interchange.shared import CASES, SHIPPED, ruleset_at

from recovery_screening import InvalidApplicant, Ruleset, load_ruleset
from recovery_screening.cli import main
from recovery_screening.designer.strategies import applicants
from recovery_screening.interchange import (
    MissingExtra,
    from_questionnaire_response,
    to_questionnaire_response,
)
from recovery_screening.interchange._extras import ORDINAL_VALUE, QUESTIONNAIRE_ORDINAL_VALUE

SECRET = "SECRET-VALUE-42"


def _same_decision(ruleset: Ruleset, applicant: dict[str, Any], response: Any) -> None:
    mapped = from_questionnaire_response(response, ruleset)
    assert ruleset.evaluate(mapped).to_json() == ruleset.evaluate(applicant).to_json()


@pytest.mark.parametrize(("path", "index"), CASES)
def test_every_embedded_case_maps_back_to_the_same_decision(path: Path, index: int) -> None:
    ruleset = ruleset_at(path)
    applicant = ruleset.tests[index]["applicant"]
    _same_decision(ruleset, applicant, to_questionnaire_response(applicant, ruleset))


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "examples/applicants").glob("*.json"))
)
def test_example_applicants_map_back(intake: Ruleset, name: str) -> None:
    applicant = json.loads((REPO / "examples" / "applicants" / name).read_text())
    ruleset = load_ruleset("phq-9@1.0.0") if name == "phq-9-answers.json" else intake
    _same_decision(ruleset, applicant, to_questionnaire_response(applicant, ruleset))


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (REPO / "examples/applicants/intake-1.1").glob("*.json"))
)
def test_intake_1_1_example_applicants_map_back(name: str) -> None:
    applicant = json.loads((REPO / "examples/applicants/intake-1.1" / name).read_text())
    ruleset = load_ruleset("peer-support-intake@1.1.0")
    _same_decision(ruleset, applicant, to_questionnaire_response(applicant, ruleset))


def _rewrite_scored(response: dict[str, Any], choice: int) -> dict[str, Any]:
    """Answer scored items by weight only (a foreign code), by ordinalValue, or by valueInteger."""
    rewritten = copy.deepcopy(response)

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            walk(item.get("item", []))
            for answer in item.get("answer", []):
                coding = answer.get("valueCoding")
                if not coding or "extension" not in coding:
                    continue
                weight = coding["extension"][0]["valueDecimal"]
                if choice == 1:
                    answer["valueCoding"] = {"system": "http://loinc.org", "code": "LA-x",
                                             "extension": [{"url": ORDINAL_VALUE,
                                                            "valueDecimal": weight}]}  # fmt: skip
                elif choice == 2:
                    del coding["extension"]
                    answer["extension"] = [
                        {"url": QUESTIONNAIRE_ORDINAL_VALUE, "valueDecimal": weight}
                    ]
                elif coding["code"].isdigit():
                    answer.clear()
                    answer["valueInteger"] = int(coding["code"])

    walk(rewritten.get("item", []))
    return rewritten


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
@settings(max_examples=15)
@given(data=st.data())
def test_generated_applicants_map_back(path: Path, data: st.DataObject) -> None:
    ruleset = ruleset_at(path)
    applicant = data.draw(applicants(ruleset, missing=0.2))
    response = to_questionnaire_response(applicant, ruleset)
    choice = data.draw(st.integers(0, 3))
    _same_decision(ruleset, applicant, _rewrite_scored(response, choice))


def test_every_input_type_maps(mini: Ruleset) -> None:
    applicant = {**COMPLETE_MINI, "last_use": "2026-01-02", "screened_on": "2026-02-01",
                 "note_code": "A1", "weight": 1.25}  # fmt: skip
    response = to_questionnaire_response(applicant, mini)
    assert from_questionnaire_response(response, mini) == applicant
    _same_decision(mini, applicant, response)


def test_a_fhir_resources_model_is_accepted(mini: Ruleset) -> None:
    applicant = {**COMPLETE_MINI, "weight": 1.0}
    model = QuestionnaireResponse.model_validate(to_questionnaire_response(applicant, mini))
    assert from_questionnaire_response(model, mini) == applicant


def test_unanswered_items_are_missing_not_false(mini: Ruleset) -> None:
    response = to_questionnaire_response({"ready": 8}, mini)
    response["item"].append({"linkId": "attends"})
    response["item"].append({"linkId": "violent", "answer": []})
    assert from_questionnaire_response(response, mini) == {"ready": 8}
    decision = mini.evaluate(from_questionnaire_response(response, mini))
    assert decision.outcome == "defer"
    assert "withdrawal" in decision.needs


def _response(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "item": list(items)}


def _problems(ruleset: Ruleset, response: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidApplicant) as raised:
        from_questionnaire_response(response, ruleset)
    assert SECRET not in str(raised.value)
    return [(p.path, p.code, p.message) for p in raised.value.problems]


@pytest.mark.parametrize(
    ("item", "code", "link_id"),
    [
        ({"linkId": "no-such-item", "answer": [{"valueString": SECRET}]}, "unknown-link-id",
         "no-such-item"),
        ({"linkId": "attends", "answer": [{"valueString": SECRET}]}, "wrong-answer-type",
         "attends"),
        ({"linkId": "ready", "answer": [{"valueDecimal": 7.5}]}, "wrong-answer-type", "ready"),
        ({"linkId": "ready", "answer": [{"valueInteger": 11}]}, "range", "ready"),
        ({"linkId": "ready", "answer": [{"valueInteger": 3}, {"valueInteger": 4}]},
         "too-many-answers", "ready"),
        ({"linkId": "withdrawal", "answer": [{"valueCoding": {"code": SECRET}}]}, "unknown-code",
         "withdrawal"),
        ({"linkId": "note_code", "answer": [{"valueString": SECRET}]}, "max-length", "note_code"),
        ({"linkId": "last_use", "answer": [{"valueDate": "2026-02-30"}]},
         "date_from_datetime_parsing", "last_use"),
        ({"linkId": "ready", "answer": [{"valueInteger": SECRET}]}, "int_parsing", "ready"),
        ({"linkId": "scale", "item": [{"linkId": "scale.q3", "answer": [{"valueCoding": {
            "system": "http://loinc.org", "code": "LA1", "extension": [
                {"url": ORDINAL_VALUE, "valueDecimal": 3}]}}]}]}, "unknown-weight", "scale.q3"),
        ({"linkId": "scale", "item": [{"linkId": "scale.q1", "answer": [{"valueCoding": {
            "code": "2", "extension": [{"url": ORDINAL_VALUE, "valueDecimal": 3}]}}]}]},
         "weight-mismatch", "scale.q1"),
        ({"linkId": "scale", "answer": [{"valueInteger": 1}]}, "wrong-answer-type", "scale"),
    ],
)  # fmt: skip
def test_bad_answers_name_the_link_id_never_the_value(
    mini: Ruleset, item: dict[str, Any], code: str, link_id: str
) -> None:
    problems = _problems(mini, _response(item))
    assert [found[1] for found in problems] == [code]
    assert f"linkId '{link_id}'" in problems[0][2]
    assert problems[0][0].startswith("QuestionnaireResponse.item[0]")


def test_an_item_answered_twice_is_refused(mini: Ruleset) -> None:
    item = {"linkId": "ready", "answer": [{"valueInteger": 3}]}
    assert [p[1] for p in _problems(mini, _response(item, item))] == ["repeated-item"]


def test_items_nested_under_answers_are_found(intake: Ruleset) -> None:
    applicant = json.loads((REPO / "examples/applicants/admit.json").read_text())
    response = to_questionnaire_response(applicant, intake)
    first, *rest = response["item"]
    first["answer"][0]["item"] = rest[:3]
    response["item"] = [first, *rest[3:]]
    with pytest.raises(InvalidApplicant, match="takes no items nested under its answer"):
        from_questionnaire_response(response, intake)


def test_wrong_resource_type_and_invalid_resources(mini: Ruleset) -> None:
    assert _problems(mini, {"resourceType": "Patient", "name": [{"text": SECRET}]}) == [
        ("QuestionnaireResponse.resourceType", "wrong-resource-type",
         "the resource must be a QuestionnaireResponse"),
    ]  # fmt: skip
    item = {"linkId": "ready", "answer": [{"valueInteger": SECRET}]}
    problems = _problems(mini, {"resourceType": "QuestionnaireResponse", "item": [item]})
    assert problems and all(path.startswith("QuestionnaireResponse.") for path, _, _ in problems)
    assert _problems(mini, ["not", "a", "resource"])[0][1] == "type"


def _nested_contained(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {"resourceType": "Patient", "name": [{"text": SECRET}]}
    for _ in range(depth):
        inner = {"resourceType": "Patient", "contained": [inner]}
    return inner


@pytest.mark.parametrize(
    ("contained", "expected"),
    [([{"resourceType": "X"}], [("QuestionnaireResponse.contained[0].resourceType",
                                 "unknown-resource-type")]),
     ([{"resourceType": SECRET}], [("QuestionnaireResponse.contained[0].resourceType",
                                    "unknown-resource-type")]),
     ([{"resourceType": "Patient"}, {"resourceType": "Quantity"}],
      [("QuestionnaireResponse.contained[1].resourceType", "unknown-resource-type")]),
     ([{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
         "resourceType": "DomainResource"}}]}],
      [("QuestionnaireResponse.contained[0].entry[0].resource.resourceType",
        "unknown-resource-type")]),
     ([{"resourceType": 7}], [("QuestionnaireResponse.contained[0].resourceType",
                               "unknown-resource-type")]),
     ([_nested_contained(500)], [("QuestionnaireResponse", "invalid")])],
)  # fmt: skip
def test_contained_resources_of_unknown_types_are_refused_with_a_path(
    mini: Ruleset, contained: list[Any], expected: list[tuple[str, str]]
) -> None:
    response = {**to_questionnaire_response(COMPLETE_MINI, mini), "contained": contained}
    with pytest.raises(InvalidApplicant) as error:
        from_questionnaire_response(response, mini)
    assert [(p.path, p.code) for p in error.value.problems] == expected
    assert SECRET not in str(error.value)


def test_known_contained_resources_are_accepted(mini: Ruleset) -> None:
    response = to_questionnaire_response(COMPLETE_MINI, mini)
    contained = [{"resourceType": "Patient", "id": "p"}, {"resourceType": "Practitioner"}]
    _same_decision(mini, COMPLETE_MINI, {**response, "contained": contained})


def test_status_and_questionnaire_are_checked(mini: Ruleset) -> None:
    response = to_questionnaire_response(COMPLETE_MINI, mini)
    assert [p[1] for p in _problems(mini, {**response, "status": "entered-in-error"})] == [
        "entered-in-error"
    ]
    other = {**response, "questionnaire": response["questionnaire"].replace("/mini|", "/other|")}
    assert [p[1] for p in _problems(mini, other)] == ["wrong-questionnaire"]


def test_missing_fhir_extra_is_a_clear_error(
    mini: Ruleset, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", unavailable)
    with pytest.raises(MissingExtra, match=r'pip install "\.\[fhir\]"'):
        from_questionnaire_response(_response(), mini)


def test_evaluate_accepts_a_questionnaire_response_file(
    intake: Ruleset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    applicant = json.loads((REPO / "examples/applicants/refer-safety.json").read_text())
    path = tmp_path / "response.json"
    path.write_text(json.dumps(to_questionnaire_response(applicant, intake)))
    assert (
        main(
            [
                "evaluate",
                str(path),
                "--format",
                "json",
                "--ruleset",
                f"{intake.id}@{intake.version}",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == intake.evaluate(applicant).to_json()


def test_evaluate_reports_a_bad_response_without_its_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "response.json"
    path.write_text(json.dumps(_response({"linkId": "phq9", "item": [
        {"linkId": "phq9.q9", "answer": [{"valueString": SECRET}]}]})))  # fmt: skip
    assert main(["evaluate", str(path)]) == 2
    error = capsys.readouterr().err
    assert "linkId 'phq9.q9'" in error
    assert SECRET not in error


@pytest.mark.parametrize(
    ("response", "applicant"),
    [("questionnaire-response-refer.json", "refer-safety.json"),
     ("questionnaire-response-admit.json", "admit.json")],
)  # fmt: skip
def test_shipped_fhir_examples_match_their_applicants(
    intake: Ruleset, response: str, applicant: str
) -> None:
    fhir = REPO / "examples" / "fhir"
    plain = json.loads((REPO / "examples" / "applicants" / applicant).read_text())
    _same_decision(intake, plain, json.loads((fhir / response).read_text()))
    if response == "questionnaire-response-refer.json":
        hook = json.loads((fhir / "hook-request.json").read_text())
        assert hook["prefetch"]["questionnaireResponse"] == json.loads(
            (fhir / response).read_text()
        )


@pytest.mark.parametrize("name", ["refer", "admit"])
def test_the_1_1_fhir_examples_match_their_applicants(name: str) -> None:
    """examples/fhir/intake-1.1: what docs/interchange.md posts to the service (1.1.0)."""
    newest = load_ruleset("peer-support-intake@1.1.0")
    fhir = REPO / "examples" / "fhir" / "intake-1.1"
    applicant_name = "refer-safety.json" if name == "refer" else "admit.json"
    plain = json.loads((REPO / "examples/applicants/intake-1.1" / applicant_name).read_text())
    response = json.loads((fhir / f"questionnaire-response-{name}.json").read_text())
    assert response["status"] == "completed"
    assert response["questionnaire"].endswith("|1.1.0")
    _same_decision(newest, plain, response)
    expected = to_questionnaire_response(
        plain, newest, subject="Patient/example", resource_id=f"qr-{name}-1-1",
        authored="2026-11-25T09:30:00Z",
    )  # fmt: skip
    assert response == expected  # regenerated whenever the mapping changes
    if name == "refer":
        hook = json.loads((fhir / "hook-request.json").read_text())
        assert hook["prefetch"]["questionnaireResponse"] == response


def test_the_core_needs_no_interchange_dependency() -> None:
    code = (
        "import sys\n"
        "for name in ('fhir', 'fhir.resources', 'starlette', 'uvicorn'): sys.modules[name] = None\n"
        "from recovery_screening import load_ruleset\n"
        "from recovery_screening.cli import main\n"
        "decision = load_ruleset('peer-support-intake').evaluate({})\n"
        "decision.explain(); decision.to_json()\n"
        "sys.exit(main(['evaluate', 'examples/applicants/intake-1.1/admit.json']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Outcome: ADMIT")


MINI_V2 = REPO / "tests" / "fixtures" / "rulesets" / "mini-v2" / "1.0.0.yaml"


@settings(max_examples=40)
@given(data=st.data())
def test_v2_generated_applicants_map_back(data: st.DataObject) -> None:
    ruleset = ruleset_at(MINI_V2)
    applicant = data.draw(applicants(ruleset, missing=0.2))
    response = to_questionnaire_response(applicant, ruleset)
    assert response.get("authored") == applicant.get("screening_date")
    choice = data.draw(st.integers(0, 3))
    _same_decision(ruleset, applicant, _rewrite_scored(response, choice))


def test_v2_authored_is_the_screening_date() -> None:
    ruleset = ruleset_at(MINI_V2)
    applicant = {"withdrawal": "none", "ready": 8, "trained_on": "2026-02-01"}
    response = to_questionnaire_response(applicant, ruleset)
    assert "authored" not in response
    assert "screening_date" not in from_questionnaire_response(response, ruleset)
    response["authored"] = "2026-01-10T09:30:00+01:00"
    mapped = from_questionnaire_response(response, ruleset)
    assert mapped["screening_date"] == "2026-01-10"
    assert ruleset.evaluate(mapped).deciding == ("defer-training-in-future",)
    response["authored"] = "2026-01"  # a partial date gives no screening date
    assert "screening_date" not in from_questionnaire_response(response, ruleset)


def test_v1_ignores_authored(mini: Ruleset) -> None:
    response = to_questionnaire_response(COMPLETE_MINI, mini, authored="2026-01-10")
    assert from_questionnaire_response(response, mini) == COMPLETE_MINI


def test_v2_authored_and_a_different_screening_date_conflict() -> None:
    ruleset = ruleset_at(MINI_V2)
    with pytest.raises(InvalidApplicant) as raised:
        to_questionnaire_response(
            {"screening_date": "2026-01-10"}, ruleset, authored="2026-02-01T10:00:00Z"
        )
    assert list(raised.value.fields) == ["$.screening_date"]


def test_v2_loinc_answer_codes_and_instruction_items_are_read() -> None:
    ruleset = ruleset_at(MINI_V2)
    response = _response(
        {"linkId": "withdrawal", "answer": [{"valueCoding": {"code": "none"}}]},
        {
            "linkId": "scale",
            "item": [
                {"linkId": "scale.instructions", "text": "Over the last 2 weeks..."},
                {"linkId": "scale.q1", "answer": [
                    {"valueCoding": {"system": "http://loinc.org", "code": "LA6570-1"}}]},
                {"linkId": "scale.q2", "answer": [
                    {"valueCoding": {"system": "http://loinc.org", "code": "LA32-8"}}]},
            ],
        },
    )  # fmt: skip
    assert from_questionnaire_response(response, ruleset) == {
        "withdrawal": "none",
        "scale": {"q1": 2, "q2": False},
    }
    response["item"][1]["item"][0]["answer"] = [{"valueString": SECRET}]
    assert [code for _, code, _ in _problems(ruleset, response)] == ["wrong-answer-type"]
