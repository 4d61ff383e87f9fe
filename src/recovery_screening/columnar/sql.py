"""A compiled ruleset -> one SQL query that decides a whole table of applicants, row by row.

The query reads a table with one typed column per declared input (`"phq9.q9"`, NULL for a
missing answer) and computes, per row, what `trace_v1` computes for one applicant: instrument
totals, bands, subscores and flags, each scoring rule's truth, each domain's score range, score
and band (with `settle`: a rule over an unsettled domain is tried against every score the range
allows), each decision rule's truth, the outcome under the hit policy and the fail-safe, the
deciding rules, `needs`, the referral targets (advisory ones included) and the re-screen interval.

SQL's NULL logic is Kleene logic, the engine's three-valued logic, so `AND`, `OR`, `NOT`,
comparisons and `IN` carry over as they are; `+` is NULL when any operand is, which is the
instrument total's "unknown if any item is unanswered" (no aggregate `SUM`, which skips NULLs).
What SQL does not reproduce is announced in `ColumnarQuery.notes` and marked per row in the
`certain` column: the caller decides those rows with the scalar engine. For format v2 (exact
semantics) `exact_sql` adds the range evaluation over the missing answers (interval totals) and
the proofs of what the exact search would leave undecided; a v2 row neither decides is not
`certain`.

The SQL is written in the subset DuckDB and Spark SQL share (or that sqlglot transpiles):
double-quoted identifiers, CASE, COALESCE, LEAST / GREATEST, list literals and one
`LIST_FILTER(..., lambda x: x IS NOT NULL)` per list column (`FILTER(..., x -> ...)` in Spark).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from recovery_screening.columnar.sql_text import (
    EXACT_LIMIT,
    SQL_TYPES,
    ExpressionWriter,
    Uncompilable,
    _all,
    _any,
    _band_case,
    _domain_range,
    _is_true,
    _least,
    _list,
    _not_false,
    _points_sql,
    literal,
    quote,
    string_literal,
)
from recovery_screening.compiler import CompiledRuleset, Domain
from recovery_screening.expressions import (
    Node,
)
from recovery_screening.fields import InputField
from recovery_screening.outcomes import ADMIT, DEFAULT_RULE, DEFER, INCOMPLETE_RULE, OUTCOMES, REFER
from recovery_screening.three_valued import MAX_SETTLE_COMBINATIONS

MAX_SETTLE_TRIALS = 256
"""Trials written into the SQL for one rule over unsettled domains; past it the rows where that
rule would be settled are decided by the scalar engine (announced at compile time)."""


class _Rule(Protocol):
    """A scoring rule, decision rule or advisory: what the SQL reads of it."""

    @property
    def id(self) -> str: ...
    @property
    def references(self) -> tuple[str, ...]: ...
    @property
    def expression(self) -> Node: ...


# --- the query -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputColumn:
    name: str
    kind: str
    """boolean, integer, number, string, date, list (of strings)."""


@dataclass(frozen=True)
class ColumnarQuery:
    """The compiled query of one ruleset and what it needs and gives."""

    ruleset: CompiledRuleset
    inputs: tuple[InputField, ...]
    """The input columns the query reads, by `field.name`, typed as `SQL_TYPES[field.kind]`."""
    outputs: tuple[OutputColumn, ...]
    notes: tuple[str, ...]
    """What the SQL does not decide itself: those rows have `certain` false."""
    sql_template: str = field(repr=False)

    def sql(self, table: str = "applicants", passthrough: Sequence[str] = ()) -> str:
        """The query over `table` (a table or view name, used as written); the `passthrough`
        columns of the table (a row id, say) come first in the result, as they are."""
        passed = "".join(f"{quote(name)}, " for name in passthrough)
        return self.sql_template.replace("{passthrough}", passed).replace("{table}", table)


class _Query:
    """Builds the layers of one query: each a `SELECT *, <new columns> FROM <previous>`."""

    def __init__(self, compiled: CompiledRuleset) -> None:
        self.compiled = compiled
        self.columns: list[tuple[str, str]] = []
        self.names: dict[str, str] = {}
        self.notes: list[str] = []
        self.uncertain: list[str] = []
        self.bounds = _bounds(compiled)
        self.domain_of_key: dict[str, Domain] = {}
        self.prefix = ""
        """Of the outcome columns the result lists read (`x:` for format v2's)."""
        self.exact = False
        """Format v2 with the range evaluation over missing answers (`exact_sql`)."""

    def layer(self, columns: list[tuple[str, str]]) -> None:
        """Add computed columns (in dependency order: each reads only earlier columns)."""
        self.columns.extend(columns)

    def scheduled(self) -> list[list[tuple[str, str]]]:
        """The columns in as few layers as their dependencies allow: a column goes in the layer
        after the last one it reads. (DuckDB binds `SELECT *` over many layers slowly.)"""
        level: dict[str, int] = {}
        layers: list[list[tuple[str, str]]] = []
        for name, sql in self.columns:
            reads = {_unquote(m) for m in _IDENTIFIER.findall(sql)}
            depth = max((level[r] + 1 for r in reads if r in level), default=0)
            level[name] = depth
            while len(layers) <= depth:
                layers.append([])
            layers[depth].append((name, sql))
        return layers

    def writer(self, names: Mapping[str, str] | None = None) -> ExpressionWriter:
        return ExpressionWriter(names if names is not None else self.names, self.bounds)

    # --- instruments -------------------------------------------------------------------------

    def instruments(self) -> None:
        totals: list[tuple[str, str]] = []
        bands: list[tuple[str, str]] = []
        flags: list[tuple[str, str]] = []
        for instrument in self.compiled.instruments:
            points = {key: _points_sql(instrument, key) for key, _ in instrument.points}
            totals.append((instrument.total_key, "(" + " + ".join(points.values()) + ")"))
            for subscore in instrument.subscores:
                summed = "(" + " + ".join(points[key] for key in subscore.item_keys) + ")"
                if subscore.mean:
                    summed = f"(CAST({summed} AS DOUBLE) / {len(subscore.item_keys)})"
                totals.append((subscore.key, summed))
            if instrument.bands is not None:
                bands.append(
                    (instrument.band_key, _band_case(instrument.bands, quote(instrument.total_key)))
                )
        self.layer(totals)
        self.layer(bands)
        for instrument in self.compiled.instruments:
            for flag in instrument.flags:
                if flag.expression is None:
                    raise Uncompilable(f"flag {flag.key} has no expression tree")
                flags.append((flag.key, self.writer().write(flag.expression)))
        self.layer(flags)
        for instrument in self.compiled.instruments:
            keys = [instrument.total_key, *(s.key for s in instrument.subscores)]
            keys += [f.key for f in instrument.flags]
            if instrument.bands is not None:
                keys.append(instrument.band_key)
            for key in keys:
                self.names[key] = quote(key)

    # --- rule stages -------------------------------------------------------------------------

    def stage(self, label: str, rules: Sequence[_Rule], open_before: Sequence[Domain]) -> None:
        """The truth columns `rule:<id>` of one stage's rules, settled over open domains."""
        raw = [(f"raw:{rule.id}", self.writer().write(rule.expression)) for rule in rules]
        self.layer(raw)
        keys = {key: d for d in open_before for key in (d.score_key, d.band_key)}
        reading = [
            sorted({keys[r].name: keys[r] for r in rule.references if r in keys}.values(),
                   key=lambda d: d.name)
            for rule in rules
        ]  # fmt: skip
        if not any(reading):
            self.layer([(f"rule:{rule.id}", quote(f"raw:{rule.id}")) for rule in rules])
            return
        pending: list[str] = []
        for rule, domains in zip(rules, reading, strict=True):
            is_open = _any(f"{_lo(d)} <> {_hi(d)}" for d in domains)
            pending.append(
                f"({quote('raw:' + rule.id)} IS NULL AND {is_open})" if domains else "FALSE"
            )
        involved = sorted({d.name: d for domains in reading for d in domains}.values(),
                          key=lambda d: d.name)  # fmt: skip
        factors = []
        for domain in involved:
            readers = [p for p, domains in zip(pending, reading, strict=True) if domain in domains]
            factors.append(
                f"(CASE WHEN {_lo(domain)} <> {_hi(domain)} AND {_any(readers)} "
                f"THEN {_hi(domain)} - {_lo(domain)} + 1 ELSE 1 END)"
            )
        self.layer(
            [(f"settle:{label}", f"({' * '.join(factors)} <= {MAX_SETTLE_COMBINATIONS})")]
            + [(f"pending:{rule.id}", p) for rule, p in zip(rules, pending, strict=True)]
        )
        settled: list[tuple[str, str]] = []
        for rule, domains in zip(rules, reading, strict=True):
            raw_sql = quote(f"raw:{rule.id}")
            if not domains:
                settled.append((f"rule:{rule.id}", raw_sql))
                continue
            when = f"{quote('settle:' + label)} AND {quote('pending:' + rule.id)}"
            trials = self._trials(rule, domains)
            if trials is None:
                self.notes.append(
                    f"rule {rule.id}: settling it over the domains "
                    f"{', '.join(d.name for d in domains)} takes more than {MAX_SETTLE_TRIALS} "
                    "trials; rows where it is settled are decided by the scalar engine"
                )
                self.uncertain.append(f"({when})")
                settled.append((f"rule:{rule.id}", raw_sql))
                continue
            all_true = _all(f"(NOT {active} OR {_is_true(cond)})" for active, cond in trials)
            all_false = _all(f"(NOT {active} OR NOT {_not_false(cond)})" for active, cond in trials)
            settled.append(
                (
                    f"rule:{rule.id}",
                    f"(CASE WHEN {when} THEN (CASE WHEN {all_true} THEN TRUE "
                    f"WHEN {all_false} THEN FALSE ELSE NULL END) ELSE {raw_sql} END)",
                )
            )
        self.layer(settled)

    def _trials(self, rule: _Rule, domains: Sequence[Domain]) -> list[tuple[str, str]] | None:
        """(active, condition) for every score (or band) combination of the domains the rule
        reads; a combination is active when every score lies in its domain's range."""
        options: list[list[tuple[str, dict[str, str]]]] = []
        references = rule.references
        count = 1
        for domain in domains:
            choices: list[tuple[str, dict[str, str]]] = []
            low, high = domain.reachable
            if domain.score_key in references:
                for score in range(low, high + 1):
                    band_name = domain.bands.band_of(score)
                    choices.append(
                        (
                            f"({score} BETWEEN {_lo(domain)} AND {_hi(domain)})",
                            {domain.score_key: str(score), domain.band_key: literal(band_name)},
                        )
                    )
            else:
                for band in domain.bands.bands:
                    if band.maximum < low or band.minimum > high:
                        continue
                    choices.append(
                        (
                            f"({_lo(domain)} <= {band.maximum} "
                            f"AND {_hi(domain)} >= {band.minimum})",
                            {domain.band_key: string_literal(band.name)},
                        )
                    )
            count *= len(choices)
            if count > MAX_SETTLE_TRIALS:
                return None
            options.append(choices)
        trials = []
        for combination in itertools.product(*options):
            names = dict(self.names)
            actives = []
            for active, substitution in combination:
                actives.append(active)
                names.update(substitution)
            trials.append((_all(actives), self.writer(names).write(rule.expression)))
        return trials

    # --- domains -----------------------------------------------------------------------------

    def domains(self) -> None:
        done: list[Domain] = []
        for domain in self.compiled.domains:
            self.stage(domain.name, domain.rules, done)
            truths = [quote(f"rule:{rule.id}") for rule in domain.rules]
            low, high = _domain_range(domain, truths)
            self.layer([(f"lo:{domain.name}", low), (f"hi:{domain.name}", high)])
            lo, hi = _lo(domain), _hi(domain)
            self.layer(
                [
                    (domain.score_key, f"(CASE WHEN {lo} = {hi} THEN {lo} END)"),
                    (
                        domain.band_key,
                        f"(CASE WHEN {_band_case(domain.bands, lo)} = "
                        f"{_band_case(domain.bands, hi)} THEN {_band_case(domain.bands, lo)} END)",
                    ),
                ]
            )
            self.names[domain.score_key] = quote(domain.score_key)
            self.names[domain.band_key] = quote(domain.band_key)
            for key in (domain.score_key, domain.band_key):
                self.domain_of_key[key] = domain
            if not self.exact:  # exact v2's needs are exact_sql's
                self._open_missing(domain)
            done.append(domain)

    def _open_missing(self, domain: Domain) -> None:
        """`m:<domain>:<input>`: whether the unsettled domain needs that missing input (the
        inputs its undecided scoring rules read, `three_valued.missing_inputs`)."""
        columns = []
        for name in sorted(self._possible(domain.rules)):
            terms = [
                f"({quote('rule:' + rule.id)} IS NULL AND {self.reads(name, rule.references)})"
                for rule in domain.rules
                if name in self._possible([rule])
            ]
            columns.append((f"m:{domain.name}:{name}", _any(terms)))
        self.layer(columns)

    def _possible(self, rules: Iterable[_Rule]) -> set[str]:
        """Inputs that `missing_inputs` could name for these rules."""
        found: set[str] = set()
        for rule in rules:
            for reference in rule.references:
                domain = self.domain_of_key.get(reference)
                if domain is not None:
                    found |= self._possible(domain.rules)
                else:
                    found |= set(self.compiled.dependencies.get(reference, ()))
        return found

    def reads(self, name: str, references: Sequence[str]) -> str:
        """SQL: `name` is among `missing_inputs(references)` on this row."""
        terms = []
        for reference in references:
            domain = self.domain_of_key.get(reference)
            fact = self.names[reference]
            if domain is not None:
                if name in self._possible(domain.rules):
                    terms.append(f"({fact} IS NULL AND {quote(f'm:{domain.name}:{name}')})")
            elif name in self.compiled.dependencies.get(reference, ()):
                terms.append(f"({fact} IS NULL AND {quote(name)} IS NULL)")
        return _any(terms)

    # --- decision ----------------------------------------------------------------------------

    def decision(self) -> None:
        compiled = self.compiled
        rules = compiled.decisions
        self.stage("decisions", rules, compiled.domains)
        truth = [quote(f"rule:{rule.id}") for rule in rules]
        default = compiled.default.rank
        if compiled.hit_policy == "first":
            cases = " ".join(
                f"WHEN {_is_true(t)} THEN {rule.rank}" for t, rule in zip(truth, rules, strict=True)
            )
            rank0 = f"(CASE {cases} ELSE {default} END)" if rules else str(default)
            earlier = [_any(_is_true(t) for t in truth[:i]) for i in range(len(rules))]
            deciding = [f"({_is_true(t)} AND NOT {e})" for t, e in zip(truth, earlier, strict=True)]
            blocking = [
                f"({t} IS NULL AND NOT {e} AND {rule.rank} > {quote('rank0')})"
                for t, e, rule in zip(truth, earlier, rules, strict=True)
            ]
        else:
            pairs = list(zip(truth, rules, strict=True))
            cases = " ".join(
                f"WHEN {_any(_is_true(t) for t, r in pairs if r.rank == rank)} THEN {rank}"
                for rank in (REFER, DEFER, ADMIT)
                if any(r.rank == rank for r in rules)
            )
            rank0 = f"(CASE {cases} ELSE {default} END)" if cases else str(default)
            deciding = [
                f"({_is_true(t)} AND {rule.rank} = {quote('rank0')})"
                for t, rule in zip(truth, rules, strict=True)
            ]
            blocking = [
                f"({t} IS NULL AND {rule.rank} > {quote('rank0')})"
                for t, rule in zip(truth, rules, strict=True)
            ]
        self.layer([("rank0", rank0)])
        must = [quote(key) + " IS NULL" for key in compiled.must_answer]
        self.layer(
            [(f"deciding:{rule.id}", d) for rule, d in zip(rules, deciding, strict=True)]
            + [(f"blocking:{rule.id}", b) for rule, b in zip(rules, blocking, strict=True)]
        )
        any_blocking = _any(quote(f"blocking:{rule.id}") for rule in rules)
        self.layer(
            [("fail_safe", f"({quote('rank0')} = {ADMIT} AND ({any_blocking} OR {_any(must)}))")]
        )
        self.layer(
            [("rank", f"(CASE WHEN {quote('fail_safe')} THEN {DEFER} ELSE {quote('rank0')} END)")]
        )

    def advisories(self) -> None:
        compiled = self.compiled
        if not compiled.advisories:
            return
        self.stage("advisories", compiled.advisories, compiled.domains)
        applied = []
        for advisory in compiled.advisories:
            ranks = ", ".join(str(rank) for rank in sorted(advisory.ranks))
            applied.append(
                (
                    f"applied:{advisory.id}",
                    f"({_is_true(quote('rule:' + advisory.id))} AND {quote('rank')} IN ({ranks}))",
                )
            )
        self.layer(applied)

    def needs(self) -> str:
        compiled = self.compiled
        candidates: dict[str, list[str]] = {}
        for rule in compiled.decisions:
            for name in self._possible([rule]):
                candidates.setdefault(name, []).append(
                    f"({quote('blocking:' + rule.id)} AND {self.reads(name, rule.references)})"
                )
        for name in compiled.must_answer:
            candidates.setdefault(name, []).append(f"({quote('rank')} <> {REFER})")
        items = [
            f"CASE WHEN {quote(name)} IS NULL AND {_any(candidates[name])} "
            f"THEN {string_literal(name)} END"
            for name in sorted(candidates)
        ]
        return _list(items)

    def deciding_list(self) -> str:
        compiled = self.compiled
        p = self.prefix
        fail_safe = quote(p + "fail_safe")
        any_deciding = _any(quote(f"{p}deciding:{rule.id}") for rule in compiled.decisions)
        items = [f"CASE WHEN {fail_safe} THEN {string_literal(INCOMPLETE_RULE)} END"]
        items.append(
            f"CASE WHEN NOT {fail_safe} AND NOT {any_deciding} "
            f"THEN {string_literal(DEFAULT_RULE)} END"
        )
        items += [
            f"CASE WHEN NOT {fail_safe} AND {quote(p + 'deciding:' + rule.id)} "
            f"THEN {string_literal(rule.id)} END"
            for rule in compiled.decisions
        ]
        return _list(items)

    def referrals(self) -> str:
        """Deciding (or default) referral targets in rule order, then the applied advisories'
        new ones; each target once, where it first appears (`Decision._referral_pairs`)."""
        compiled = self.compiled
        p = self.prefix
        fail_safe = quote(p + "fail_safe")
        any_deciding = _any(quote(f"{p}deciding:{rule.id}") for rule in compiled.decisions)
        sources: list[tuple[str, tuple[str, ...]]] = [
            (f"(NOT {fail_safe} AND NOT {any_deciding})", compiled.default.referrals)
        ]
        sources += [
            (f"(NOT {fail_safe} AND {quote(p + 'deciding:' + rule.id)})", rule.referrals)
            for rule in compiled.decisions
        ]
        sources += [(quote(f"{p}applied:{a.id}"), a.referrals) for a in compiled.advisories]
        items = []
        for index, (active, targets) in enumerate(sources):
            seen_here: set[str] = set()
            for target in targets:
                if target in seen_here:
                    continue
                seen_here.add(target)
                earlier = [a for a, named in sources[:index] if target in named]
                condition = f"{active} AND NOT {_any(earlier)}" if earlier else active
                items.append(f"CASE WHEN {condition} THEN {string_literal(target)} END")
        return _list(items)

    def rescreen(self) -> str:
        compiled = self.compiled
        p = self.prefix
        days = [
            f"CASE WHEN {quote(p + 'deciding:' + rule.id)} THEN {rule.rescreen_after_days} END"
            for rule in compiled.decisions
            if rule.rescreen_after_days is not None
        ]
        any_deciding = _any(quote(f"{p}deciding:{rule.id}") for rule in compiled.decisions)
        deciding_days = _least(days) if days else "NULL"
        return (
            f"(CASE WHEN {quote(p + 'fail_safe')} "
            f"THEN {literal(compiled.incomplete.rescreen_after_days)} "
            f"WHEN NOT {any_deciding} THEN {literal(compiled.default.rescreen_after_days)} "
            f"ELSE {deciding_days} END)"
        )

    def certain(self, more: Sequence[str] = ()) -> str:
        terms = [*self.uncertain, *more]
        return f"(NOT {_any(terms)})" if terms else "TRUE"


_IDENTIFIER = re.compile(r'"((?:[^"]|"")*)"')


def _unquote(name: str) -> str:
    return name.replace('""', '"')


def _lo(domain: Domain) -> str:
    return quote(f"lo:{domain.name}")


def _hi(domain: Domain) -> str:
    return quote(f"hi:{domain.name}")


def _compact_v2(compiled: CompiledRuleset, notes: list[str]) -> list[str]:
    """The compact query's v2 rows that are not `certain`: an unanswered instrument item, an
    undecided scoring or decision rule, an undecided advisory not provably undecided (with
    every item answered, a read-once condition whose parts over answers go both ways)."""
    from recovery_screening.columnar.exact_sql import provable_with_items_answered

    items = [quote(key) for instrument in compiled.instruments for key, _ in instrument.points]
    truths = [quote(f"rule:{rule.id}") for d in compiled.domains for rule in d.rules]
    truths += [quote(f"rule:{rule.id}") for rule in compiled.decisions]
    truths += [
        quote(f"rule:{rule.id}")
        for rule in compiled.advisories
        if not provable_with_items_answered(compiled, rule.expression)
    ]
    if items or truths:
        notes.append(
            "format v2 (exact semantics), compact query: rows with an unanswered instrument "
            "item, or an undecided scoring or decision rule, or an undecided advisory the SQL "
            "cannot prove undecided, are decided by the scalar engine"
        )
    return [f"{name} IS NULL" for name in items + truths]


def _bounds(compiled: CompiledRuleset) -> dict[str, float]:
    """|value| bounds of the facts, from the declared ranges (for `magnitude`)."""
    bounds: dict[str, float] = {}
    for f in compiled.inputs.fields:
        if f.kind in ("integer", "number"):
            limits = [abs(v) for v in f.values] if f.values else [f.minimum, f.maximum]
            bounds[f.name] = (
                math.inf if any(v is None for v in limits) else float(max(abs(v) for v in limits))  # type: ignore[arg-type]
            )
    for instrument in compiled.instruments:
        bounds[instrument.total_key] = float(max(abs(v) for v in instrument.total_range))
        for subscore in instrument.subscores:
            bounds[subscore.key] = bounds[instrument.total_key]
    for domain in compiled.domains:
        bounds[domain.score_key] = float(max(abs(v) for v in domain.reachable))
    return bounds


def output_columns(compiled: CompiledRuleset) -> tuple[OutputColumn, ...]:
    """The per-row result columns of a ruleset, in order (see `batch.BatchResult`)."""
    columns = [
        OutputColumn("outcome", "string"),
        OutputColumn("deciding", "list"),
        OutputColumn("needs", "list"),
        OutputColumn("referrals", "list"),
        OutputColumn("advisories", "list"),
        OutputColumn("rescreen_after_days", "integer"),
        OutputColumn("fail_safe", "boolean"),
    ]
    columns += [OutputColumn(f"rule:{rule.id}", "boolean") for rule in compiled.decisions]
    columns += [OutputColumn(f"rule:{rule.id}", "boolean") for rule in compiled.advisories]
    for domain in compiled.domains:
        columns += [OutputColumn(f"rule:{rule.id}", "boolean") for rule in domain.rules]
        columns += [
            OutputColumn(domain.score_key, "integer"),
            OutputColumn(f"{domain.name}.score_low", "integer"),
            OutputColumn(f"{domain.name}.score_high", "integer"),
            OutputColumn(domain.band_key, "string"),
        ]
    for instrument in compiled.instruments:
        columns.append(OutputColumn(instrument.total_key, "integer"))
        if instrument.bands is not None:
            columns.append(OutputColumn(instrument.band_key, "string"))
        for subscore in instrument.subscores:
            kind = "number" if subscore.mean else "integer"
            columns.append(OutputColumn(subscore.key, kind))
        columns += [OutputColumn(flag.key, "boolean") for flag in instrument.flags]
    return tuple(columns)


def compile_query(compiled: CompiledRuleset, *, exact: bool = True) -> ColumnarQuery:
    """The columnar query of a compiled ruleset; raises Uncompilable for what SQL cannot do.

    For format v2, `exact` false gives the compact query: no range evaluation over missing
    answers (`exact_sql`), so a v2 row with an unanswered item or an undecided scoring or
    decision rule is not `certain`. About half as long: Spark plans it in a fraction of the
    time the full one takes."""
    query = _Query(compiled)
    query.exact = exact and compiled.format_version != 1
    for f in compiled.inputs.fields:
        query.names[f.name] = quote(f.name)
    for name in compiled.symbols:
        query.names.setdefault(name, quote(name))
    query.instruments()
    query.domains()
    more_uncertain: list[str] = []
    if not query.exact:
        query.decision()
        query.advisories()
        needs = query.needs()
        applied = "applied:"
        sql_of: dict[str, str] = {}
        if compiled.format_version != 1:
            more_uncertain = _compact_v2(compiled, query.notes)
    else:
        from recovery_screening.columnar.exact_sql import ExactLayers

        query.stage("decisions", compiled.decisions, compiled.domains)
        if compiled.advisories:
            query.stage("advisories", compiled.advisories, compiled.domains)
        layers = ExactLayers(query)
        layers.counts()
        layers.instruments()
        layers.domains()
        layers.stage(compiled.decisions)
        layers.stage(compiled.advisories)
        rules: list[_Rule] = [r for d in compiled.domains for r in d.rules]
        rules += [*compiled.decisions, *compiled.advisories]
        layers.settled(rules)
        layers.outcome()
        query.prefix = "x:"
        needs = layers.needs()
        applied = "x:applied:"
        sql_of = layers.outputs()
        more_uncertain = layers.certain(rules)
        query.notes.append(
            "format v2 (exact semantics): rows where a rule the ranges over the missing answers "
            "leave undecided is not provably undecided, or where the outcome needs the search "
            "over the missing answers, are decided by the scalar engine"
        )
    cases = " ".join(
        f"WHEN {rank} THEN {string_literal(name)}" for rank, name in enumerate(OUTCOMES)
    )
    advisories = [
        f"CASE WHEN {quote(applied + a.id)} THEN {string_literal(a.id)} END"
        for a in compiled.advisories
    ]
    sql_of.update(
        {
            "outcome": f"(CASE {quote(query.prefix + 'rank')} {cases} END)",
            "deciding": query.deciding_list(),
            "needs": needs,
            "referrals": query.referrals(),
            "advisories": _list(advisories),
            "rescreen_after_days": query.rescreen(),
            "fail_safe": quote(query.prefix + "fail_safe"),
        }
    )
    if not query.exact:
        for domain in compiled.domains:
            sql_of[f"{domain.name}.score_low"] = _lo(domain)
            sql_of[f"{domain.name}.score_high"] = _hi(domain)
    columns = output_columns(compiled)
    outputs = [(OutputColumn("certain", "boolean"), query.certain(more_uncertain))]
    outputs += [(column, sql_of.get(column.name, quote(column.name))) for column in columns]
    ctes = []
    previous = "{table}"
    for index, layer in enumerate(query.scheduled()):
        selected = ", ".join(f"{sql} AS {quote(name)}" for name, sql in layer)
        ctes.append(f"s{index} AS (SELECT *, {selected} FROM {previous})")
        previous = f"s{index}"
    final = ", ".join(f"{sql} AS {quote(column.name)}" for column, sql in outputs)
    template = f"WITH {', '.join(ctes)} SELECT {{passthrough}}{final} FROM {previous}"
    return ColumnarQuery(
        compiled,
        compiled.inputs.fields,
        tuple(column for column, _ in outputs),
        tuple(query.notes),
        template,
    )


__all__ = [
    "EXACT_LIMIT",
    "SQL_TYPES",
    "ColumnarQuery",
    "OutputColumn",
    "Uncompilable",
    "compile_query",
    "literal",
    "output_columns",
    "quote",
    "string_literal",
]
