"""Static checks on a ruleset beyond schema validation, each with a stable code and a fix hint.

A ruleset that fails to load is reported as lint errors, one per problem the loader found
(unknown inputs, type mismatches, band gaps and overlaps, ...). A ruleset that loads is then
checked for rules that can never apply or add nothing, unreachable bands, unread inputs,
referrals without a target and reason codes reused with different texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from recovery_screening.compiler import CompiledRuleset, Domain
from recovery_screening.errors import (
    DocumentError,
    RulesetAltered,
    RulesetNotFound,
    ScreeningError,
    json_path,
)
from recovery_screening.expressions import (
    Comparison,
    ListLiteral,
    Logical,
    Name,
    Node,
    Not,
    ValueType,
    compile_expression,
)
from recovery_screening.expressions import Literal as LiteralNode
from recovery_screening.expressions.operators import COMPARATORS, enum_positions
from recovery_screening.ruleset import Ruleset, load_ruleset

Severity = Literal["error", "warning", "info"]
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_FINITE_LIMIT = 4096
_BRANCH_LIMIT = 256

HINTS: dict[str, str] = {
    "unknown-input": "declare the input under `inputs:` or correct the name (instrument items "
    "are `alias.qN`, domain values `domain.score` / `domain.band`)",
    "type-mismatch": "compare the input with a value of its declared type "
    "(see docs/expressions.md)",
    "unknown-value": "use one of the input's declared `values`",
    "band-gap": "make each band start one above the previous band's max",
    "band-overlap": "make each band start one above the previous band's max",
    "band-coverage": "widen the first or last band to cover every score the rules can give",
    "unreachable-band": "change the band limits or the rules' points so some score falls in the "
    "band, or remove the band",
    "never-applies": "the condition contradicts itself or the declared ranges: fix the "
    "comparison or remove the rule",
    "shadowed-rule": "an earlier rule with the same outcome already applies whenever this one "
    "does: remove it or give it a different outcome",
    "unused-input": "read the input in a rule, or remove it from `inputs:` so intake forms do "
    "not ask for it",
    "unread-safety-input": "add a decision rule that reads this safety-critical input (usually "
    "one that refers), or stop marking it safety_critical",
    "referral-without-target": "add `referral:` naming a target declared in `referral_targets:`",
    "reason-code-reused": "give each distinct text its own reason code, or make the texts equal",
}
_DEFAULT_HINT = "fix the ruleset at this path (see docs/ruleset-format.md)"
# A ruleset that fails to load for a reason outside its own text (an instrument it uses was
# edited after publishing, or cannot be found) is not "unreadable": the code says what is wrong.
_LOAD_ERRORS: dict[type[ScreeningError], tuple[str, str]] = {
    RulesetAltered: (
        "ruleset-altered",
        "restore the published file (or use a rulesets directory holding the published "
        "versions), or publish the change as a new version and name that version "
        "(see docs/auditing.md)",
    ),
    RulesetNotFound: (
        "ruleset-not-found",
        "put the ruleset in the rulesets directory as <id>/<version>.yaml, or correct the id "
        "or version that names it",
    ),
}


@dataclass(frozen=True)
class LintFinding:
    """One lint result: a stable code, a severity, where (JSON path and rule id) and the fix."""

    code: str
    severity: Severity
    path: str
    message: str
    hint: str
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LintReport:
    """The findings for one ruleset file (or document)."""

    source: str
    findings: tuple[LintFinding, ...]
    ruleset_id: str | None = None
    version: str | None = None
    readable: bool = True
    """False when there was no ruleset to lint: the file cannot be read or the id is unknown
    (the command exits 2 for that, as for any unusable input, and 1 for lint errors)."""

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.source,
            "id": self.ruleset_id,
            "version": self.version,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }


def lint_path(path: str | Path, *, rulesets_dir: str | Path | None = None) -> LintReport:
    """Load a ruleset (by path or id) and lint it; a ruleset that fails to load gives errors."""
    try:
        ruleset = load_ruleset(path, rulesets_dir=rulesets_dir)
    except ScreeningError as error:
        problems = getattr(error, "problems", None)
        if problems:
            findings = [
                LintFinding(p.code, "error", p.path, p.message, HINTS.get(p.code, _DEFAULT_HINT))
                for p in problems
            ]
        else:
            code, hint = _LOAD_ERRORS.get(type(error), ("unreadable", _DEFAULT_HINT))
            findings = [LintFinding(code, "error", "$", str(error), hint)]
        readable = not isinstance(error, (DocumentError, RulesetNotFound))
        return LintReport(str(path), tuple(findings), readable=readable)
    return LintReport(str(path), tuple(lint_ruleset(ruleset)), ruleset.id, ruleset.version)


def lint_ruleset(ruleset: Ruleset) -> list[LintFinding]:
    """Every finding for a ruleset that loaded, errors first, then in document order."""
    linter = _Linter(ruleset.compiled, ruleset.document)
    findings = linter.run()
    return sorted(findings, key=lambda f: _SEVERITY_ORDER[f.severity])


# --- the analysis of conditions ---------------------------------------------------------

# A name's possible values: a finite set, or a numeric interval (low, high) where None is open.
Possible = frozenset[Any] | tuple[float | None, float | None]
Env = dict[str, Possible]


def canonical(node: Node) -> Any:
    """A comparable form of a typed syntax tree, ignoring columns and operand order of and/or."""
    if isinstance(node, Logical):
        parts: list[Any] = []
        for operand in node.operands:
            inner = canonical(operand)
            if isinstance(inner, tuple) and inner[:2] == ("Logical", node.operator):
                parts.extend(inner[2])
            else:
                parts.append(inner)
        return ("Logical", node.operator, frozenset(parts))
    items: list[Any] = [type(node).__name__]
    for field in dataclasses.fields(node):
        if field.name in ("column", "type"):
            continue
        value = getattr(node, field.name)
        if isinstance(value, Node):
            items.append(canonical(value))
        elif isinstance(value, tuple):
            items.append(tuple(canonical(v) if isinstance(v, Node) else v for v in value))
        else:
            items.append((type(value).__name__, value))
    return tuple(items)


def _conjuncts(node: Node) -> frozenset[Any]:
    form = canonical(node)
    if form[:2] == ("Logical", "and"):
        return frozenset(form[2])
    return frozenset({form})


class _Analysis:
    """Which values each name can take, to find conditions that can never be true."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.symbols = compiled.symbols
        self.initial: dict[str, Possible] = {}
        fields = {f.name: f for f in compiled.inputs.fields}
        for name, value_type in compiled.symbols.items():
            possible = self._initial(name, value_type, fields)
            if possible is not None:
                self.initial[name] = possible

    def _initial(
        self, name: str, value_type: ValueType, fields: Mapping[str, Any]
    ) -> Possible | None:
        if value_type.kind == "boolean":
            return frozenset({True, False})
        if value_type.kind == "enum":
            for domain in self.compiled.domains:
                if name == domain.band_key:
                    return frozenset(reachable_bands(domain))
            return frozenset(value_type.values)
        if not value_type.is_numeric:
            return None
        derived = self._derived_numbers(name)
        if derived is not None:
            return derived
        field = fields.get(name)
        if field is None:
            return None
        if field.values:
            return frozenset(field.values)
        low, high = field.minimum, field.maximum
        if (
            value_type.kind == "integer"
            and low is not None
            and high is not None
            and high - low < _FINITE_LIMIT
        ):
            return frozenset(range(int(low), int(high) + 1))
        return (low, high)

    def _derived_numbers(self, name: str) -> Possible | None:
        """The scores a domain or an instrument total can take, when `name` is one."""
        for domain in self.compiled.domains:
            if name == domain.score_key:
                return frozenset(reachable_scores(domain))
        for instrument in self.compiled.instruments:
            if name == instrument.total_key:
                low, high = instrument.total_range
                return frozenset(range(low, high + 1))
        return None

    def never_true(self, node: Node) -> bool:
        """True when no answers can make the condition true."""
        return not self._narrow(node, {}, positive=True)

    def _narrow(self, node: Node, env: Env, *, positive: bool) -> list[Env]:
        """The ways `node` (or its negation) can be true, each as narrowed possibilities."""
        if isinstance(node, Not):
            return self._narrow(node.operand, env, positive=not positive)
        if isinstance(node, Logical):
            return self._narrow_logical(node, env, positive=positive)
        if isinstance(node, Name) and node.type is not None and node.type.kind == "boolean":
            return self._restrict(env, node.name, "==", positive)
        if isinstance(node, Comparison):
            return self._narrow_comparison(node, env, positive=positive)
        return [env]

    def _narrow_logical(self, node: Logical, env: Env, *, positive: bool) -> list[Env]:
        if (node.operator == "and") == positive:
            envs = [env]
            for operand in node.operands:
                envs = [e2 for e in envs for e2 in self._narrow(operand, e, positive=positive)]
                if len(envs) > _BRANCH_LIMIT:
                    return [env]
            return envs
        alternatives = [
            e2 for operand in node.operands for e2 in self._narrow(operand, env, positive=positive)
        ]
        return alternatives if len(alternatives) <= _BRANCH_LIMIT else [env]

    def _narrow_comparison(self, node: Comparison, env: Env, *, positive: bool) -> list[Env]:
        operator = node.operator if positive else COMPARATORS[node.operator].negated
        left, right = node.left, node.right
        if isinstance(left, (LiteralNode, ListLiteral)) and isinstance(right, Name):
            mirrored = COMPARATORS[operator].mirrored
            if mirrored is None:
                return [env]
            left, right, operator = right, left, mirrored
        if isinstance(left, Name):
            if isinstance(right, LiteralNode):
                return self._restrict(env, left.name, operator, right.value)
            if isinstance(right, ListLiteral) and operator in ("in", "not in"):
                values = frozenset(item.value for item in right.items)
                return self._restrict(env, left.name, operator, values)
        return [env]

    def _restrict(self, env: Env, name: str, operator: str, value: Any) -> list[Env]:
        possible = env.get(name, self.initial.get(name))
        if possible is None:
            return [env]
        value_type = self.symbols[name]
        if isinstance(possible, frozenset):
            kept = frozenset(v for v in possible if _holds(v, operator, value, value_type))
            narrowed: Possible = kept
            empty = not kept
        else:
            low, high = possible
            if operator in ("==",) and isinstance(value, (int, float)):
                low = value if low is None else max(low, value)
                high = value if high is None else min(high, value)
            elif operator in (">", ">=") and isinstance(value, (int, float)):
                low = value if low is None else max(low, value)
            elif operator in ("<", "<=") and isinstance(value, (int, float)):
                high = value if high is None else min(high, value)
            narrowed = (low, high)
            strict = operator in ("<", ">") and low is not None and low == high
            empty = low is not None and high is not None and (low > high or strict)
        if empty:
            return []
        return [{**env, name: narrowed}]


def _holds(candidate: Any, operator: str, value: Any, value_type: ValueType) -> bool:
    comparator = COMPARATORS[operator]
    if comparator.ordering and value_type.kind == "enum":
        positions = enum_positions(value_type)
        if candidate not in positions or value not in positions:
            return True
        candidate, value = positions[candidate], positions[value]
    try:
        return bool(comparator.holds(candidate, value))
    except TypeError:
        return True


def reachable_scores(domain: Domain) -> set[int]:
    """Every score the domain's rules can give, from the points available."""
    points = [rule.points for rule in domain.rules]
    if domain.aggregation == "sum":
        sums = {0}
        for p in points:
            sums |= {s + p for s in sums}
        if domain.cap is not None:
            sums = {min(s, domain.cap) for s in sums}
        return sums
    return {0, *points}


def reachable_bands(domain: Domain) -> list[str]:
    """The bands some reachable score falls into, in band order."""
    scores = reachable_scores(domain)
    return [
        band.name
        for band in domain.bands.bands
        if any(band.minimum <= s <= band.maximum for s in scores)
    ]


# --- the checks -------------------------------------------------------------------------


class _Linter:
    def __init__(self, compiled: CompiledRuleset, document: Mapping[str, Any]) -> None:
        self.compiled = compiled
        self.document = document
        self.findings: list[LintFinding] = []
        self.analysis = _Analysis(compiled)

    def add(
        self, code: str, severity: Severity, path: str, message: str, rule: str | None = None
    ) -> None:
        self.findings.append(LintFinding(code, severity, path, message, HINTS[code], rule))

    def run(self) -> list[LintFinding]:
        if self.compiled.kind != "screening":
            return []
        self.bands()
        self.conditions()
        self.shadowed()
        self.inputs()
        self.referrals()
        self.reason_codes()
        return self.findings

    def _ast(self, source: str) -> Node:
        return compile_expression(source, self.compiled.symbols).ast

    def bands(self) -> None:
        for domain in self.compiled.domains:
            scores = sorted(reachable_scores(domain))
            reachable = set(reachable_bands(domain))
            for index, band in enumerate(domain.bands.bands):
                if band.name not in reachable:
                    self.add(
                        "unreachable-band",
                        "warning",
                        json_path(["domains", domain.name, "bands", index]),
                        f"no score the rules can give ({_score_list(scores)}) falls in band "
                        f"'{band.name}' ({band.minimum} to {band.maximum})",
                    )

    def conditions(self) -> None:
        for domain_name, spec in self.document.get("domains", {}).items():
            for index, rule in enumerate(spec["rules"]):
                path = json_path(["domains", domain_name, "rules", index, "when"])
                if self.analysis.never_true(self._ast(rule["when"])):
                    self.add(
                        "never-applies", "warning", path,
                        f"scoring rule '{rule['id']}' can never apply: its condition cannot be "
                        "true for any answers the inputs allow",
                        rule["id"],
                    )  # fmt: skip
        for index, rule in enumerate(self.document["decisions"]):
            if self.analysis.never_true(self._ast(rule["when"])):
                self.add(
                    "never-applies", "warning", f"$.decisions[{index}].when",
                    f"decision rule '{rule['id']}' can never apply: its condition cannot be true "
                    "for any answers the inputs allow (or any score the domains can reach)",
                    rule["id"],
                )  # fmt: skip

    def shadowed(self) -> None:
        rules = self.document["decisions"]
        any_outcome = self.compiled.hit_policy == "first"
        seen: list[tuple[int, str, str, Any, frozenset[Any]]] = []
        for index, rule in enumerate(rules):
            ast = self._ast(rule["when"])
            form, parts = canonical(ast), _conjuncts(ast)
            for earlier_index, earlier_id, outcome, earlier_form, earlier_parts in seen:
                if not any_outcome and outcome != rule["outcome"]:
                    continue
                if form == earlier_form or earlier_parts <= parts:
                    how = (
                        "the same condition as"
                        if form == earlier_form
                        else "a condition that implies that of"
                    )
                    self.add(
                        "shadowed-rule", "warning", f"$.decisions[{index}].when",
                        f"decision rule '{rule['id']}' has {how} the earlier rule "
                        f"'{earlier_id}' ($.decisions[{earlier_index}]) with outcome "
                        f"{outcome}: it never changes a decision",
                        rule["id"],
                    )  # fmt: skip
                    break
            seen.append((index, rule["id"], rule["outcome"], form, parts))

    def _read_inputs(self, references: Iterable[str]) -> set[str]:
        read: set[str] = set()
        for reference in references:
            read |= self.compiled.dependencies.get(reference, frozenset({reference}))
        return read

    def inputs(self) -> None:
        compiled = self.compiled
        by_rules: set[str] = set()
        for domain in compiled.domains:
            for scoring in domain.rules:
                by_rules |= self._read_inputs(scoring.references)
        by_decisions: set[str] = set()
        for decision in compiled.decisions:
            by_decisions |= self._read_inputs(decision.references)
        for advisory in compiled.advisories:
            by_rules |= self._read_inputs(advisory.references)
        for name, field in compiled.inputs.top.items():
            if field.reserved:
                continue
            path = json_path(["inputs", name])
            if name not in by_rules and name not in by_decisions:
                self.add(
                    "unused-input", "warning", path,
                    f"input '{name}' is declared but no scoring, decision or advisory rule "
                    "reads it",
                )  # fmt: skip
            if field.safety_critical and name not in by_decisions:
                self.add(
                    "unread-safety-input", "error", path,
                    f"safety-critical input '{name}' is not read by any decision rule (directly "
                    "or through a domain)",
                )  # fmt: skip

    def referrals(self) -> None:
        for index, rule in enumerate(self.document["decisions"]):
            if rule["outcome"] == "refer" and not rule.get("referral"):
                self.add(
                    "referral-without-target", "error", f"$.decisions[{index}]",
                    f"decision rule '{rule['id']}' refers but names no referral target",
                    rule["id"],
                )  # fmt: skip
        default = self.document["default"]
        if default["outcome"] == "refer" and not default.get("referral"):
            self.add(
                "referral-without-target", "error", "$.default",
                "the default outcome refers but names no referral target",
            )  # fmt: skip

    def reason_codes(self) -> None:
        texts: dict[str, tuple[str, str, str]] = {}
        compiled = self.compiled
        entries: list[tuple[str, str, str, str | None]] = [
            ("$.default", compiled.default.code, compiled.default.text, None),
            ("$.incomplete", compiled.incomplete.code, compiled.incomplete.text, None),
        ]
        for domain_name, spec in self.document.get("domains", {}).items():
            for index, rule in enumerate(spec["rules"]):
                path = json_path(["domains", domain_name, "rules", index])
                entries.append((path, rule["code"], " ".join(rule["text"].split()), rule["id"]))
        for index, rule in enumerate(self.document["decisions"]):
            entries.append(
                (f"$.decisions[{index}]", rule["code"], " ".join(rule["text"].split()), rule["id"])
            )
        for path, code, text, rule_id in entries:
            normal = " ".join(text.split())
            first = texts.get(code)
            if first is None:
                texts[code] = (path, normal, rule_id or "")
            elif first[1] != normal:
                self.add(
                    "reason-code-reused", "warning", path,
                    f"reason code '{code}' is also used at {first[0]} with a different text",
                    rule_id,
                )  # fmt: skip


def _score_list(scores: list[int]) -> str:
    if len(scores) > 12:
        return f"{scores[0]} to {scores[-1]}, not every value"
    return ", ".join(str(s) for s in scores)
