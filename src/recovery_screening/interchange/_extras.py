"""Optional dependencies, imported only when an interchange feature is used."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from recovery_screening.document.names import host_key, shown_name
from recovery_screening.errors import Location, MissingExtra, Part, Problem, _ProblemsError

BASE_URL = "https://recovery-screening.invalid/fhir"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
QUESTIONNAIRE_ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/questionnaire-ordinalValue"
WEIGHT_EXTENSIONS = (ITEM_WEIGHT, ORDINAL_VALUE, QUESTIONNAIRE_ORDINAL_VALUE)
LOINC = "http://loinc.org"


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise MissingExtra naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(extra, module.split(".")[0]) from None


def fhir_model(resource_type: str) -> Any:
    """The fhir.resources R4B model class for `resource_type` (e.g. `RiskAssessment`)."""
    module = require(f"fhir.resources.R4B.{resource_type.lower()}", "fhir")
    return getattr(module, resource_type)


def _link_id_at(document: Any, location: tuple[Any, ...]) -> str | None:
    """The linkId of the innermost item on the way to `location` in `document`."""
    found = None
    node = document
    for part in location:
        if isinstance(node, Mapping) and isinstance(node.get("linkId"), str):
            found = node["linkId"]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    return found


def _location(document: Any, location: tuple[Any, ...]) -> Location:
    """A pydantic location as location parts; a key whose name may not be shown is placed by
    its position among its object's keys."""
    parts: list[Part] = []
    node = document
    for part in location:
        if isinstance(part, int):
            parts.append(part)
        else:
            keys = list(node) if isinstance(node, Mapping) else []
            parts.append(host_key(part, keys.index(part) + 1 if part in keys else None))
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(parts)


def validation_problems(
    error: Exception, resource_type: str, document: Any = None
) -> list[Problem]:
    """A pydantic ValidationError as problems with FHIR paths, codes and linkIds, never values."""
    errors = getattr(error, "errors", None)
    if not callable(errors):
        return [Problem((), "invalid", f"not a valid FHIR {resource_type}", resource_type)]
    problems = []
    for found in errors(include_input=False, include_url=False, include_context=False):
        location = tuple(found.get("loc", ()))
        code = str(found.get("type", "invalid"))
        message = f"not a valid FHIR {resource_type} here ({code})"
        link_id = _link_id_at(document, location)
        if link_id is not None:
            shown = shown_name(link_id)
            named = "a linkId that is withheld" if shown is None else f"linkId '{shown}'"
            message = f"{named}: {message}"
        problems.append(Problem(_location(document, location), code, message, resource_type))
    return problems


class InvalidResource(_ProblemsError):
    """A FHIR resource does not validate under the R4B models. Problems name paths, not values."""

    def _headline(self) -> str:
        return f"not a valid FHIR {self.subject}:"


def validated(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Check a resource we built against its R4B model; return it unchanged (a JSON-ready dict)."""
    resource_type = str(resource["resourceType"])
    model = fhir_model(resource_type)
    pydantic = require("pydantic", "fhir")
    try:
        model.model_validate(resource)
    except pydantic.ValidationError as error:
        raise InvalidResource(resource_type, validation_problems(error, resource_type)) from None
    return dict(resource)
