"""Evaluate a whole cohort as a stream: outcome mix, reasons, referrals, rule coverage, domain
score distributions and which missing answers defer most people.

Only the cheap parts of each decision are read (outcome, needs, deciding rules, referral
targets, and the trace's rule truths and domain facts), so no explanation model is built.
Invalid applicants are counted by field and rule code — never by value — and the run goes on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery_screening.compiler import CompiledRuleset
from recovery_screening.decision import Decision
from recovery_screening.designer._cohort import (
    CellError,
    Chunk,
    RulesetSpec,
    csv_applicant,
    csv_header_problems,
    default_workers,
    map_chunks,
    read_chunks,
    ruleset_spec,
)
from recovery_screening.designer.equity import (
    EquityTally,
    GroupField,
    Grouping,
    equity_report,
    equity_text,
)
from recovery_screening.document.reader import parse_document_bytes
from recovery_screening.errors import DocumentError, InvalidApplicant
from recovery_screening.outcomes import DEFER, OUTCOMES
from recovery_screening.ruleset import Ruleset

MAX_EXAMPLE_LINES = 5


@dataclass
class Tally:
    """Counts from part of a cohort; tallies merge by adding, in file order."""

    applicants: int = 0
    evaluated: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    referrals: Counter[str] = field(default_factory=Counter)
    decision_fired: Counter[str] = field(default_factory=Counter)
    scoring_fired: Counter[str] = field(default_factory=Counter)
    scores: dict[str, Counter[int | None]] = field(default_factory=dict)
    bands: dict[str, Counter[str | None]] = field(default_factory=dict)
    needs: Counter[str] = field(default_factory=Counter)
    invalid: Counter[tuple[str, str]] = field(default_factory=Counter)
    invalid_lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    needs_alone: Counter[str] = field(default_factory=Counter)
    """Needs of deferred applicants for whom that one answer is the only one missing."""
    equity: EquityTally | None = None

    def merge(self, other: Tally) -> None:
        self.applicants += other.applicants
        self.evaluated += other.evaluated
        self.outcomes.update(other.outcomes)
        self.reasons.update(other.reasons)
        self.referrals.update(other.referrals)
        self.decision_fired.update(other.decision_fired)
        self.scoring_fired.update(other.scoring_fired)
        for name, counts in other.scores.items():
            self.scores.setdefault(name, Counter()).update(counts)
        for name, band_counts in other.bands.items():
            self.bands.setdefault(name, Counter()).update(band_counts)
        self.needs.update(other.needs)
        self.needs_alone.update(other.needs_alone)
        if other.equity is not None:
            if self.equity is None:
                self.equity = EquityTally(other.equity.width)
            self.equity.merge(other.equity)
        self.invalid.update(other.invalid)
        for key, lines in other.invalid_lines.items():
            mine = self.invalid_lines.setdefault(key, [])
            mine.extend(lines[: MAX_EXAMPLE_LINES - len(mine)])

    def count_invalid(self, path: str, code: str, line: int) -> None:
        key = (path, code)
        self.invalid[key] += 1
        lines = self.invalid_lines.setdefault(key, [])
        if len(lines) < MAX_EXAMPLE_LINES:
            lines.append(line)


def parse_row(
    chunk: Chunk, row: tuple[int, Any], fields: dict[str, Any], tally: Tally
) -> dict[str, Any] | None:
    """One cohort row as an applicant, or None (counted as invalid) when it cannot be read."""
    line, raw = row
    if chunk.kind == "csv":
        try:
            return csv_applicant(fields, chunk.header, raw)
        except CellError as error:
            tally.count_invalid(_column_path(error.column), "csv-cell", line)
            return None
    try:
        applicant = parse_document_bytes(raw, f"line {line}", yaml_syntax=False)
    except DocumentError as error:
        for problem in error.problems[:1]:
            tally.count_invalid(problem.path, problem.code, line)
        return None
    if not isinstance(applicant, dict):
        tally.count_invalid("$", "type", line)
        return None
    return applicant


def _column_path(column: str) -> str:
    return "$" if column == "$" else "$." + column


class SimulationWorker:
    """Evaluates chunks of one cohort against one ruleset (one instance per worker process)."""

    def __init__(self, spec: RulesetSpec, group_by: tuple[str, ...] = ()) -> None:
        ruleset = spec.load()
        self.ruleset = ruleset
        self.compiled: CompiledRuleset = ruleset.compiled
        self.fields = {f.name: f for f in ruleset.inputs}
        self.grouping = Grouping.for_rulesets((ruleset,), group_by)

    def __call__(self, chunk: Chunk) -> Tally:
        compiled = self.compiled
        tally = Tally(scores={d.name: Counter() for d in compiled.domains},
                      bands={d.name: Counter() for d in compiled.domains})  # fmt: skip
        evaluate = self.ruleset.evaluate
        split = self.grouping.split
        equity = tally.equity = EquityTally(len(self.grouping.fields))
        for row in chunk.rows:
            tally.applicants += 1
            raw = parse_row(chunk, row, self.fields, tally)
            if raw is None:
                continue
            applicant, labels = split(raw)
            try:
                decision = evaluate(applicant)
            except InvalidApplicant as error:
                for problem in error.problems:
                    tally.count_invalid(problem.path, problem.code, row[0])
                continue
            self._count(tally, decision)
            if labels:
                equity.add(labels, decision.outcome, decision.deciding)
        return tally

    def _count(self, tally: Tally, decision: Decision) -> None:
        """Add one decision to the tally: outcome, reasons, referrals, rules fired, scores."""
        compiled = self.compiled
        decisions = compiled.decisions
        trace = decision.trace  # counted from the trace: no explanation is built
        tally.evaluated += 1
        tally.outcomes[OUTCOMES[trace.rank]] += 1
        if trace.fail_safe:
            tally.reasons[compiled.incomplete.code] += 1
        elif not trace.deciding:
            tally.reasons[compiled.default.code] += 1
        else:
            for index in trace.deciding:
                tally.reasons[decisions[index].code] += 1
        tally.referrals.update(decision.referral_targets)
        for index, truth in enumerate(trace.truths):
            if truth is True:
                tally.decision_fired[decisions[index].id] += 1
        for domain, (truths, _, _) in zip(compiled.domains, trace.domains, strict=True):
            for rule, truth in zip(domain.rules, truths, strict=True):
                if truth is True:
                    tally.scoring_fired[rule.id] += 1
            tally.scores[domain.name][trace.facts[domain.score_key]] += 1  # type: ignore[index]
            tally.bands[domain.name][trace.facts[domain.band_key]] += 1  # type: ignore[index]
        needs = decision.needs
        tally.needs.update(needs)
        if len(needs) == 1 and trace.rank == DEFER:
            tally.needs_alone.update(needs)


@dataclass(frozen=True)
class Simulation:
    """The result of a simulation: the merged tally and the ruleset it was run with."""

    ruleset: Ruleset
    cohort: str
    tally: Tally
    group_by: tuple[GroupField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON data; every list is in a stable order."""
        compiled = self.ruleset.compiled
        tally = self.tally
        coverage = [
            {"rule": rule.id, "kind": "decision", "outcome": rule.outcome,
             "fired": tally.decision_fired[rule.id]}
            for rule in compiled.decisions
        ] + [
            {"rule": rule.id, "kind": "scoring", "domain": domain.name,
             "fired": tally.scoring_fired[rule.id]}
            for domain in compiled.domains
            for rule in domain.rules
        ]  # fmt: skip
        domains = []
        for domain in compiled.domains:
            scores = tally.scores.get(domain.name, Counter())
            bands = tally.bands.get(domain.name, Counter())
            domains.append(
                {
                    "name": domain.name,
                    "title": domain.title,
                    "score_range": list(domain.reachable),
                    "scores": {
                        str(s): scores[s] for s in sorted(k for k in scores if k is not None)
                    },
                    "undecided": scores[None],
                    "bands": {b: bands[b] for b in domain.bands.names},
                    "band_unknown": bands[None],
                    "band_ranges": [
                        {"name": band.name, "minimum": band.minimum, "maximum": band.maximum}
                        for band in domain.bands.bands
                    ],
                }
            )
        labels = {f.name: f.label for f in self.ruleset.inputs}
        result: dict[str, Any] = {
            "ruleset": {"id": compiled.id, "version": compiled.version,
                        "content_hash": compiled.content_hash},
            "cohort": self.cohort,
            "applicants": tally.applicants,
            "evaluated": tally.evaluated,
            "invalid": tally.applicants - tally.evaluated,
            "outcomes": {name: tally.outcomes[name] for name in OUTCOMES},
            "reasons": _ranked(tally.reasons),
            "referrals": _ranked(tally.referrals),
            "rule_coverage": coverage,
            "never_fired": [entry["rule"] for entry in coverage if entry["fired"] == 0],
            "domains": domains,
            "needs": [
                {**entry, "label": labels.get(entry["name"]),
                 "alone": tally.needs_alone[entry["name"]]}
                for entry in _ranked(tally.needs)
            ],
            "invalid_answers": [
                {"path": path, "code": code, "count": count,
                 "first_lines": tally.invalid_lines.get((path, code), [])}
                for (path, code), count in sorted(tally.invalid.items(),
                                                  key=lambda item: (-item[1], item[0]))
            ],
        }  # fmt: skip
        if self.group_by:
            result["equity"] = equity_report(self.group_by, tally.equity or EquityTally(0))
        return result


def _ranked(counts: Counter[str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "count": count}
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def simulate(
    ruleset: Ruleset,
    cohort: str | Path,
    *,
    workers: int | None = None,
    rulesets_dir: str | Path | None = None,
    progress: Callable[[int], None] | None = None,
    group_by: tuple[str, ...] = (),
    engine: str = "auto",
) -> Simulation:
    """Evaluate every applicant in a JSONL or CSV cohort file; memory does not grow with it.

    `progress(n)` is called with the number of applicants in each chunk as it is merged.
    `group_by` names inputs or side-car columns (`cohort.<name>`) for the equity report.
    `engine`: `columnar` (DuckDB, the `columnar` extra; JSON Lines), `scalar` (a process pool
    over `Ruleset.evaluate`), or `auto`: columnar where it can run; both count the same. The
    equity report (`group_by`) is counted by the scalar engine.
    """
    from recovery_screening.designer._batches import chosen_engine, simulate_columnar

    fields = Grouping.for_rulesets((ruleset,), group_by).fields
    if not group_by and chosen_engine(engine, cohort) == "columnar":
        tally = simulate_columnar(ruleset, cohort, progress, Tally(), workers)
        return Simulation(ruleset, str(cohort), tally)
    chunks = read_chunks(cohort)
    chunks = _checked(ruleset, chunks, str(cohort))
    total = Tally(equity=EquityTally(len(fields)))
    for tally in map_chunks(
        chunks, SimulationWorker, (ruleset_spec(ruleset, rulesets_dir), tuple(group_by)),
        workers if workers is not None else default_workers(),
    ):  # fmt: skip
        total.merge(tally)
        if progress is not None:
            progress(tally.applicants)
    return Simulation(ruleset, str(cohort), total, fields)


def _checked(ruleset: Ruleset, chunks: Iterator[Chunk], source: str) -> Iterator[Chunk]:
    """Check a CSV header once before any row is evaluated."""
    first = True
    for chunk in chunks:
        if first and chunk.kind == "csv":
            problems = csv_header_problems(ruleset, chunk.header)
            if problems:
                raise DocumentError(source, problems)
        first = False
        yield chunk


def summary_text(simulation: Simulation) -> str:
    """The simulation for a person: counts and percentages, most frequent first."""
    data = simulation.to_dict()
    evaluated = data["evaluated"] or 1
    lines = [
        f"Simulated {data['ruleset']['id']} {data['ruleset']['version']} on {data['cohort']}",
        f"Applicants: {data['applicants']} (evaluated {data['evaluated']}, "
        f"invalid {data['invalid']})",
        "",
        "Outcomes:",
    ]
    lines += [
        f"  {name:<8}{count:>9}  {100 * count / evaluated:5.1f}%"
        for name, count in data["outcomes"].items()
    ]
    lines += ["", "Reasons (deciding):"]
    lines += [f"  {r['name']:<40}{r['count']:>9}" for r in data["reasons"]]
    lines += ["", "Referral targets:"]
    lines += [f"  {r['name']:<40}{r['count']:>9}" for r in data["referrals"]] or ["  (none)"]
    lines += ["", "Rule coverage (applicants for whom each rule applied):"]
    for entry in data["rule_coverage"]:
        lines.append(f"  {entry['kind']:<9}{entry['rule']:<40}{entry['fired']:>9}")
    never = data["never_fired"]
    lines += ["", f"Rules that never fired: {', '.join(never) if never else '(none)'}"]
    lines += [
        "",
        "Domain bands, and how many had an unknown band or exact score (missing answers; a band",
        "can be known while the exact score is not):",
    ]
    for domain in data["domains"]:
        bands = ", ".join(f"{band} {count}" for band, count in domain["bands"].items())
        lines.append(
            f"  {domain['name']}: {bands}, band unknown {domain['band_unknown']}; "
            f"exact score unknown {domain['undecided']}"
        )
        scores = " ".join(f"{score}:{count}" for score, count in domain["scores"].items())
        lines.append(f"    scores {scores}")
    lines += ["", "Missing answers that were needed (needs), most frequent first:"]
    lines += [f"  {r['name']:<40}{r['count']:>9}" for r in data["needs"][:20]] or ["  (none)"]
    if data["invalid_answers"]:
        lines += ["", "Invalid applicants, by field and rule (first lines):"]
        for entry in data["invalid_answers"]:
            first = ", ".join(str(n) for n in entry["first_lines"])
            lines.append(f"  {entry['path']} [{entry['code']}]: {entry['count']} (lines {first})")
    if "equity" in data:
        lines += equity_text(data["equity"])
    return "\n".join(lines)
