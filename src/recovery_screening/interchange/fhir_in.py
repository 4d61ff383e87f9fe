"""A FHIR QuestionnaireResponse → the plain applicant a ruleset evaluates.

Answers are found by `linkId` at any depth (groups, and items nested under answers). An item
without an answer is missing, never false. Every problem names the item's place and linkId and
never the answer: an unknown linkId, an answer of the wrong type, a code that is not one of the
item's options, more than one answer, or an answer outside the input's declared range.
For a format v2 ruleset the response's `authored` date (its first ten characters, YYYY-MM-DD, as
written: no time zone is applied) becomes the reserved `screening_date`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.compiler import SCREENING_DATE
from recovery_screening.document.names import quoted_name, shown_name
from recovery_screening.errors import InvalidApplicant, Location, Problem
from recovery_screening.fields import FieldViolation
from recovery_screening.interchange._extras import (
    BASE_URL,
    WEIGHT_EXTENSIONS,
    fhir_model,
    require,
    validation_problems,
)
from recovery_screening.interchange.questionnaire import AnswerOption, ItemSpec, form_spec

if TYPE_CHECKING:
    from recovery_screening.ruleset import Ruleset

RESOURCE = "QuestionnaireResponse"
_EXPECTED = {
    "boolean": ("valueBoolean",),
    "integer": ("valueInteger",),
    "decimal": ("valueDecimal",),
    "string": ("valueString",),
    "date": ("valueDate",),
    "choice": ("valueCoding",),
}
_QUESTIONNAIRE_PREFIX = f"{BASE_URL}/Questionnaire/"


def _link(link_id: object) -> str:
    shown = shown_name(link_id)
    return "a linkId that is withheld" if shown is None else f"linkId '{shown}'"


class _Reader:
    """One mapping: walks the items, collects answers and problems."""

    def __init__(self, ruleset: Ruleset) -> None:
        self.ruleset = ruleset
        self.form = form_spec(ruleset)
        self.problems: list[Problem] = []
        self.values: dict[str, tuple[ItemSpec, Any]] = {}
        self.seen: set[str] = set()

    def problem(self, path: Location, code: str, link_id: object, message: str) -> None:
        self.problems.append(Problem(path, code, f"{_link(link_id)}: {message}", RESOURCE))

    def walk(self, items: Any, path: Location) -> None:
        if not isinstance(items, Sequence) or isinstance(items, str):
            return
        for index, item in enumerate(items):
            where = (*path, index)
            if not isinstance(item, Mapping):
                continue
            link_id = item.get("linkId")
            answers = item.get("answer") or []
            if link_id in self.form.display_link_ids:
                if answers:
                    self.problem(
                        (*where, "answer"),
                        "wrong-answer-type",
                        link_id,
                        "a display item takes no answer",
                    )
                continue
            if link_id in self.form.group_link_ids:
                if answers:
                    self.problem(
                        (*where, "answer"), "wrong-answer-type", link_id, "a group takes no answer"
                    )
                self.walk(item.get("item"), (*where, "item"))
                continue
            self.question(item, where, link_id, answers)

    def question(
        self, item: Mapping[str, Any], where: Location, link_id: Any, answers: Any
    ) -> None:
        """One question item: known, not repeated, at most one answer, nothing nested."""
        spec = self.form.by_link_id.get(link_id) if isinstance(link_id, str) else None
        if spec is None:
            self.problem(
                (*where, "linkId"),
                "unknown-link-id",
                link_id,
                f"not an item of the {self.ruleset.id} {self.ruleset.version} questionnaire",
            )
            return
        if spec.link_id in self.seen:
            self.problem(where, "repeated-item", link_id, "the item appears more than once")
            return
        self.seen.add(spec.link_id)
        if item.get("item"):
            self.problem(
                (*where, "item"), "unknown-link-id", link_id, "a question takes no nested items"
            )
        if len(answers) > 1:
            self.problem(
                (*where, "answer"),
                "too-many-answers",
                link_id,
                "more answers than allowed (at most one)",
            )
            return
        for answer_index, answer in enumerate(answers):
            answer_path = (*where, "answer", answer_index)
            if isinstance(answer, Mapping) and answer.get("item"):
                self.problem(
                    (*answer_path, "item"),
                    "unknown-link-id",
                    link_id,
                    "this question takes no items nested under its answer",
                )
            value = self.answer(spec, answer, answer_path)
            if value is not None:
                self.values[spec.field.name] = (spec, value)

    def answer(self, spec: ItemSpec, answer: Any, path: Location) -> Any:
        if not isinstance(answer, Mapping):
            return None
        kinds = [key for key in answer if key.startswith("value")]
        expected = list(_EXPECTED[spec.item_type])
        if spec.options and spec.field.kind in ("boolean", "integer"):
            expected.append("valueBoolean" if spec.field.kind == "boolean" else "valueInteger")
        if len(kinds) != 1 or kinds[0] not in expected:
            found = (
                quoted_name(kinds[0], "a value key that is withheld")
                if len(kinds) == 1
                else "no single value[x]"
            )
            self.problem(
                path,
                "wrong-answer-type",
                spec.link_id,
                f"a {spec.item_type} item is answered with {found}; expected "
                f"{' or '.join(expected)}",
            )
            return None
        kind = kinds[0]
        raw = answer[kind]
        if kind == "valueCoding":
            value = self.coded(spec, answer, raw, path)
        elif kind == "valueInteger":
            value = raw if type(raw) is int else self.mistyped(spec, path, kind)
        elif kind == "valueDecimal":
            value = raw if type(raw) in (int, float) else self.mistyped(spec, path, kind)
        elif kind == "valueBoolean":
            value = raw if type(raw) is bool else self.mistyped(spec, path, kind)
        else:
            value = raw if type(raw) is str else self.mistyped(spec, path, kind)
        if value is None:
            return None
        try:
            spec.field.convert(value)
        except FieldViolation as violation:
            self.problem(path, violation.code, spec.link_id, violation.message)
            return None
        return value

    def mistyped(self, spec: ItemSpec, path: Location, kind: str) -> Any:
        self.problem(
            (*path, kind),
            "wrong-answer-type",
            spec.link_id,
            f"{kind} does not hold a value of that type",
        )

    def coded(self, spec: ItemSpec, answer: Mapping[str, Any], coding: Any, path: Location) -> Any:
        if not isinstance(coding, Mapping):
            self.mistyped(spec, path, "valueCoding")
            return None
        weight = _weight(coding.get("extension"))
        if weight is None:
            weight = _weight(answer.get("extension"))
        system, code = coding.get("system"), coding.get("code")
        by_code: AnswerOption | None = next(
            (
                option
                for option in spec.options
                if option.code == code and system in (None, option.system)
            ),
            None,
        )
        if by_code is not None:
            if weight is not None and by_code.weight is not None and weight != by_code.weight:
                self.problem(
                    (*path, "valueCoding"),
                    "weight-mismatch",
                    spec.link_id,
                    "the answer's weight does not match its code",
                )
                return None
            return by_code.value
        if weight is not None and spec.scored:
            weighted = [option for option in spec.options if option.weight == weight]
            if len(weighted) == 1:
                return weighted[0].value
            self.problem(
                (*path, "valueCoding"),
                "unknown-weight",
                spec.link_id,
                "the answer's weight matches no single answer option",
            )
            return None
        self.problem(
            (*path, "valueCoding"),
            "unknown-code",
            spec.link_id,
            "the coding is not one of the item's answer options"
            + (" and carries no weight" if spec.scored else ""),
        )
        return None

    def applicant(self) -> dict[str, Any]:
        applicant: dict[str, Any] = {}
        for spec, value in self.values.values():
            group = self.form_alias(spec)
            if group is None:
                applicant[spec.key] = value
            else:
                applicant.setdefault(group, {})[spec.key] = value
        return applicant

    def form_alias(self, spec: ItemSpec) -> str | None:
        return spec.group if self.ruleset.kind == "screening" else None


def _weight(extensions: Any) -> float | None:
    if not isinstance(extensions, Sequence) or isinstance(extensions, str):
        return None
    for extension in extensions:
        if isinstance(extension, Mapping) and extension.get("url") in WEIGHT_EXTENSIONS:
            for key in ("valueDecimal", "valueInteger"):
                value = extension.get(key)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    return float(value)
    return None


_ELEMENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_MODEL_FAILURES = (KeyError, IndexError, TypeError, AttributeError, RecursionError)
"""What fhir.resources' validators raise, instead of a ValidationError, on some hostile input
(a contained resource of an unknown type is a KeyError inside the model)."""


def _is_resource_type(kind: object) -> bool:
    """Whether `kind` names an R4B resource (not a data type, not an abstract base)."""
    if not isinstance(kind, str) or not _ELEMENT_NAME.match(kind) or kind in _ABSTRACT:
        return False
    resources = require("fhir.resources.R4B", "fhir")
    base = require("fhir.resources.R4B.resource", "fhir").Resource
    try:
        model = resources.get_fhir_model_class(kind)
    except (ValueError, KeyError, ImportError):
        return False
    return isinstance(model, type) and issubclass(model, base)


_ABSTRACT = frozenset({"Resource", "DomainResource"})


def _resource_type_problems(document: Mapping[str, Any]) -> list[Problem]:
    """A problem for every nested `resourceType` (contained resources, and resources inside
    them) that names no R4B resource: fhir.resources fails on those with a KeyError."""
    problems: list[Problem] = []
    pending: list[tuple[Any, Location]] = [(document, ())]
    while pending:
        node, path = pending.pop()
        if isinstance(node, Mapping):
            nested = path != () and "resourceType" in node
            if nested and not _is_resource_type(node["resourceType"]):
                problems.append(
                    Problem(
                        (*path, "resourceType"),
                        "unknown-resource-type",
                        "not the name of a FHIR R4 resource type",
                        RESOURCE,
                    )
                )
            for key, value in node.items():
                # other keys are not FHIR elements: the model refuses them itself
                element = isinstance(key, str) and _ELEMENT_NAME.match(key) is not None
                if element and isinstance(value, (Mapping, list)):
                    pending.append((value, (*path, key)))
        elif isinstance(node, list):
            pending.extend((item, (*path, index)) for index, item in enumerate(node))
    return sorted(problems, key=lambda problem: problem.path)


def _as_json(response: Any) -> Any:
    if isinstance(response, Mapping):
        return response
    dump = getattr(response, "model_dump_json", None)
    if callable(dump):
        return json.loads(dump())
    return None


def from_questionnaire_response(response: Any, ruleset: Ruleset) -> dict[str, Any]:
    """Map a QuestionnaireResponse (parsed JSON or a fhir.resources model) to an applicant.

    Raises InvalidApplicant naming each bad item by place and linkId, never by value.
    Needs the `fhir` extra: the response is first checked against the R4B model.
    """
    subject = f"{ruleset.id} {ruleset.version}"
    document = _as_json(response)
    if not isinstance(document, Mapping):
        raise InvalidApplicant(subject, [Problem((), "type", "not a FHIR resource (JSON object)")])
    if document.get("resourceType") != RESOURCE:
        raise InvalidApplicant(
            subject,
            [
                Problem(
                    ("resourceType",),
                    "wrong-resource-type",
                    f"the resource must be a {RESOURCE}",
                    RESOURCE,
                )
            ],
        )
    model = fhir_model(RESOURCE)
    pydantic = require("pydantic", "fhir")
    unknown = _resource_type_problems(document)
    if unknown:
        raise InvalidApplicant(subject, unknown)
    try:
        model.model_validate(document)
    except pydantic.ValidationError as error:
        raise InvalidApplicant(subject, validation_problems(error, RESOURCE, document)) from None
    except _MODEL_FAILURES:
        raise InvalidApplicant(
            subject, [Problem((), "invalid", f"not a valid FHIR {RESOURCE}", RESOURCE)]
        ) from None
    problems: list[Problem] = []
    if document.get("status") == "entered-in-error":
        problems.append(
            Problem(
                ("status",),
                "entered-in-error",
                "a response entered in error cannot be screened",
                RESOURCE,
            )
        )
    questionnaire = document.get("questionnaire")
    if isinstance(questionnaire, str) and questionnaire.startswith(_QUESTIONNAIRE_PREFIX):
        answered = questionnaire[len(_QUESTIONNAIRE_PREFIX) :].split("|")[0]
        if answered != ruleset.id:
            problems.append(
                Problem(
                    ("questionnaire",),
                    "wrong-questionnaire",
                    f"answers the questionnaire of another ruleset, not {ruleset.id}",
                    RESOURCE,
                )
            )
    reader = _Reader(ruleset)
    reader.walk(document.get("item"), ("item",))
    problems.extend(reader.problems)
    if problems:
        raise InvalidApplicant(subject, problems)
    applicant = reader.applicant()
    screening_date = _screening_date(ruleset, document.get("authored"))
    if screening_date is not None:
        applicant[SCREENING_DATE] = screening_date
    return applicant


def _screening_date(ruleset: Ruleset, authored: Any) -> str | None:
    """v2: the date part of `authored` when it gives a whole date; None otherwise."""
    field = ruleset.compiled.inputs.top.get(SCREENING_DATE)
    if field is None or not field.reserved or not isinstance(authored, str):
        return None
    day = authored[:10]
    try:
        field.convert(day)
    except FieldViolation:
        return None  # a year or a year-month: no screening date
    return day


__all__ = ["from_questionnaire_response"]
