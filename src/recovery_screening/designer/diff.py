"""Differences between two versions of a ruleset: structural (what the documents declare) and,
over a cohort, behavioural (whose outcome changes, from what to what, and which rules did it).

Applicants are named by their line in the cohort file; their answers are shown only when asked
for (`show_values`), because a cohort may hold real people's answers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery_screening.decision import Decision
from recovery_screening.designer._cohort import (
    Chunk,
    RulesetSpec,
    default_workers,
    map_chunks,
    read_chunks,
    ruleset_spec,
)
from recovery_screening.designer.defaults import DEFAULT_LIMIT
from recovery_screening.designer.equity import (
    EquityTally,
    GroupByError,
    GroupField,
    Grouping,
    equity_diff_report,
    equity_diff_text,
)
from recovery_screening.designer.simulate import Tally, parse_row
from recovery_screening.errors import InvalidApplicant
from recovery_screening.outcomes import OUTCOMES, RANK
from recovery_screening.ruleset import Ruleset

_SECTIONS = ("inputs", "instruments", "referral_targets")


@dataclass(frozen=True)
class StructuralChange:
    """One structural change: `section` and `id` say what, `fields` the (old, new) values."""

    section: str
    id: str
    change: str  # added | removed | changed
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "id": self.id,
            "change": self.change,
            "fields": {name: {"old": old, "new": new} for name, (old, new) in self.fields.items()},
        }


def _answer_keys(ruleset: Ruleset) -> set[str]:
    """The top-level applicant keys a ruleset accepts: its inputs, its instrument aliases and,
    in format v2, the reserved `screening_date`."""
    compiled = ruleset.compiled
    keys = set(compiled.inputs.top) | set(compiled.inputs.groups)
    if compiled.format_version >= 2:
        keys.add("screening_date")
    return keys


def _without(applicant: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    if not keys or keys.isdisjoint(applicant):
        return applicant
    return {key: value for key, value in applicant.items() if key not in keys}


def _field_changes(old: Any, new: Any) -> dict[str, tuple[Any, Any]]:
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        return {} if old == new else {"value": (old, new)}
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    }


def _keyed(
    section: str, old: Mapping[str, Any], new: Mapping[str, Any], ignore: tuple[str, ...] = ()
) -> list[StructuralChange]:
    changes = []
    for key in old:
        if key not in new:
            changes.append(StructuralChange(section, key, "removed"))
    for key in new:
        if key not in old:
            changes.append(StructuralChange(section, key, "added"))
        else:
            fields = {
                name: pair
                for name, pair in _field_changes(old[key], new[key]).items()
                if name not in ignore
            }
            if fields:
                changes.append(StructuralChange(section, key, "changed", fields))
    return changes


def _by_id(rules: list[Any]) -> dict[str, Any]:
    return {rule["id"]: rule for rule in rules}


def structural_diff(old: Ruleset, new: Ruleset) -> list[StructuralChange]:
    """What the two documents declare differently, section by section, in document order."""
    a, b = old.document, new.document
    changes: list[StructuralChange] = []
    for name in ("hit_policy", "default", "incomplete"):
        if a.get(name) != b.get(name):
            changes.append(
                StructuralChange(
                    "settings", name, "changed", _field_changes(a.get(name), b.get(name))
                )
            )
    for section in _SECTIONS:
        changes += _keyed(section, a.get(section, {}), b.get(section, {}))
    old_domains, new_domains = a.get("domains", {}), b.get("domains", {})
    changes += _keyed("domains", old_domains, new_domains, ignore=("rules", "bands"))
    for name in [name for name in new_domains if name in old_domains]:  # document order
        old_bands = _band_map(old_domains[name]["bands"])
        new_bands = _band_map(new_domains[name]["bands"])
        changes += _keyed(f"domains.{name}.bands", old_bands, new_bands)
        changes += _keyed(
            f"domains.{name}.rules",
            _by_id(old_domains[name]["rules"]),
            _by_id(new_domains[name]["rules"]),
        )
    old_rules, new_rules = _by_id(a["decisions"]), _by_id(b["decisions"])
    changes += _keyed("decisions", old_rules, new_rules)
    common = [rule_id for rule_id in old_rules if rule_id in new_rules]
    new_order = [rule_id for rule_id in new_rules if rule_id in old_rules]
    if common != new_order:
        changes.append(
            StructuralChange("decisions", "(order)", "changed", {"order": (common, new_order)})
        )
    changes += _keyed(
        "advisories", _by_id(a.get("advisories", [])), _by_id(b.get("advisories", []))
    )
    changes += _keyed(
        "properties", _by_id(a.get("properties", [])), _by_id(b.get("properties", []))
    )
    changes += _keyed("tests", _by_id(a.get("tests", [])), _by_id(b.get("tests", [])),
                      ignore=("applicant",))  # fmt: skip
    return changes


def _band_map(bands: list[Mapping[str, Any]]) -> dict[str, Any]:
    return {band["name"]: {k: v for k, v in band.items() if k != "name"} for band in bands}


# --- behaviour over a cohort -------------------------------------------------------------


@dataclass
class DiffTally:
    """Counts for part of a cohort; `changed` keeps the first `limit` changed applicants."""

    limit: int
    applicants: int = 0
    compared: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    changed_count: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    band_changes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    causes: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)
    """(old outcome, new outcome, old deciding rules, new deciding rules) of changed applicants."""
    invalid_old: Tally = field(default_factory=Tally)
    invalid_new: Tally = field(default_factory=Tally)
    equity_old: EquityTally = field(default_factory=lambda: EquityTally(0))
    equity_new: EquityTally = field(default_factory=lambda: EquityTally(0))

    def merge(self, other: DiffTally) -> None:
        self.applicants += other.applicants
        self.compared += other.compared
        self.transitions.update(other.transitions)
        self.changed_count += other.changed_count
        self.changed.extend(other.changed[: self.limit - len(self.changed)])
        self.band_changes.update(other.band_changes)
        self.causes.update(other.causes)
        self.invalid_old.merge(other.invalid_old)
        self.invalid_new.merge(other.invalid_new)
        self.equity_old.merge(other.equity_old)
        self.equity_new.merge(other.equity_new)


class DiffWorker:
    """Evaluates chunks of a cohort against both versions (one instance per worker process)."""

    def __init__(
        self,
        old: RulesetSpec,
        new: RulesetSpec,
        limit: int,
        show_values: bool,
        group_by: tuple[str, ...] = (),
    ) -> None:
        self.old = old.load()
        self.new = new.load()
        self.grouping = Grouping.for_rulesets((self.old, self.new), group_by)
        self.limit = limit
        self.show_values = show_values
        self.fields = {f.name: f for f in self.old.inputs} | {f.name: f for f in self.new.inputs}
        self.old_domains = {d.name: d for d in self.old.compiled.domains}
        old_keys, new_keys = _answer_keys(self.old), _answer_keys(self.new)
        # An answer to a question only one version asks is not shown to the other version: a
        # new question is the usual change, and it is no reason to count a row as invalid.
        self.only_old = frozenset(old_keys - new_keys)
        self.only_new = frozenset(new_keys - old_keys)

    def __call__(self, chunk: Chunk) -> DiffTally:
        width = len(self.grouping.fields)
        tally = DiffTally(self.limit, equity_old=EquityTally(width), equity_new=EquityTally(width))
        for row in chunk.rows:
            tally.applicants += 1
            raw = parse_row(chunk, row, self.fields, tally.invalid_old)
            if raw is None:
                continue
            applicant, labels = self.grouping.split(raw)
            before = _decided(
                self.old, _without(applicant, self.only_new), tally.invalid_old, row[0]
            )
            after = _decided(
                self.new, _without(applicant, self.only_old), tally.invalid_new, row[0]
            )
            if before is not None and after is not None:
                self._compare(tally, row[0], applicant, before, after)
                if labels:
                    tally.equity_old.add(labels, before.outcome, before.deciding)
                    tally.equity_new.add(labels, after.outcome, after.deciding)
        return tally

    def _compare(
        self,
        tally: DiffTally,
        line: int,
        applicant: dict[str, Any],
        before: Decision,
        after: Decision,
    ) -> None:
        """Count one applicant both versions decided: the transition, band changes, causes."""
        tally.compared += 1
        tally.transitions[(before.outcome, after.outcome)] += 1
        band_changes = self._band_changes(tally, before, after)
        if before.outcome == after.outcome and before.deciding == after.deciding:
            return
        tally.changed_count += 1
        old_rules, new_rules = " + ".join(before.deciding), " + ".join(after.deciding)
        tally.causes[(before.outcome, after.outcome, old_rules, new_rules)] += 1
        if len(tally.changed) < self.limit:
            entry: dict[str, Any] = {
                "line": line,
                "old": {"outcome": before.outcome, "deciding": list(before.deciding)},
                "new": {"outcome": after.outcome, "deciding": list(after.deciding)},
                "band_changes": band_changes,
            }
            if self.show_values:
                entry["applicant"] = applicant
            tally.changed.append(entry)

    def _band_changes(
        self, tally: DiffTally, before: Decision, after: Decision
    ) -> list[dict[str, Any]]:
        band_changes = []
        for domain in self.new.compiled.domains:
            previous = self.old_domains.get(domain.name)
            if previous is None:
                continue
            old_band = before.facts[previous.band_key]
            new_band = after.facts[domain.band_key]
            if old_band != new_band:
                tally.band_changes[(domain.name, str(old_band), str(new_band))] += 1
                band_changes.append({"domain": domain.name, "old": old_band, "new": new_band})
        return band_changes


def _decided(
    ruleset: Ruleset, applicant: dict[str, Any], invalid: Tally, line: int
) -> Decision | None:
    """The decision, or None with the applicant's problems counted as invalid."""
    try:
        return ruleset.evaluate(applicant)
    except InvalidApplicant as error:
        for problem in error.problems:
            invalid.count_invalid(problem.path, problem.code, line)
        return None


@dataclass(frozen=True)
class RulesetDiff:
    old: Ruleset
    new: Ruleset
    changes: tuple[StructuralChange, ...]
    cohort: str | None = None
    behaviour: DiffTally | None = None
    group_by: tuple[GroupField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "old": {"id": self.old.id, "version": self.old.version,
                    "content_hash": self.old.content_hash},
            "new": {"id": self.new.id, "version": self.new.version,
                    "content_hash": self.new.content_hash},
            "structural": [change.to_dict() for change in self.changes],
        }  # fmt: skip
        tally = self.behaviour
        if tally is None:
            return result
        matrix = {
            before: {after: tally.transitions[(before, after)] for after in OUTCOMES}
            for before in OUTCOMES
        }
        pairs: Counter[tuple[str, str]] = Counter()
        for (_, _, old, new), count in tally.causes.items():
            pairs[(old, new)] += count
        result["behaviour"] = {
            "cohort": self.cohort,
            "applicants": tally.applicants,
            "compared": tally.compared,
            "transitions": matrix,
            "changed_count": tally.changed_count,
            "changed": tally.changed,
            "causes": [
                {"old": old, "new": new, "count": count}
                for (old, new), count in sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
            ],
            "transition_causes": [
                {"from": before, "to": after, "old": old, "new": new, "count": count}
                for (before, after, old, new), count in sorted(
                    tally.causes.items(),
                    key=lambda item: (RANK[item[0][0]], RANK[item[0][1]], -item[1], item[0]),
                )
            ],
            "band_changes": [
                {"domain": domain, "old": _band(old), "new": _band(new), "count": count}
                for (domain, old, new), count in sorted(tally.band_changes.items())
            ],
            "invalid_old": _invalid(tally.invalid_old),
            "invalid_new": _invalid(tally.invalid_new),
        }
        if self.group_by:
            result["behaviour"]["equity"] = equity_diff_report(
                self.group_by, tally.equity_old, tally.equity_new
            )
        return result


def _band(text: str) -> str | None:
    return None if text == "None" else text


def _invalid(tally: Tally) -> list[dict[str, Any]]:
    return [
        {"path": path, "code": code, "count": count}
        for (path, code), count in sorted(tally.invalid.items())
    ]


def diff_rulesets(
    old: Ruleset,
    new: Ruleset,
    cohort: str | Path | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    show_values: bool = False,
    workers: int | None = None,
    old_rulesets_dir: str | Path | None = None,
    new_rulesets_dir: str | Path | None = None,
    group_by: tuple[str, ...] = (),
    progress: Callable[[int], None] | None = None,
    engine: str = "auto",
) -> RulesetDiff:
    """The structural diff and, with a cohort, the behavioural diff of two ruleset versions;
    `group_by` (inputs or side-car columns) adds the equity report of both versions.
    `progress(n)` is called with the number of applicants in each chunk as it is merged.

    `engine` as for `simulate`: `columnar`, `scalar` or `auto`; both count the same (the
    equity report is counted by the scalar engine)."""
    from recovery_screening.designer._batches import chosen_engine, diff_columnar

    changes = tuple(structural_diff(old, new))
    fields = Grouping.for_rulesets((old, new), group_by).fields
    if cohort is None:
        if fields:
            raise GroupByError(fields[0].name, "groups applicants of a cohort: give --cohort")
        return RulesetDiff(old, new, changes)
    width = len(fields)
    total = DiffTally(limit, equity_old=EquityTally(width), equity_new=EquityTally(width))
    if not group_by and chosen_engine(engine, cohort) == "columnar":
        old_keys, new_keys = _answer_keys(old), _answer_keys(new)
        diff_columnar(
            old, new, cohort, total, frozenset(old_keys - new_keys),
            frozenset(new_keys - old_keys), show_values, progress, workers,
        )  # fmt: skip
        return RulesetDiff(old, new, changes, str(cohort), total)
    arguments = (
        ruleset_spec(old, old_rulesets_dir), ruleset_spec(new, new_rulesets_dir),
        limit, show_values, tuple(group_by),
    )  # fmt: skip
    chunks = read_chunks(cohort)
    for tally in map_chunks(
        chunks, DiffWorker, arguments, workers if workers is not None else default_workers()
    ):
        total.merge(tally)
        if progress is not None:
            progress(tally.applicants)
    return RulesetDiff(old, new, changes, str(cohort), total, fields)


def short_value(value: Any) -> str:
    """A value on one line, at most 90 characters (for printing a structural change)."""
    text = repr(value) if not isinstance(value, str) else " ".join(value.split())
    return text if len(text) <= 90 else text[:87] + "..."


def diff_text(diff: RulesetDiff) -> str:
    """The diff for a person."""
    data = diff.to_dict()
    lines = [
        f"--- {data['old']['id']} {data['old']['version']}",
        f"+++ {data['new']['id']} {data['new']['version']}",
        "",
        "Structural changes:" if data["structural"] else "Structural changes: none",
    ]
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for change in data["structural"]:
        lines.append(f"  {marks[change['change']]} {change['section']}: {change['id']} "
                     f"{change['change']}")  # fmt: skip
        for name, pair in change["fields"].items():
            lines.append(f"      {name}: {short_value(pair['old'])} -> {short_value(pair['new'])}")
    behaviour = data.get("behaviour")
    if behaviour is None:
        return "\n".join(lines)
    lines += [
        "",
        f"Behaviour on {behaviour['cohort']}: {behaviour['compared']} of "
        f"{behaviour['applicants']} applicants compared, {behaviour['changed_count']} changed",
        "",
        "Outcome transitions (rows: old, columns: new):",
        "          " + "".join(f"{name:>9}" for name in OUTCOMES),
    ]
    for before in OUTCOMES:
        row = behaviour["transitions"][before]
        lines.append(f"  {before:<8}" + "".join(f"{row[after]:>9}" for after in OUTCOMES))
    if behaviour["causes"]:
        lines += ["", "Deciding rules, old -> new (changed applicants):"]
        lines += [f"  {c['count']:>7}  {c['old']} -> {c['new']}" for c in behaviour["causes"]]
    if behaviour["band_changes"]:
        lines += ["", "Domain band changes:"]
        lines += [
            f"  {b['domain']}: {b['old']} -> {b['new']}: {b['count']}"
            for b in behaviour["band_changes"]
        ]
    if behaviour["changed"]:
        shown = len(behaviour["changed"])
        lines += ["", f"Changed applicants (first {shown}, by line in the cohort):"]
        for entry in behaviour["changed"]:
            old, new = entry["old"], entry["new"]
            lines.append(
                f"  line {entry['line']}: {old['outcome']} ({', '.join(old['deciding'])}) -> "
                f"{new['outcome']} ({', '.join(new['deciding'])})"
            )
            if "applicant" in entry:
                lines.append("    " + json.dumps(entry["applicant"], ensure_ascii=False))
    lines += _invalid_lines(behaviour)
    if "equity" in behaviour:
        lines += equity_diff_text(behaviour["equity"])
    return "\n".join(lines)


def _invalid_lines(behaviour: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for side in ("old", "new"):
        invalid = behaviour[f"invalid_{side}"]
        if invalid:
            lines += ["", f"Invalid for the {side} version (by field and rule):"]
            lines += [f"  {e['path']} [{e['code']}]: {e['count']}" for e in invalid]
    return lines
