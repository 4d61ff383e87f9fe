"""A ruleset's declared inputs as an R4 Questionnaire, and an applicant as a QuestionnaireResponse.

Every input becomes one item (`linkId` = the input's `fhir.link_id`, by default its name); each
instrument becomes a group of its items. Scored instrument items are `choice` items whose answer
options carry codes and R4's `ordinalValue` extension (the item's points), so a form can show them
and a QuestionnaireResponse can be scored by code or by weight. A format v2 instrument's answers
are coded with their LOINC answer codes where it gives them and shown with their labels, and its
instruction stem is a `display` item at the top of its group; v2 enum inputs show their value
labels. The reserved v2 `screening_date` is not asked: it is the response's `authored` date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recovery_screening.compiler import SCREENING_DATE, CompiledRuleset
from recovery_screening.document import plain_text
from recovery_screening.errors import InvalidApplicant, Problem, RulesetError
from recovery_screening.fields import InputField
from recovery_screening.instruments import CompiledInstrument
from recovery_screening.interchange._extras import BASE_URL, LOINC, ORDINAL_VALUE, validated
from recovery_screening.interchange._narrative import Narrative

if TYPE_CHECKING:
    from recovery_screening.ruleset import Ruleset

YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
_ITEM_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "number": "decimal",
    "enum": "choice",
    "string": "string",
    "date": "date",
}


@dataclass(frozen=True)
class AnswerOption:
    """One coded answer: the applicant value it stands for, and its weight when it is scored."""

    value: Any
    system: str
    code: str
    display: str
    weight: int | None

    def coding(self) -> dict[str, Any]:
        coding: dict[str, Any] = {"system": self.system, "code": self.code, "display": self.display}
        if self.weight is not None:
            coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": self.weight}]
        return coding


@dataclass(frozen=True)
class ItemSpec:
    """How one input appears in a Questionnaire and where its answer goes in an applicant."""

    field: InputField
    link_id: str
    item_type: str
    options: tuple[AnswerOption, ...]
    group: str | None
    key: str

    @property
    def scored(self) -> bool:
        return any(option.weight is not None for option in self.options)


@dataclass(frozen=True)
class GroupSpec:
    link_id: str
    alias: str | None
    instrument: CompiledInstrument
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class FormSpec:
    """The shape of a ruleset's Questionnaire: top-level items, then one group per instrument."""

    items: tuple[ItemSpec, ...]
    groups: tuple[GroupSpec, ...]
    by_link_id: Mapping[str, ItemSpec]
    group_link_ids: frozenset[str]
    display_link_ids: frozenset[str] = frozenset()
    """The linkIds of display items (v2 instruction stems): they take no answer."""


def questionnaire_url(ruleset_id: str) -> str:
    """The canonical URL of the Questionnaire generated for a ruleset id."""
    return f"{BASE_URL}/Questionnaire/{ruleset_id}"


def _display(value: Any) -> str:
    return str(value).replace("_", " ")


def _scored_options(
    field: InputField,
    owner: str,
    item_id: str,
    points: Callable[[Any], int],
    instrument: CompiledInstrument,
) -> tuple[AnswerOption, ...]:
    labels = instrument.option_labels.get(field.name, {})
    plain = _plain_scored_options(field, owner, item_id, points, labels)
    coded = instrument.answer_options.get(field.name)
    if not coded:
        return plain
    # v2: LOINC answer codes where the instrument gives them, and the answers' own texts
    defaults = {(type(option.value), option.value): option for option in plain}
    options = []
    for answer in coded:
        default = defaults[(type(answer.value), answer.value)]
        options.append(
            AnswerOption(
                answer.value,
                LOINC if answer.loinc else default.system,
                answer.loinc or default.code,
                answer.label or default.display,
                answer.score,
            )
        )
    return tuple(options)


def _plain_scored_options(
    field: InputField,
    owner: str,
    item_id: str,
    points: Callable[[Any], int],
    labels: Mapping[Any, str],
) -> tuple[AnswerOption, ...]:
    if field.kind == "boolean":
        return (
            AnswerOption(True, YES_NO, "Y", "Yes", points(True)),
            AnswerOption(False, YES_NO, "N", "No", points(False)),
        )
    system = f"{BASE_URL}/CodeSystem/{owner}/{item_id}"
    if field.values:
        values: tuple[Any, ...] = field.values
    else:
        values = tuple(range(int(field.minimum or 0), int(field.maximum or 0) + 1))
    return tuple(
        AnswerOption(value, system, str(value), labels.get(value, _display(value)), points(value))
        for value in values
    )


def _spec(
    field: InputField,
    owner: str,
    item_id: str,
    key: str,
    group: str | None,
    instrument: CompiledInstrument | None,
) -> ItemSpec:
    if instrument is not None:
        points = dict(instrument.points)[field.name]
        options = _scored_options(field, owner, item_id, points, instrument)
        return ItemSpec(field, field.link_id, "choice", options, group, key)
    options = ()
    if field.kind == "enum":
        system = f"{BASE_URL}/CodeSystem/{owner}/{item_id}"
        options = tuple(
            AnswerOption(value, system, str(value), field.label_of(value) or _display(value), None)
            for value in field.values
        )
    return ItemSpec(field, field.link_id, _ITEM_TYPES[field.kind], options, group, key)


def form_spec(ruleset: Ruleset) -> FormSpec:
    """Work out every item of the ruleset's Questionnaire; linkIds must be unique."""
    compiled = ruleset.compiled
    items: list[ItemSpec] = []
    groups: list[GroupSpec] = []
    if compiled.kind == "instrument":
        instrument = compiled.instruments[0]
        specs = tuple(
            _spec(field, instrument.id, field.name, field.name, instrument.id, instrument)
            for field in instrument.fields
        )
        groups.append(GroupSpec(instrument.id, None, instrument, specs))
    else:
        items.extend(
            _spec(field, compiled.id, name, name, None, None)
            for name, field in compiled.inputs.top.items()
            if not field.reserved
        )
        for instrument in compiled.instruments:
            specs = tuple(
                _spec(field, instrument.id, field.item, field.item, instrument.alias, instrument)
                for field in instrument.fields
            )
            groups.append(GroupSpec(instrument.alias, instrument.alias, instrument, specs))
    by_link_id: dict[str, ItemSpec] = {}
    problems = []
    group_ids = {group.link_id for group in groups}
    for spec in [*items, *(spec for group in groups for spec in group.items)]:
        if spec.link_id in by_link_id or spec.link_id in group_ids:
            problems.append(
                Problem(
                    ("inputs", spec.field.name, "fhir", "link_id"),
                    "duplicate-link-id",
                    f"linkId '{spec.link_id}' is used by more than one item or group",
                )
            )
        by_link_id[spec.link_id] = spec
    displays = {
        _instructions_link_id(group.link_id)
        for group in groups
        if group.instrument.instructions is not None
    }
    for link_id in sorted(displays & (set(by_link_id) | group_ids)):
        problems.append(
            Problem(
                ("instruments",),
                "duplicate-link-id",
                f"linkId '{link_id}' of an instruction stem is also an item's or group's",
            )
        )
    if problems:
        raise RulesetError(f"{compiled.id} {compiled.version}", problems)
    return FormSpec(
        tuple(items), tuple(groups), by_link_id, frozenset(group_ids), frozenset(displays)
    )


def _instructions_link_id(group_link_id: str) -> str:
    return f"{group_link_id}.instructions"


def _machine_name(ruleset_id: str) -> str:
    return "".join(part.capitalize() for part in ruleset_id.replace("_", "-").split("-"))


def _bounds(field: InputField) -> list[dict[str, Any]]:
    value_key = "valueInteger" if field.kind == "integer" else "valueDecimal"
    extensions = []
    if field.minimum is not None:
        minimum = int(field.minimum) if field.kind == "integer" else field.minimum
        extensions.append({"url": MIN_VALUE, value_key: minimum})
    if field.maximum is not None:
        maximum = int(field.maximum) if field.kind == "integer" else field.maximum
        extensions.append({"url": MAX_VALUE, value_key: maximum})
    return extensions


def _item(spec: ItemSpec) -> dict[str, Any]:
    field = spec.field
    item: dict[str, Any] = {"linkId": spec.link_id}
    if field.loinc:
        item["code"] = [{"system": LOINC, "code": field.loinc}]
    item["text"] = plain_text(field.label)
    item["type"] = spec.item_type
    item["required"] = field.must_answer
    if spec.options:
        item["answerOption"] = [{"valueCoding": option.coding()} for option in spec.options]
    if field.kind == "string" and field.max_length:
        item["maxLength"] = field.max_length
    if field.kind in ("integer", "number") and not spec.options:
        bounds = _bounds(field)
        if bounds:
            item["extension"] = bounds
    return item


def to_fhir_questionnaire(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset's inputs as an R4 Questionnaire (JSON-ready), checked against the R4B models."""
    compiled = ruleset.compiled
    form = form_spec(ruleset)
    questionnaire: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": compiled.id,
        "url": questionnaire_url(compiled.id),
        "identifier": [
            {"system": f"{BASE_URL}/ruleset-content-hash", "value": compiled.content_hash}
        ],
        "version": compiled.version,
        "name": _machine_name(compiled.id),
        "title": compiled.title,
        "status": "active",
        "subjectType": ["Patient"],
    }
    if compiled.description:
        questionnaire["description"] = plain_text(compiled.description)
    if compiled.kind == "instrument" and "panel" in compiled.instruments[0].loinc:
        questionnaire["code"] = [{"system": LOINC, "code": compiled.instruments[0].loinc["panel"]}]
    items = [_item(spec) for spec in form.items]
    for group in form.groups:
        entry: dict[str, Any] = {"linkId": group.link_id}
        if "panel" in group.instrument.loinc:
            entry["code"] = [{"system": LOINC, "code": group.instrument.loinc["panel"]}]
        group_items = [_item(spec) for spec in group.items]
        if group.instrument.instructions is not None:
            stem = {
                "linkId": _instructions_link_id(group.link_id),
                "text": plain_text(group.instrument.instructions),
                "type": "display",
            }
            group_items.insert(0, stem)
        entry.update(
            text=f"{group.instrument.title} ({group.instrument.id} {group.instrument.version})",
            type="group",
            item=group_items,
        )
        items.append(entry)
    questionnaire["item"] = items
    copyright_text = _copyright(compiled)
    if copyright_text:
        questionnaire["copyright"] = copyright_text
    questionnaire["text"] = _questionnaire_narrative(questionnaire)
    return validated(_text_first(questionnaire))


def _text_first(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with `text` after its id, where FHIR's own examples place it."""
    ordered: dict[str, Any] = {
        key: resource[key] for key in ("resourceType", "id", "meta") if key in resource
    }
    ordered["text"] = resource["text"]
    ordered.update((key, value) for key, value in resource.items() if key not in ordered)
    return ordered


def _question_line(item: Mapping[str, Any]) -> str | tuple[str, list[str]]:
    text = str(item["text"]) + (" (required)" if item.get("required") else "")
    answers = [str(option["valueCoding"]["display"]) for option in item.get("answerOption", [])]
    if item["type"] == "boolean":
        answers = ["Yes", "No"]
    return (text, answers) if answers else text


def _questionnaire_narrative(questionnaire: Mapping[str, Any]) -> dict[str, str]:
    """The title, description, every question with the answers it offers, and the copyright."""
    title, version = questionnaire["title"], questionnaire["version"]
    narrative = Narrative().heading(f"{title} (version {version})")
    if "description" in questionnaire:
        narrative.paragraph(str(questionnaire["description"]))
    lines: list[str | tuple[str, list[str]]] = []
    for item in questionnaire["item"]:
        if item["type"] != "group":
            lines.append(_question_line(item))
            continue
        inner = []
        for entry in item["item"]:
            line = _question_line(entry)
            inner.append(line if isinstance(line, str) else f"{line[0]}: {' / '.join(line[1])}")
        lines.append((str(item["text"]), inner))
    narrative.items(lines)
    if "copyright" in questionnaire:
        narrative.paragraph(str(questionnaire["copyright"]), label="Copyright")
    return narrative.resource_text()


def _copyright(compiled: CompiledRuleset) -> str | None:
    """The instruments' copyright statements (v2 `licence.copyright`), one paragraph each; an
    instrument's own Questionnaire carries its statement as it is."""
    instruments = compiled.instruments
    if compiled.kind == "instrument":
        statement = instruments[0].licence.get("copyright")
        return plain_text(statement) if statement else None
    statements = [
        f"{instrument.title}: {plain_text(instrument.licence['copyright'])}"
        for instrument in instruments
        if instrument.licence.get("copyright")
    ]
    return "\n\n".join(statements) or None


def _answer(spec: ItemSpec, value: Any) -> dict[str, Any]:
    for option in spec.options:
        if type(option.value) is type(value) and option.value == value:
            return {"valueCoding": option.coding()}
    kind = spec.field.kind
    if kind == "boolean":
        return {"valueBoolean": value}
    if kind == "integer":
        return {"valueInteger": value}
    if kind == "number":
        return {"valueDecimal": value}
    if kind == "date":
        return {"valueDate": value}
    return {"valueString": value}


def _response_item(spec: ItemSpec, value: Any) -> dict[str, Any]:
    text = plain_text(spec.field.label)
    return {"linkId": spec.link_id, "text": text, "answer": [_answer(spec, value)]}


def to_questionnaire_response(
    applicant: Mapping[str, Any],
    ruleset: Ruleset,
    *,
    subject: str | None = None,
    resource_id: str | None = None,
    authored: str | None = None,
) -> dict[str, Any]:
    """A plain applicant as a QuestionnaireResponse to the ruleset's Questionnaire.

    The inverse of `from_questionnaire_response`: useful for testing a host or a hook service.
    Raises InvalidApplicant if the applicant breaks the input contract.
    """
    problems = ruleset.applicant_problems(applicant)
    if problems:
        raise InvalidApplicant(f"{ruleset.id} {ruleset.version}", problems)
    form = form_spec(ruleset)
    response: dict[str, Any] = {"resourceType": "QuestionnaireResponse"}
    if resource_id is not None:
        response["id"] = resource_id
    response["questionnaire"] = f"{questionnaire_url(ruleset.id)}|{ruleset.version}"
    response["status"] = "completed" if _complete(form, applicant) else "in-progress"
    if subject is not None:
        response["subject"] = {"reference": subject}
    screening_date = applicant.get(SCREENING_DATE) if _has_screening_date(ruleset) else None
    if authored is None and screening_date is not None:
        authored = screening_date
    elif authored is not None and screening_date is not None and authored[:10] != screening_date:
        raise InvalidApplicant(
            f"{ruleset.id} {ruleset.version}",
            [
                Problem(
                    (SCREENING_DATE,),
                    "conflict",
                    "the applicant's screening_date differs from the authored date",
                )
            ],
        )
    if authored is not None:
        response["authored"] = authored
    items = [
        _response_item(spec, applicant[spec.key])
        for spec in form.items
        if applicant.get(spec.key) is not None
    ]
    for group in form.groups:
        answers = applicant if group.alias is None else applicant.get(group.alias) or {}
        group_items = [
            _response_item(spec, answers[spec.key])
            for spec in group.items
            if answers.get(spec.key) is not None
        ]
        if group_items:
            items.append({"linkId": group.link_id, "item": group_items})
    if items:
        response["item"] = items
    return validated(response)


def _complete(form: FormSpec, applicant: Mapping[str, Any]) -> bool:
    """Whether every item the Questionnaire marks `required` has an answer."""
    if any(spec.field.must_answer and applicant.get(spec.key) is None for spec in form.items):
        return False
    for group in form.groups:
        answers = applicant if group.alias is None else applicant.get(group.alias) or {}
        for spec in group.items:
            if spec.field.must_answer and answers.get(spec.key) is None:
                return False
    return True


def _has_screening_date(ruleset: Ruleset) -> bool:
    field = ruleset.compiled.inputs.top.get(SCREENING_DATE)
    return field is not None and field.reserved


__all__ = ["form_spec", "questionnaire_url", "to_fhir_questionnaire", "to_questionnaire_response"]
