"""Declared inputs and score bands: the contract an applicant is checked against.

A field's `convert` checks one answer against its declaration and returns the value conditions
read; it raises `FieldViolation` with a code and a message that never quotes the answer.
"""

from __future__ import annotations

import datetime
import math
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from recovery_screening.errors import Location, Problem
from recovery_screening.expressions import (
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    STRING,
    ValueType,
    enum_type,
)

JsonScalar = bool | int | float | str | None
"""An answer (or a value derived from answers) as JSON: dates are ISO strings."""
DEFAULT_MAX_LENGTH = 64
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FieldViolation(Exception):
    """An answer breaks its field's declaration. Carries a rule code and a value-free message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Actionable:
    """v2: an answer the person can change, and which way is an improvement.

    `towards` is the improving value of a boolean or enum input (for an ordered enum, every value
    on the way to it is a step too); `grows_with_time` (`days` or `months`) marks a number that
    grows as time passes, such as days since last use. `step` says the change in plain words."""

    towards: Any = None
    grows_with_time: str | None = None
    step: str | None = None


DESCRIBES = ("state", "history", "identity")
"""v2 `describes`: what an answer is about. Only a `state` can be actionable."""


@dataclass(frozen=True)
class InputField:
    """One declared input (or instrument item) and how to check an answer to it."""

    name: str
    label: str
    kind: str
    value_type: ValueType
    required: bool
    safety_critical: bool
    direction: str | None
    minimum: float | None
    maximum: float | None
    values: tuple[Any, ...]
    max_length: int | None
    link_id: str
    loinc: str | None
    instrument: str | None
    """The alias of the instrument this item belongs to; None for a top-level input."""
    item: str
    """The key an applicant answers under: the input's name, or the item id within its alias."""
    convert: Callable[[Any], Any]
    value_labels: Mapping[Any, str] = field(default_factory=dict, compare=False)
    """v2: the display label of each answer value (enum values; True / False for booleans)."""
    reserved: bool = False
    """A name the format reserves (v2's `screening_date`): set by the host, not asked in forms."""
    describes: str | None = None
    """v2: `state`, `history` or `identity` (None when the ruleset does not say)."""
    actionable: Actionable | None = field(default=None, compare=False)
    """v2: how the person could change this answer, for next steps (None: they cannot)."""

    def label_of(self, value: object) -> str | None:
        """The display label of an answer value, if the ruleset gives one."""
        if not self.value_labels or value is None:
            return None
        return self.value_labels.get(value)

    @property
    def must_answer(self) -> bool:
        """A missing answer to this field prevents `admit`."""
        return self.required or self.safety_critical

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of one answer (null means not answered)."""
        schema: dict[str, Any] = {"title": self.label}
        if self.kind == "boolean":
            schema["type"] = ["boolean", "null"]
        elif self.kind in ("integer", "number"):
            schema["type"] = [self.kind, "null"]
            if self.values:
                schema["enum"] = [*self.values, None]
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "enum":
            schema["enum"] = [*self.values, None]
        elif self.kind == "string":
            schema.update(type=["string", "null"], maxLength=self.max_length)
        else:
            schema.update(type=["string", "null"], format="date")
        if self.required:
            schema["x-required"] = True
        if self.safety_critical:
            schema["x-safety-critical"] = True
        if self.direction:
            schema["x-direction"] = self.direction
        if self.value_labels:
            schema["x-value-labels"] = {
                _label_key(value): label for value, label in self.value_labels.items()
            }
        return schema


def _label_key(value: object) -> str:
    """A value as a `value_labels` key: booleans are written "true" / "false"."""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _range_message(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"must be between {_number(minimum)} and {_number(maximum)}"
    if minimum is not None:
        return f"must be at least {_number(minimum)}"
    return f"must be at most {_number(maximum)}"


def _number(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def _bounds(spec: Mapping[str, Any]) -> tuple[float, float, str]:
    """(low, high, the message for an answer outside them) of a numeric declaration."""
    minimum, maximum = spec.get("minimum"), spec.get("maximum")
    low = -math.inf if minimum is None else minimum
    high = math.inf if maximum is None else maximum
    bounded = minimum is not None or maximum is not None
    return low, high, _range_message(minimum, maximum) if bounded else ""


def _convert_boolean(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    def convert_boolean(answer: Any) -> Any:
        if answer is True or answer is False:
            return answer
        raise FieldViolation("type", "must be true or false")

    return convert_boolean


def _convert_integer(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    allowed = spec.get("allowed")
    if allowed is not None:
        allowed_set = frozenset(allowed)
        listed = ", ".join(str(value) for value in allowed)

        def convert_choice(answer: Any) -> Any:
            if type(answer) is not int:
                raise FieldViolation("type", "must be a whole number")
            if answer not in allowed_set:
                raise FieldViolation("allowed-values", f"must be one of {listed}")
            return answer

        return convert_choice
    low, high, out_of_range = _bounds(spec)

    def convert_integer(answer: Any) -> Any:
        if type(answer) is not int:
            raise FieldViolation("type", "must be a whole number")
        if not low <= answer <= high:
            raise FieldViolation("range", out_of_range)
        return answer

    return convert_integer


def _convert_number(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    low, high, out_of_range = _bounds(spec)

    def convert_number(answer: Any) -> Any:
        kind_of = type(answer)
        if kind_of is not int and kind_of is not float:
            raise FieldViolation("type", "must be a number")
        if kind_of is float and not math.isfinite(answer):
            raise FieldViolation("type", "must be a finite number")
        if not low <= answer <= high:
            raise FieldViolation("range", out_of_range)
        return answer

    return convert_number


def _convert_enum(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    values = tuple(spec["values"])
    value_set = frozenset(values)
    listed = ", ".join(values)

    def convert_enum(answer: Any) -> Any:
        if type(answer) is not str or answer not in value_set:
            raise FieldViolation("allowed-values", f"allowed values are {listed}")
        return answer

    return convert_enum


def _convert_string(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    limit = int(spec.get("max_length", DEFAULT_MAX_LENGTH))

    def convert_string(answer: Any) -> Any:
        if type(answer) is not str:
            raise FieldViolation("type", "must be text")
        if len(answer) > limit:
            raise FieldViolation("max-length", f"must be at most {limit} characters")
        return answer

    return convert_string


def _convert_date(spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    def convert_date(answer: Any) -> Any:
        if type(answer) is not str or not _ISO_DATE.match(answer):
            raise FieldViolation("type", "must be a date written YYYY-MM-DD")
        try:
            return datetime.date.fromisoformat(answer)
        except ValueError:
            raise FieldViolation("type", "must be a real calendar date (YYYY-MM-DD)") from None

    return convert_date


_CONVERTERS: dict[str, Callable[[Mapping[str, Any]], Callable[[Any], Any]]] = {
    "boolean": _convert_boolean,
    "integer": _convert_integer,
    "number": _convert_number,
    "enum": _convert_enum,
    "string": _convert_string,
    "date": _convert_date,
}


def _converter(kind: str, spec: Mapping[str, Any]) -> Callable[[Any], Any]:
    """The function that checks one answer to a declaration of `kind` and returns its value."""
    return _CONVERTERS[kind](spec)


def make_field(
    name: str, spec: Mapping[str, Any], *, instrument: str | None = None, reserved: bool = False
) -> InputField:
    """Build a field from its declaration (`inputs.<name>` in a ruleset, or an instrument item)."""
    kind = spec["type"]
    if kind == "enum":
        value_type = enum_type(spec["values"], ordered=bool(spec.get("ordered", False)))
    else:
        value_type = {
            "boolean": BOOLEAN,
            "integer": INTEGER,
            "number": NUMBER,
            "string": STRING,
            "date": DATE,
        }[kind]
    fhir = spec.get("fhir", {})
    values = tuple(spec.get("values", spec.get("allowed", ())))
    return InputField(
        name=name,
        label=spec["label"],
        kind=kind,
        value_type=value_type,
        required=bool(spec.get("required", False)),
        safety_critical=bool(spec.get("safety_critical", False)),
        direction=spec.get("direction"),
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        values=values,
        max_length=int(spec.get("max_length", DEFAULT_MAX_LENGTH)) if kind == "string" else None,
        link_id=fhir.get("link_id", name),
        loinc=fhir.get("loinc"),
        instrument=instrument,
        item=name[len(instrument) + 1 :] if instrument else name,
        convert=_converter(kind, spec),
        value_labels=_value_labels(kind, spec.get("value_labels")),
        reserved=reserved,
        describes=spec.get("describes"),
        actionable=_actionable(spec.get("actionable")),
    )


def _actionable(spec: Mapping[str, Any] | None) -> Actionable | None:
    if spec is None:
        return None
    step = spec.get("step")
    return Actionable(
        towards=spec.get("towards"),
        grows_with_time=spec.get("grows_with_time"),
        step=" ".join(step.split()) if step else None,
    )


def _value_labels(kind: str, labels: Mapping[str, str] | None) -> dict[Any, str]:
    if not labels:
        return {}
    if kind == "boolean":
        return {key == "true": label for key, label in labels.items()}
    return dict(labels)


Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class InputTable:
    """Every declared input and instrument item of a compiled ruleset, built once from one list,
    with the index each use reads: applicant checking, schemas, forms and canonical answers."""

    fields: tuple[InputField, ...]
    """Every input, then every instrument's items, in declaration order."""
    top: Mapping[str, InputField] = field(init=False)
    """Top-level inputs by name."""
    groups: Mapping[str, Mapping[str, InputField]] = field(init=False)
    """Instrument items by alias, then by item id (an applicant's `{alias: {item: answer}}`)."""
    converters: Mapping[str, Converter] = field(init=False, repr=False, compare=False)
    """The hot path's plain dicts: top-level name → convert."""
    item_converters: Mapping[str, Mapping[str, tuple[str, Converter]]] = field(
        init=False, repr=False, compare=False
    )
    """alias → item → (fact key, convert)."""

    def __post_init__(self) -> None:
        top = {f.name: f for f in self.fields if f.instrument is None}
        groups: dict[str, dict[str, InputField]] = {}
        for entry in self.fields:
            if entry.instrument is not None:
                groups.setdefault(entry.instrument, {})[entry.item] = entry
        object.__setattr__(self, "top", MappingProxyType(top))
        object.__setattr__(
            self,
            "groups",
            MappingProxyType({alias: MappingProxyType(g) for alias, g in groups.items()}),
        )
        # plain dicts for the applicant check: faster lookups than the mapping proxies
        object.__setattr__(self, "converters", {name: f.convert for name, f in top.items()})
        object.__setattr__(
            self,
            "item_converters",
            {
                alias: {item: (f.name, f.convert) for item, f in group.items()}
                for alias, group in groups.items()
            },
        )


def input_problems(
    spec: Mapping[str, Any], path: Location, format_version: int = 1
) -> list[Problem]:
    """Meaning checks on one input declaration that the schema cannot express."""
    problems = _label_problems(spec, path, format_version)
    minimum, maximum = spec.get("minimum"), spec.get("maximum")
    if minimum is not None and maximum is not None and minimum > maximum:
        problems.append(Problem(path, "bad-range", "'minimum' is greater than 'maximum'"))
    if spec["type"] == "integer" and any(
        bound is not None and not float(bound).is_integer() for bound in (minimum, maximum)
    ):
        problems.append(Problem(path, "bad-range", "an integer input needs whole-number bounds"))
    direction = spec.get("direction")
    if direction and spec["type"] in ("string", "date"):
        problems.append(
            Problem((*path, "direction"), "bad-direction", "text and date inputs take no direction")
        )
    if direction and spec["type"] == "enum" and not spec.get("ordered"):
        problems.append(
            Problem(
                (*path, "direction"),
                "bad-direction",
                "only an ordered enum (ordered: true) can have a direction",
            )
        )
    return problems


def actionable_problems(spec: Mapping[str, Any], path: Location) -> list[Problem]:
    """v2: an actionable input is a current state, never safety-critical, history or identity,
    and its direction of improvement fits its type."""
    actionable = spec.get("actionable")
    if actionable is None:
        return []
    where = (*path, "actionable")
    name = path[-1]
    if spec.get("safety_critical"):
        return [
            Problem(
                where,
                "actionable-safety-critical",
                f"'{name}' is safety-critical: a safety-critical input is never actionable",
            )
        ]
    describes = spec.get("describes")
    if describes in ("history", "identity"):
        return [
            Problem(
                where,
                f"actionable-{describes}",
                f"'{name}' describes the person's {describes}: an input that describes history "
                "or identity is never actionable",
            )
        ]
    if describes is None:
        return [
            Problem(
                where,
                "actionable-needs-state",
                f"an actionable input says what it describes: add 'describes: state' to '{name}' "
                "(history and identity are never actionable)",
            )
        ]
    return _direction_problems(spec, actionable, where)


def _direction_problems(
    spec: Mapping[str, Any], actionable: Mapping[str, Any], where: Location
) -> list[Problem]:
    kind = spec["type"]
    if ("towards" in actionable) == ("grows_with_time" in actionable):
        return [
            Problem(
                where,
                "bad-actionable",
                "give exactly one of 'towards' (boolean or enum) and 'grows_with_time' (number)",
            )
        ]
    if "grows_with_time" in actionable:
        if kind not in ("integer", "number"):
            return [
                Problem(
                    (*where, "grows_with_time"),
                    "bad-actionable",
                    "only an integer or number input grows with time",
                )
            ]
        return []
    towards = actionable["towards"]
    if kind == "boolean":
        if towards is not True and towards is not False:
            return [
                Problem((*where, "towards"), "bad-actionable", "a boolean input improves towards "
                        "true or false")
            ]  # fmt: skip
        return []
    if kind == "enum":
        if towards not in spec["values"]:
            return [
                Problem(
                    (*where, "towards"),
                    "bad-actionable",
                    "'towards' must be one of the input's values",
                )
            ]
        return []
    return [
        Problem(
            (*where, "towards"),
            "bad-actionable",
            f"a {kind} input takes no 'towards': only boolean and enum inputs do "
            "(a number can grow with time)",
        )
    ]


def _label_problems(spec: Mapping[str, Any], path: Location, format_version: int) -> list[Problem]:
    """v2: an enum input labels each of its values exactly once; a boolean may label both."""
    labels = spec.get("value_labels")
    kind = spec["type"]
    where = (*path, "value_labels")
    if labels is None:
        if format_version >= 2 and kind == "enum":
            return [
                Problem(
                    path,
                    "missing-value-labels",
                    "an enum input needs value_labels (one display label per value) in format v2",
                )
            ]
        return []
    if kind == "enum":
        expected = list(spec["values"])
    elif kind == "boolean":
        expected = ["true", "false"]
    else:
        return [
            Problem(where, "bad-value-labels", "only enum and boolean inputs take value_labels")
        ]
    problems = []
    unlabelled = [value for value in expected if value not in labels]
    if unlabelled:
        problems.append(
            Problem(
                where,
                "missing-value-labels",
                "no label for " + ", ".join(f"'{value}'" for value in unlabelled),
            )
        )
    extra = [key for key in labels if key not in expected]
    if extra:
        problems.append(
            Problem(
                where,
                "unknown-value",
                "labels for values the input does not allow: "
                + ", ".join(f"'{key}'" for key in extra),
            )
        )
    return problems


@dataclass(frozen=True)
class Band:
    name: str
    minimum: int
    maximum: int
    label: str | None = None


@dataclass(frozen=True)
class BandTable:
    """Contiguous bands in ascending order; `band_of` finds a score's band by its boundaries
    (a binary search), so memory does not grow with the range of scores."""

    bands: tuple[Band, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_minimums", tuple(band.minimum for band in self.bands))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(band.name for band in self.bands)

    def band_of(self, score: int | float) -> str | None:
        index = bisect_right(self._minimums, score) - 1  # type: ignore[attr-defined]
        if index < 0:
            return None
        band = self.bands[index]
        return band.name if score <= band.maximum else None


MAX_BAND_SPAN = 100_000


def band_problems(
    bands: Sequence[Band], reachable: tuple[int, int], path: Location
) -> list[Problem]:
    """Bands must be ascending, contiguous, uniquely named, and cover every reachable score."""
    problems: list[Problem] = []
    names: set[str] = set()
    for index, band in enumerate(bands):
        where = (*path, index)
        if band.name in names:
            problems.append(Problem(where, "duplicate-name", f"band '{band.name}' is named twice"))
        names.add(band.name)
        if band.minimum > band.maximum:
            problems.append(Problem(where, "bad-range", "a band's 'min' is greater than its 'max'"))
        if index:
            previous = bands[index - 1]
            if band.minimum > previous.maximum + 1:
                problems.append(
                    Problem(
                        where,
                        "band-gap",
                        f"scores {previous.maximum + 1} to {band.minimum - 1} fall in no band "
                        f"(between '{previous.name}' and '{band.name}')",
                    )
                )
            elif band.minimum <= previous.maximum:
                problems.append(
                    Problem(
                        where,
                        "band-overlap",
                        f"band '{band.name}' overlaps '{previous.name}': a band starts one "
                        "above the previous band's max",
                    )
                )
    if bands and bands[-1].maximum - bands[0].minimum > MAX_BAND_SPAN:
        problems.append(Problem(path, "bad-range", f"bands span more than {MAX_BAND_SPAN} points"))
    if bands and not problems:
        low, high = reachable
        if bands[0].minimum > low or bands[-1].maximum < high:
            problems.append(
                Problem(
                    path,
                    "band-coverage",
                    f"scores can range from {low} to {high}, but the bands cover "
                    f"{bands[0].minimum} to {bands[-1].maximum}",
                )
            )
    return problems
