"""Instruments: validated questionnaires with their published scoring, compiled for evaluation.

An instrument's items become inputs (`<alias>.q1`, or `q1` when it is evaluated on its own); its
total, band, subscores and flags become names conditions can read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from recovery_screening.document import plain_text
from recovery_screening.errors import Location, Problem
from recovery_screening.expressions import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    ExpressionError,
    Node,
    ValueType,
    compile_expression,
    enum_type,
)
from recovery_screening.fields import Band, BandTable, InputField, band_problems, make_field

Points = Callable[[Any], int]


@dataclass(frozen=True)
class Flag:
    """A condition an instrument raises (e.g. PHQ-9 item 9 ≥ 1), readable as `<alias>.<id>`."""

    id: str
    key: str
    code: str
    text: str
    safety: bool
    referral: str | None
    condition: Callable[[Mapping[str, object]], object]
    references: frozenset[str]
    expression: Node | None = field(default=None, repr=False, compare=False)
    """The condition's typed tree, its names bound to facts keys (for range evaluation)."""


@dataclass(frozen=True)
class AnswerOption:
    """v2: one allowed answer of an item, with its display text, LOINC answer code and score."""

    value: int | bool | str
    label: str | None
    loinc: str | None
    score: int


@dataclass(frozen=True)
class Subscore:
    key: str
    name: str
    item_keys: tuple[str, ...]
    mean: bool


@dataclass(frozen=True)
class CompiledInstrument:
    """An instrument bound to an alias, ready to score an applicant's facts."""

    alias: str
    prefix: str
    id: str
    version: str
    title: str
    content_hash: str
    licence: Mapping[str, Any]
    loinc: Mapping[str, str]
    fields: tuple[InputField, ...]
    points: tuple[tuple[str, Points], ...]
    total_key: str
    total_range: tuple[int, int]
    band_key: str
    bands: BandTable | None
    subscores: tuple[Subscore, ...]
    flags: tuple[Flag, ...]
    referral_targets: Mapping[str, Any]
    option_labels: Mapping[str, Mapping[Any, str]] = field(default_factory=dict)
    """For choice items: item input name -> option value -> the option's label (for forms)."""
    format_version: int = 1
    """1 or 2, from the instrument document's `format`."""
    instructions: str | None = None
    """v2: the instruction stem read before the items ("Over the last 2 weeks, ...")."""
    answer_options: Mapping[str, tuple[AnswerOption, ...]] = field(default_factory=dict)
    """v2: item input name -> its answers in order (labels, LOINC LA codes, item scores); for
    scale and boolean items with `answers` and for every choice item."""

    def symbols(self) -> dict[str, ValueType]:
        """The names this instrument adds to a ruleset, with their types."""
        symbols = {field.name: field.value_type for field in self.fields}
        symbols[self.total_key] = INTEGER
        if self.bands is not None:
            symbols[self.band_key] = enum_type(self.bands.names, ordered=True)
        for subscore in self.subscores:
            symbols[subscore.key] = NUMBER if subscore.mean else INTEGER
        for flag in self.flags:
            symbols[flag.key] = BOOLEAN
        return symbols

    def dependencies(self) -> dict[str, frozenset[str]]:
        """For each derived name, the item answers it depends on."""
        items = frozenset(field.name for field in self.fields)
        deps: dict[str, frozenset[str]] = {self.total_key: items, self.band_key: items}
        for subscore in self.subscores:
            deps[subscore.key] = frozenset(subscore.item_keys)
        for flag in self.flags:
            found: set[str] = set()
            for reference in flag.references:
                found |= deps.get(reference, frozenset({reference}))
            deps[flag.key] = frozenset(found)
        return deps

    def score(self, facts: dict[str, object]) -> None:
        """Write the total, band, subscores and flags into `facts` (None where unknown)."""
        item_points: dict[str, int] = {}
        total: int | None = 0
        for key, points in self.points:
            answer = facts[key]
            if answer is None:
                total = None
            else:
                value = points(answer)
                item_points[key] = value
                if total is not None:
                    total += value
        facts[self.total_key] = total
        if self.bands is not None:
            facts[self.band_key] = None if total is None else self.bands.band_of(total)
        for subscore in self.subscores:
            values = [item_points.get(key) for key in subscore.item_keys]
            if None in values:
                facts[subscore.key] = None
            else:
                summed = sum(values)  # type: ignore[arg-type]
                facts[subscore.key] = summed / len(values) if subscore.mean else summed
        for flag in self.flags:
            facts[flag.key] = flag.condition(facts)


def _points_function(item: Mapping[str, Any]) -> tuple[Points, tuple[int, int]]:
    kind = item["type"]
    reverse = bool(item.get("reverse", False))
    if kind == "scale":
        low, high = int(item["min"]), int(item["max"])
        if reverse:
            return (lambda answer: low + high - answer), (low, high)
        return (lambda answer: answer), (low, high)
    if kind == "boolean":
        if reverse:
            return (lambda answer: 0 if answer else 1), (0, 1)
        return (lambda answer: 1 if answer else 0), (0, 1)
    table = {option["value"]: int(option["points"]) for option in item["options"]}
    values = table.values()
    return table.__getitem__, (min(values), max(values))


def _item_field(item: Mapping[str, Any], prefix: str, link_prefix: str) -> InputField:
    kind = item["type"]
    spec: dict[str, Any] = {"label": item["text"], "required": True}
    if kind == "scale":
        spec.update(type="integer", minimum=item["min"], maximum=item["max"])
    elif kind == "boolean":
        spec["type"] = "boolean"
    else:
        values = [option["value"] for option in item["options"]]
        if all(isinstance(value, int) for value in values):
            spec.update(type="integer", allowed=values)
        else:
            spec.update(type="enum", values=[str(value) for value in values], ordered=True)
    if "loinc" in item:
        spec["fhir"] = {"loinc": item["loinc"], "link_id": f"{link_prefix}{item['id']}"}
    else:
        spec["fhir"] = {"link_id": f"{link_prefix}{item['id']}"}
    return make_field(f"{prefix}{item['id']}", spec, instrument=prefix.rstrip(".") or None)


def _compile_items(
    items: list[Mapping[str, Any]],
    prefix: str,
    path: Location,
    seen: set[str],
    problems: list[Problem],
) -> tuple[list[InputField], list[tuple[str, Points]], tuple[int, int]]:
    """The items' fields and points functions, and the range of the total; adds item ids to
    `seen` and problems to `problems`."""
    fields: list[InputField] = []
    points: list[tuple[str, Points]] = []
    low_total = high_total = 0
    for index, item in enumerate(items):
        where = (*path, "items", index)
        if item["id"] in seen:
            problems.append(Problem(where, "duplicate-id", f"item id '{item['id']}' is used twice"))
            continue
        seen.add(item["id"])
        problems.extend(_item_problems(item, where))
        if problems:
            continue
        fields.append(_item_field(item, prefix, prefix))
        function, (low, high) = _points_function(item)
        points.append((f"{prefix}{item['id']}", function))
        low_total += low
        high_total += high
    return fields, points, (low_total, high_total)


def _compile_bands(
    document: Mapping[str, Any], reachable: tuple[int, int], path: Location, problems: list[Problem]
) -> BandTable | None:
    if "bands" not in document:
        return None
    band_list = [Band(b["name"], b["min"], b["max"], b.get("label")) for b in document["bands"]]
    found = band_problems(band_list, reachable, (*path, "bands"))
    problems.extend(found)
    return None if found else BandTable(tuple(band_list))


def _compile_subscores(
    document: Mapping[str, Any],
    prefix: str,
    path: Location,
    seen: set[str],
    reserved: set[str],
    problems: list[Problem],
) -> list[Subscore]:
    subscores: list[Subscore] = []
    for name, spec in document.get("subscores", {}).items():
        where = (*path, "subscores", name)
        if name in seen or name in reserved:
            problems.append(Problem(where, "duplicate-name", f"'{name}' is already an item name"))
        missing = [item for item in spec["items"] if item not in seen]
        for item in missing:
            problems.append(
                Problem(
                    where, "unknown-item", f"subscore reads item '{item}', which is not defined"
                )
            )
        seen.add(name)
        subscores.append(
            Subscore(
                f"{prefix}{name}",
                name,
                tuple(f"{prefix}{item}" for item in spec["items"]),
                spec["method"] == "mean",
            )
        )
    return subscores


def compile_instrument(
    document: Mapping[str, Any], alias: str, content_hash: str, path: Location
) -> tuple[CompiledInstrument | None, list[Problem]]:
    """Compile an instrument document under `alias` ('' when it is evaluated on its own)."""
    problems: list[Problem] = []
    prefix = f"{alias}." if alias else ""
    items = document["items"]
    seen: set[str] = set()
    fields, points, (low_total, high_total) = _compile_items(items, prefix, path, seen, problems)
    reserved = {"total", "band"}
    for name in seen & reserved:
        problems.append(Problem((*path, "items"), "duplicate-name", f"'{name}' is reserved"))
    bands = _compile_bands(document, (low_total, high_total), path, problems)
    subscores = _compile_subscores(document, prefix, path, seen, reserved, problems)

    targets = document.get("referral_targets", {})
    local_symbols: dict[str, ValueType] = {}
    bindings: dict[str, str] = {}
    provisional = CompiledInstrument(
        alias, prefix, document["id"], document["version"], document["title"], content_hash,
        document["licence"], document.get("loinc", {}), tuple(fields), tuple(points),
        f"{prefix}total", (low_total, high_total), f"{prefix}band", bands, tuple(subscores), (),
        targets,
    )  # fmt: skip
    for key, value_type in provisional.symbols().items():
        local = key[len(prefix) :]
        local_symbols[local] = value_type
        bindings[local] = key
    flags: list[Flag] = []
    for index, spec in enumerate(document.get("flags", [])):
        where = (*path, "flags", index)
        if spec["id"] in seen:
            problems.append(Problem(where, "duplicate-name", f"flag id '{spec['id']}' is taken"))
            continue
        seen.add(spec["id"])
        referral = spec.get("referral")
        if referral is not None and referral not in targets:
            problems.append(
                Problem(
                    (*where, "referral"),
                    "unknown-referral",
                    f"referral target '{referral}' is not declared in referral_targets",
                )
            )
        try:
            compiled = compile_expression(spec["when"], local_symbols, bind=bindings)
        except ExpressionError as error:
            problems.extend(expression_problems(error, (*where, "when")))
            continue
        flags.append(
            Flag(
                spec["id"], f"{prefix}{spec['id']}", spec["code"], plain_text(spec["text"]),
                bool(spec.get("safety", False)), referral, compiled.evaluate,
                frozenset(compiled.references), compiled.bound,
            )
        )  # fmt: skip
    answer_options: dict[str, tuple[AnswerOption, ...]] = {}
    if document["format"] == "recovery-screening/v2" and not problems:
        answer_options, found = _answer_options(document, prefix, path)
        problems.extend(found)
    if problems:
        return None, problems
    instrument = CompiledInstrument(
        alias, prefix, document["id"], document["version"], document["title"], content_hash,
        document["licence"], document.get("loinc", {}), tuple(fields), tuple(points),
        f"{prefix}total", (low_total, high_total), f"{prefix}band", bands, tuple(subscores),
        tuple(flags), targets, _option_labels(items, prefix),
        2 if document["format"] == "recovery-screening/v2" else 1,
        document.get("instructions"), answer_options,
    )  # fmt: skip
    return instrument, problems


def _answer_options(
    document: Mapping[str, Any], prefix: str, path: Location
) -> tuple[dict[str, tuple[AnswerOption, ...]], list[Problem]]:
    """v2: resolve each item's `answers` (a named list or a list) and check it covers the item's
    values exactly once; choice items take their options."""
    problems: list[Problem] = []
    lists: Mapping[str, Any] = document.get("answer_lists", {})
    options: dict[str, tuple[AnswerOption, ...]] = {}
    for index, item in enumerate(document["items"]):
        where = (*path, "items", index)
        points, _ = _points_function(item)
        key = f"{prefix}{item['id']}"
        if item["type"] == "choice":
            options[key] = tuple(
                AnswerOption(o["value"], o.get("label"), o.get("loinc"), points(o["value"]))
                for o in item["options"]
            )
            continue
        answers = item.get("answers")
        if answers is None:
            if item["type"] == "scale":
                problems.append(
                    Problem(
                        where,
                        "missing-answers",
                        "a scale item needs `answers` (a label for each value) in format v2",
                    )
                )
            continue
        if isinstance(answers, str):
            if answers not in lists:
                problems.append(
                    Problem(
                        (*where, "answers"),
                        "unknown-answer-list",
                        f"answer list '{answers}' is not declared in answer_lists",
                    )
                )
                continue
            answers = lists[answers]
        if item["type"] == "scale":
            expected: list[Any] = list(range(int(item["min"]), int(item["max"]) + 1))
            kind: type = int
        else:
            expected, kind = [False, True], bool
        values = [answer["value"] for answer in answers]
        if any(type(value) is not kind for value in values) or sorted(values) != expected:
            wanted = (
                f"the whole numbers {expected[0]} to {expected[-1]}"
                if kind is int
                else "true and false"
            )
            problems.append(
                Problem(
                    (*where, "answers"),
                    "answer-coverage",
                    f"the answers must give each of {wanted} exactly once",
                )
            )
            continue
        options[key] = tuple(
            AnswerOption(a["value"], a["label"], a.get("loinc"), points(a["value"]))
            for a in answers
        )
    return options, problems


def _option_labels(items: list[Mapping[str, Any]], prefix: str) -> dict[str, dict[Any, str]]:
    return {
        f"{prefix}{item['id']}": {
            option["value"]: option["label"] for option in item["options"] if "label" in option
        }
        for item in items
        if item["type"] == "choice"
    }


def _item_problems(item: Mapping[str, Any], where: Location) -> list[Problem]:
    if item["type"] == "scale" and item["min"] >= item["max"]:
        return [Problem(where, "bad-range", "an item's 'min' must be below its 'max'")]
    if item["type"] == "choice":
        values = [option["value"] for option in item["options"]]
        if len(set(map(repr, values))) != len(values):
            return [Problem((*where, "options"), "duplicate", "option values must be unique")]
        if len({type(value) for value in values}) != 1:
            return [
                Problem((*where, "options"), "type-mismatch", "option values must all be "
                        "whole numbers or all be codes")
            ]  # fmt: skip
    return []


def expression_problems(error: ExpressionError, path: Location) -> list[Problem]:
    """Turn an expression's problems into document problems at `path`."""
    return [
        Problem(path, problem.code, f"{problem.message} (column {problem.column})")
        for problem in error.problems
    ]
