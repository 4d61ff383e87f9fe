"""Who a ruleset holds back: outcome rates per group of applicants, with 95% Wilson intervals,
each group's admit rate against the most-admitted group's (the four-fifths rule), and the rules
that decided each group's non-admits.

A group is the value of one field: an input of the ruleset (`housing`, `phq9.q9`) or a side-car
column of the cohort, which the ruleset never reads (`cohort.age_band`). Side-car columns sit
under the reserved top-level key `cohort` of a JSONL row (`{"cohort": {"age_band": "25-34"},
...}`) or in CSV columns named `cohort.<name>`; they are removed from every row before it is
evaluated (`Grouping.split`), so they cannot change a decision.

The counting is fed per applicant (`EquityTally.add(labels, outcome, deciding)`), or per group
of identical applicants with `count`, so it does not depend on the engine that decided them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from recovery_screening.cohort_csv import SIDECAR, SIDECAR_PREFIX
from recovery_screening.errors import ScreeningError
from recovery_screening.outcomes import ADMIT as _ADMIT_RANK
from recovery_screening.outcomes import OUTCOMES
from recovery_screening.ruleset import Ruleset

ADMIT = OUTCOMES[_ADMIT_RANK]
FOUR_FIFTHS = 0.8
_FOUR_FIFTHS = Fraction(4, 5)
"""A group whose admit rate is under this fraction of the most-admitted group's is flagged."""
MIN_GROUP_SIZE = 30
"""Groups with fewer applicants are too small to judge, and never the reference group. A larger
group whose ratio is under four-fifths is flagged only when its 95% interval lies wholly below
the reference group's (the shortfall is not chance); otherwise it too is too small to judge."""
MAX_GROUPS = 50
"""A field with more distinct values than this is refused (group a banded side-car column)."""
MAX_LABEL = 60
Z_95 = 1.959963984540054
MISSING = "(missing)"
NOT_A_VALUE = "(not a single value)"
REFERENCE = "reference"
BELOW = "below four-fifths"
WITHIN = "within four-fifths"
TOO_SMALL = "too small to judge"
NO_ADMITS = "no group admits anyone"


class GroupByError(ScreeningError):
    """A `--group-by` field cannot be used; names the field (a designer's name, not a value)."""

    def __init__(self, field_name: str, message: str) -> None:
        self.field = field_name
        super().__init__(f"--group-by {field_name}: {message}")


def wilson(successes: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (0, 1 when there is no one to count)."""
    if total <= 0:
        return 0.0, 1.0
    p = successes / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z / (1 + z2 / total) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


def declares_sidecar_key(ruleset: Ruleset) -> bool:
    """True when the ruleset itself declares `cohort` (an input or an instrument alias): then it
    is an answer, and the cohort has no side-car columns for this ruleset."""
    inputs = ruleset.compiled.inputs
    return SIDECAR in inputs.top or SIDECAR in inputs.groups


@dataclass(frozen=True)
class GroupField:
    """One `--group-by` field: where its value sits in a cohort row, and its values' order."""

    name: str
    source: str  # "input" or "side-car"
    key: str
    item: str | None = None
    order: tuple[str, ...] = ()

    def label(self, applicant: Mapping[str, Any]) -> str:
        value: Any = applicant.get(self.key)
        if self.item is not None:
            value = value.get(self.item) if isinstance(value, Mapping) else None
        return _label(value)


def _label(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        text = " ".join(str(value).split())
        return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 3] + "..."
    return NOT_A_VALUE


def _declared_order(values: Sequence[Any], kind: str) -> tuple[str, ...]:
    if kind == "boolean":
        return ("false", "true")
    return tuple(_label(value) for value in values)


def group_fields(rulesets: Sequence[Ruleset], names: Sequence[str]) -> tuple[GroupField, ...]:
    """The group fields named, each an input of one of `rulesets` or a side-car column."""
    fields: list[GroupField] = []
    for name in names:
        if any(existing.name == name for existing in fields):
            raise GroupByError(name, "is named twice")
        fields.append(_group_field(rulesets, name))
    return tuple(fields)


def _group_field(rulesets: Sequence[Ruleset], name: str) -> GroupField:
    for ruleset in rulesets:
        for declared in ruleset.inputs:
            if declared.name == name:
                order = _declared_order(declared.values, declared.kind)
                if declared.instrument is None:
                    return GroupField(name, "input", declared.name, None, order)
                return GroupField(name, "input", declared.instrument, declared.item, order)
    column = name[len(SIDECAR_PREFIX) :] if name.startswith(SIDECAR_PREFIX) else ""
    if column and not any(declares_sidecar_key(ruleset) for ruleset in rulesets):
        return GroupField(name, "side-car", SIDECAR, column)
    versions = " or ".join(f"{r.id} {r.version}" for r in rulesets)
    raise GroupByError(
        name, f"is neither an input of {versions} nor a side-car column (cohort.<name>)"
    )


def without_sidecar(applicant: dict[str, Any]) -> dict[str, Any]:
    """The applicant as the ruleset sees it: the row without its side-car columns."""
    if SIDECAR not in applicant:
        return applicant
    return {key: value for key, value in applicant.items() if key != SIDECAR}


@dataclass(frozen=True)
class Grouping:
    """What a worker does with each raw cohort row before evaluating it: read its group labels,
    then strip the side-car columns (unless a ruleset declares `cohort` as an answer)."""

    fields: tuple[GroupField, ...] = ()
    strip: bool = True

    @classmethod
    def for_rulesets(cls, rulesets: Sequence[Ruleset], names: Sequence[str]) -> Grouping:
        strip = not any(declares_sidecar_key(ruleset) for ruleset in rulesets)
        return cls(group_fields(rulesets, names), strip)

    def split(self, applicant: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        labels = tuple(entry.label(applicant) for entry in self.fields)
        return (without_sidecar(applicant) if self.strip else applicant), labels


@dataclass
class GroupCounts:
    """One group's outcomes, and how many of its non-admits each rule decided."""

    outcomes: Counter[str] = field(default_factory=Counter)
    decided: Counter[str] = field(default_factory=Counter)

    def merge(self, other: GroupCounts) -> None:
        self.outcomes.update(other.outcomes)
        self.decided.update(other.decided)


@dataclass
class EquityTally:
    """Per field, per group label: counts that merge by adding. At most MAX_GROUPS + 1 labels
    are kept per field; `overflow` marks a field that had more (refused when reported)."""

    width: int
    groups: list[dict[str, GroupCounts]] = field(default_factory=list)
    overflow: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not self.groups:
            self.groups = [{} for _ in range(self.width)]

    def add(
        self, labels: Sequence[str], outcome: str, deciding: Sequence[str], count: int = 1
    ) -> None:
        """Count `count` applicants with these group labels, outcome and deciding rules."""
        for index, label in enumerate(labels):
            groups = self.groups[index]
            counts = groups.get(label)
            if counts is None:
                if len(groups) > MAX_GROUPS:
                    self.overflow.add(index)
                    continue
                counts = groups[label] = GroupCounts()
            counts.outcomes[outcome] += count
            if outcome != ADMIT:
                for rule in deciding:
                    counts.decided[rule] += count

    def merge(self, other: EquityTally) -> None:
        self.overflow |= other.overflow
        for index, theirs in enumerate(other.groups):
            mine = self.groups[index]
            for label, counts in theirs.items():
                if label not in mine:
                    if len(mine) > MAX_GROUPS:
                        self.overflow.add(index)
                        continue
                    mine[label] = GroupCounts()
                mine[label].merge(counts)


def _sorted_labels(entry: GroupField, labels: Sequence[str]) -> list[str]:
    position = {label: index for index, label in enumerate(entry.order)}
    return sorted(
        labels,
        key=lambda label: (label == MISSING, position.get(label, len(position)), label),
    )


def _rate(count: int, total: int) -> dict[str, Any]:
    low, high = wilson(count, total)
    share = count / total if total else 0.0
    return {"count": count, "rate": round(share, 4), "low": round(low, 4),
            "high": round(high, 4)}  # fmt: skip


def field_report(
    entry: GroupField, groups: Mapping[str, GroupCounts], min_group_size: int = MIN_GROUP_SIZE
) -> dict[str, Any]:
    """One field's groups: rates with intervals, the ratio to the most-admitted group and the
    judgement on it, and the rules behind each group's non-admits compared with that group's."""
    labels = _sorted_labels(entry, list(groups))
    sizes = {label: sum(groups[label].outcomes.values()) for label in labels}
    admit_rate = {
        label: groups[label].outcomes[ADMIT] / sizes[label] if sizes[label] else 0.0
        for label in labels
    }
    judged = [label for label in labels if sizes[label] >= min_group_size]
    reference = max(judged, key=lambda label: admit_rate[label], default=None)
    reference_rate = admit_rate[reference] if reference is not None else 0.0
    reference_counts = groups[reference] if reference is not None else GroupCounts()
    reference_size = sizes[reference] if reference is not None else 0
    reference_admits = reference_counts.outcomes[ADMIT]
    reference_low = wilson(reference_admits, reference_size)[0]
    rows = []
    for label in labels:
        size = sizes[label]
        counts = groups[label]
        ratio = admit_rate[label] / reference_rate if reference_rate > 0 else None
        if reference is None or size < min_group_size:
            judgement = TOO_SMALL
        elif label == reference:
            judgement = REFERENCE if reference_rate > 0 else NO_ADMITS
        elif ratio is None:
            judgement = NO_ADMITS
        elif Fraction(counts.outcomes[ADMIT] * reference_size, size * reference_admits) >= (
            _FOUR_FIFTHS
        ):  # exact: 0.64 / 0.8 is 0.7999999999999999 in floating point
            judgement = WITHIN
        else:
            upper = wilson(counts.outcomes[ADMIT], size)[1]
            judgement = BELOW if upper < reference_low else TOO_SMALL
        rows.append(
            {
                "group": label,
                "count": size,
                "outcomes": {name: _rate(counts.outcomes[name], size) for name in OUTCOMES},
                "admit_ratio": round(ratio, 4) if ratio is not None else None,
                "judgement": judgement,
                "flagged": judgement == BELOW,
                "rules": _rules(counts, size, reference_counts, reference_size),
            }
        )
    return {
        "field": entry.name,
        "source": entry.source,
        "reference": reference,
        "min_group_size": min_group_size,
        "four_fifths": FOUR_FIFTHS,
        "groups": rows,
    }


def _rules(
    counts: GroupCounts, size: int, reference: GroupCounts, reference_size: int
) -> list[dict[str, Any]]:
    """Each rule that decided some of the group's non-admits: how many, the rate in the group and
    in the reference group, and the excess (percentage points) — largest excess first."""
    rows: list[dict[str, Any]] = []
    for rule, decided in counts.decided.items():
        rate = decided / size if size else 0.0
        base = reference.decided[rule] / reference_size if reference_size else 0.0
        rows.append(
            {"rule": rule, "decided": decided, "rate": round(rate, 4),
             "reference_rate": round(base, 4), "excess": round(rate - base, 4)}
        )  # fmt: skip
    rows.sort(key=lambda row: (-row["excess"], -row["decided"], row["rule"]))
    return rows


def equity_report(
    fields: Sequence[GroupField], tally: EquityTally, min_group_size: int = MIN_GROUP_SIZE
) -> list[dict[str, Any]]:
    """The report of every field, in the order named; a field with too many values is refused."""
    for index in sorted(tally.overflow):
        raise GroupByError(
            fields[index].name,
            f"has more than {MAX_GROUPS} distinct values: group by a banded side-car column",
        )
    return [
        field_report(entry, groups, min_group_size)
        for entry, groups in zip(fields, tally.groups, strict=True)
    ]


def equity_diff_report(
    fields: Sequence[GroupField],
    old: EquityTally,
    new: EquityTally,
    min_group_size: int = MIN_GROUP_SIZE,
) -> list[dict[str, Any]]:
    """Per field, per group: the report for the old and for the new version side by side."""
    result = []
    olds = equity_report(fields, old, min_group_size)
    news = equity_report(fields, new, min_group_size)
    for before, after in zip(olds, news, strict=True):
        after_groups = {row["group"]: row for row in after["groups"]}
        groups = []
        for row in before["groups"]:
            other = after_groups[row["group"]]
            groups.append(
                {
                    "group": row["group"],
                    "count": row["count"],
                    "old": {k: v for k, v in row.items() if k not in ("group", "count")},
                    "new": {k: v for k, v in other.items() if k not in ("group", "count")},
                    "admit_change": round(
                        other["outcomes"][ADMIT]["rate"] - row["outcomes"][ADMIT]["rate"], 4
                    ),
                }
            )
        result.append(
            {
                "field": before["field"],
                "source": before["source"],
                "reference": {"old": before["reference"], "new": after["reference"]},
                "min_group_size": min_group_size,
                "four_fifths": FOUR_FIFTHS,
                "groups": groups,
            }
        )
    return result


# --- text ------------------------------------------------------------------------------------

RULES_SHOWN = 3


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def _source(report: Mapping[str, Any]) -> str:
    return "side-car column" if report["source"] == "side-car" else "input"


def _rule_line(rules: Sequence[Mapping[str, Any]]) -> str:
    shown = [r for r in rules if r["excess"] > 0][:RULES_SHOWN]
    return ", ".join(f"{r['rule']} {r['decided']} ({100 * r['excess']:+.1f} pts)" for r in shown)


def _legend(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    if not reports:
        return []
    return [
        "",
        "Equity: admit rates per group with 95% Wilson intervals; ratio = admit rate / the "
        "reference group's",
        f"(the most admitted); FLAGGED under {reports[0]['four_fifths']:g} (four-fifths rule) "
        "when the group's interval lies below",
        f"the reference group's; too small to judge: under {reports[0]['min_group_size']} "
        "applicants, or a shortfall within chance.",
    ]


def equity_text(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines for `simulate`: one table per field, then the rules behind the groups below the
    reference group."""
    lines: list[str] = _legend(reports)
    for report in reports:
        reference = report["reference"]
        lines += [
            "",
            f"Equity by {report['field']} ({_source(report)}); reference group: "
            + (f"{reference} (the most admitted)" if reference is not None else "none")
            + ":",
            f"  {'group':<20}{'n':>7}  {'admit (95% CI)':<22}{'defer':>7}{'refer':>7}"
            f"{'ratio':>7}  judgement",
        ]
        for row in report["groups"]:
            admit = row["outcomes"][ADMIT]
            interval = f"{_percent(admit['rate'])} ({_percent(admit['low'])}-" + (
                f"{_percent(admit['high'])})"
            )
            flag = "  <- FLAGGED" if row["flagged"] else ""
            lines.append(
                f"  {row['group']:<20}{row['count']:>7}  {interval:<22}"
                f"{_percent(row['outcomes']['defer']['rate']):>7}"
                f"{_percent(row['outcomes']['refer']['rate']):>7}"
                f"{_ratio(row['admit_ratio']):>7}  {row['judgement']}{flag}"
            )
        behind = [
            (row["group"], _rule_line(row["rules"]))
            for row in report["groups"]
            if row["group"] != reference and _rule_line(row["rules"])
        ]
        if behind and reference is not None:
            lines.append(
                f"  Rules behind the non-admits, with the excess over {reference} "
                "(applicants decided; percentage points of the group):"
            )
            lines += [f"    {group}: {text}" for group, text in behind]
    return lines


def equity_diff_text(reports: Sequence[Mapping[str, Any]]) -> list[str]:
    """Lines for `diff`: per field, each group's admit rate and judgement, old -> new."""
    lines: list[str] = _legend(reports)
    for report in reports:
        reference = report["reference"]
        lines += [
            "",
            f"Equity by {report['field']} ({_source(report)}); reference group old "
            f"{reference['old']}, new {reference['new']}:",
            f"  {'group':<20}{'n':>7}  {'admit old -> new':<24}{'ratio old -> new':<18}judgement",
        ]
        for row in report["groups"]:
            old, new = row["old"], row["new"]
            rates = (
                f"{_percent(old['outcomes'][ADMIT]['rate'])} -> "
                f"{_percent(new['outcomes'][ADMIT]['rate'])}"
            )
            ratios = f"{_ratio(old['admit_ratio'])} -> {_ratio(new['admit_ratio'])}"
            judgement = (
                new["judgement"]
                if old["judgement"] == new["judgement"]
                else f"{old['judgement']} -> {new['judgement']}"
            )
            flag = "  <- FLAGGED" if new["flagged"] else ""
            lines.append(
                f"  {row['group']:<20}{row['count']:>7}  {rates:<24}{ratios:<18}{judgement}{flag}"
            )
        moved = [
            (row["group"], _rule_line(row["new"]["rules"]))
            for row in report["groups"]
            if row["admit_change"] != 0 and row["group"] != reference["new"]
        ]
        moved = [(group, text) for group, text in moved if text]
        if moved:
            lines.append(
                f"  Rules behind the new version's non-admits, with the excess over "
                f"{reference['new']}:"
            )
            lines += [f"    {group}: {text}" for group, text in moved]
    return lines
