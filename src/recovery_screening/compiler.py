"""A validated ruleset document → an immutable compiled ruleset, checking meaning on the way.

Every problem is collected (unknown names, type mismatches, band gaps and overlaps, duplicate
ids, cycles between domains, undeclared referral targets) and reported together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from recovery_screening.document import plain_text
from recovery_screening.document.canonical import NotCanonical, canonical_hash, integral_as_int
from recovery_screening.document.reader import MAX_DEPTH, depth_exceeded
from recovery_screening.document.schema import schema_problems
from recovery_screening.errors import Location, Problem, RulesetError
from recovery_screening.expressions import (
    BOOLEAN,
    INTEGER,
    ExpressionError,
    Name,
    Node,
    ValueType,
    compile_expression,
    enum_type,
)
from recovery_screening.fields import (
    Band,
    BandTable,
    InputField,
    InputTable,
    actionable_problems,
    band_problems,
    input_problems,
    make_field,
)
from recovery_screening.instruments import (
    CompiledInstrument,
    compile_instrument,
    expression_problems,
)
from recovery_screening.outcomes import (
    ADMIT,
    DEFAULT_RULE,
    DEFER,
    INCOMPLETE_RULE,
    OUTCOMES,
    RANK,
    REFER,
    Outcome,
)

FORMAT_VERSIONS = {"recovery-screening/v1": 1, "recovery-screening/v2": 2}
SCREENING_DATE = "screening_date"
"""v2: the reserved date input a host sets (`evaluate(..., as_of=)`); evaluation reads no clock."""
SCREENING_DATE_LABEL = "Date of the screening"
INSTRUMENT_LABELS = {"admit": "scored", "defer": "incomplete", "refer": "safety follow-up"}

Condition = Callable[[Mapping[str, object]], object]
InstrumentResolver = Callable[[str], "tuple[Mapping[str, Any], str]"]


@dataclass(frozen=True)
class ReferralTarget:
    id: str
    kind: str
    title: str
    text: str | None


@dataclass(frozen=True)
class ScoringRule:
    id: str
    code: str
    text: str
    points: int
    condition: Condition
    references: tuple[str, ...]
    expression: Node = field(repr=False, compare=False)


@dataclass(frozen=True)
class Domain:
    name: str
    title: str
    aggregation: str
    cap: int | None
    rules: tuple[ScoringRule, ...]
    bands: BandTable
    score_key: str
    band_key: str
    reachable: tuple[int, int]
    conditions: tuple[Condition, ...] = field(init=False, repr=False, compare=False)
    points: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the hot path reads these tuples instead of walking rule objects
        object.__setattr__(self, "conditions", tuple(rule.condition for rule in self.rules))
        object.__setattr__(self, "points", tuple(rule.points for rule in self.rules))


@dataclass(frozen=True)
class DecisionRule:
    id: str
    outcome: Outcome
    rank: int
    code: str
    text: str
    referrals: tuple[str, ...]
    rescreen_after_days: int | None
    condition: Condition
    references: tuple[str, ...]
    source: str
    expression: Node = field(repr=False, compare=False)
    next_steps: bool = False
    """v2: whether next steps may lead past this rule (never for a safety rule)."""
    safety: bool = False
    """A safety rule: its condition reads a safety-critical input, or an instrument name over an
    item that a safety flag reads (not counting what it reads through domain scores)."""


@dataclass(frozen=True)
class Advisory:
    """v2: referrals and a note a decision carries when `condition` holds, whatever its outcome.

    It never changes the outcome, `needs` or the deciding rules; `ranks` are the final outcomes
    it applies to."""

    id: str
    code: str
    text: str
    referrals: tuple[str, ...]
    ranks: frozenset[int]
    condition: Condition
    references: tuple[str, ...]
    source: str
    expression: Node = field(repr=False, compare=False)


@dataclass(frozen=True)
class Fallback:
    """The default outcome, or the fail-safe defer (`incomplete`)."""

    id: str
    outcome: Outcome
    rank: int
    code: str
    text: str
    referrals: tuple[str, ...] = ()
    rescreen_after_days: int | None = None


@dataclass(frozen=True)
class PropertySpec:
    id: str
    text: str
    given: Condition | None
    given_source: str | None
    outcome_in: tuple[Outcome, ...]


@dataclass(frozen=True)
class CompiledRuleset:
    """Everything evaluation needs, computed once: no document is read while evaluating."""

    id: str
    version: str
    kind: str
    title: str
    description: str | None
    content_hash: str
    hit_policy: str
    outcome_labels: Mapping[str, str]
    inputs: InputTable
    instruments: tuple[CompiledInstrument, ...]
    domains: tuple[Domain, ...]
    decisions: tuple[DecisionRule, ...]
    default: Fallback
    incomplete: Fallback
    must_answer: tuple[str, ...]
    referral_targets: Mapping[str, ReferralTarget]
    symbols: Mapping[str, ValueType]
    dependencies: Mapping[str, frozenset[str]]
    properties: tuple[PropertySpec, ...]
    blank_facts: Mapping[str, None] = field(repr=False)
    format_version: int = 1
    """1 or 2, from the document's `format`: the screening ruleset's fixes the semantics."""
    advisories: tuple[Advisory, ...] = ()
    """v2: advisory rules, applied after the outcome is decided."""
    published: bool = True
    """False for a draft: no known lock pins it (or an instrument it uses); set by the loader."""
    decision_conditions: tuple[Condition, ...] = field(init=False, repr=False, compare=False)
    advisory_conditions: tuple[Condition, ...] = field(init=False, repr=False, compare=False)
    answer_labels: Mapping[str, Mapping[Any, str]] = field(init=False, repr=False, compare=False)
    """v2: input or item name -> answer value -> its display label (value_labels, answers)."""
    date_keys: frozenset[str] = field(init=False, repr=False, compare=False)
    questions: Mapping[str, Question] = field(init=False, repr=False, compare=False)
    """Each input's question as a person is asked it, by its applicant path (`phq9.q9`)."""

    def __post_init__(self) -> None:
        conditions = tuple(rule.condition for rule in self.decisions)
        object.__setattr__(self, "decision_conditions", conditions)
        advice = tuple(rule.condition for rule in self.advisories)
        object.__setattr__(self, "advisory_conditions", advice)
        labels: dict[str, Mapping[Any, str]] = {
            f.name: f.value_labels for f in self.inputs.fields if f.value_labels
        }
        for instrument in self.instruments:
            for key, answers in instrument.answer_options.items():
                worded = {(type(a.value), a.value): a.label for a in answers if a.label}
                if worded:
                    labels[key] = _TypedLabels(worded)
        object.__setattr__(self, "answer_labels", MappingProxyType(labels))
        dates = frozenset(name for name, kind in self.symbols.items() if kind.kind == "date")
        object.__setattr__(self, "date_keys", dates)
        object.__setattr__(self, "questions", MappingProxyType(_questions(self)))


@dataclass(frozen=True)
class Question:
    """An input as a question: its label, and the instruction stem its instrument asks it under
    (`Over the last 2 weeks, how often ...`), whitespace folded to single spaces."""

    label: str
    instructions: str | None


def _folded(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


def _questions(ruleset: CompiledRuleset) -> dict[str, Question]:
    stems = {i.alias: _folded(i.instructions) for i in ruleset.instruments}
    standalone = stems.get("") if ruleset.kind == "instrument" else None
    return {
        entry.name: Question(
            _folded(entry.label) or entry.name,
            standalone if entry.instrument is None else stems.get(entry.instrument),
        )
        for entry in ruleset.inputs.fields
    }


class _TypedLabels(Mapping[Any, str]):
    """Labels keyed by value and its type, so the answer 1 is never read as `true`."""

    def __init__(self, labels: Mapping[tuple[type, Any], str]) -> None:
        self._labels: dict[tuple[type, Any], str] = dict(labels)

    def __getitem__(self, value: Any) -> str:
        return self._labels[(type(value), value)]

    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in self._labels)

    def __len__(self) -> int:
        return len(self._labels)


def format_version(document: Mapping[str, Any]) -> int:
    """The ruleset format version a validated document declares (`recovery-screening/v<N>`)."""
    return FORMAT_VERSIONS[document["format"]]


def content_hash(document: Any) -> str:
    """SHA-256 of the document's RFC 8785 canonical JSON: formatting and key order do not count."""
    return canonical_hash(document)


def compile_document(
    document: Any, source: str, resolve_instrument: InstrumentResolver
) -> tuple[CompiledRuleset, Mapping[str, Any]]:
    """Validate and compile a ruleset document; raise RulesetError listing every problem.

    Returns the document compiled: the one given, with integral floats made integers."""
    if depth_exceeded(document):
        raise RulesetError(
            source, [Problem((), "too-deep", f"nesting deeper than {MAX_DEPTH} levels")]
        )
    document = integral_as_int(document)
    problems = schema_problems(document)
    if problems:
        raise RulesetError(source, problems)
    try:
        digest = content_hash(document)
    except NotCanonical as error:
        raise RulesetError(source, [Problem((), "not-canonical", str(error))]) from None
    if document["kind"] == "instrument":
        compiled = _compile_instrument_ruleset(document, source, digest)
    else:
        compiled = _Compiler(document, source, digest, resolve_instrument).compile()
    return compiled, document


def _compile_instrument_ruleset(
    document: Mapping[str, Any], source: str, digest: str
) -> CompiledRuleset:
    instrument, problems = compile_instrument(document, "", digest, ())
    if instrument is None:
        raise RulesetError(source, problems)
    targets = _referral_targets(document.get("referral_targets", {}))
    decisions = tuple(
        DecisionRule(
            id=f"flag-{flag.id.replace('_', '-')}",
            outcome="refer",
            rank=REFER,
            code=flag.code,
            text=flag.text,
            referrals=(flag.referral,) if flag.referral else (),
            rescreen_after_days=None,
            condition=_fact_reader(flag.key),
            references=(flag.key,),
            source=flag.key,
            expression=Name(flag.key, column=1, type=BOOLEAN),
        )
        for flag in instrument.flags
        if flag.referral is not None
    )
    symbols = instrument.symbols()
    labels = {**INSTRUMENT_LABELS, **document.get("outcome_labels", {})}
    return CompiledRuleset(
        id=document["id"],
        version=document["version"],
        kind="instrument",
        title=document["title"],
        description=document.get("description"),
        content_hash=digest,
        hit_policy="protective",
        outcome_labels=MappingProxyType(labels),
        inputs=InputTable(instrument.fields),
        instruments=(instrument,),
        domains=(),
        decisions=decisions,
        default=Fallback(
            DEFAULT_RULE, "admit", ADMIT, "SCORED", "Every item is answered; the total is complete."
        ),
        incomplete=Fallback(
            INCOMPLETE_RULE,
            "defer",
            DEFER,
            "INCOMPLETE",
            "Some items are unanswered, so the total cannot be scored.",
        ),
        must_answer=tuple(f.name for f in instrument.fields),
        referral_targets=MappingProxyType(targets),
        symbols=MappingProxyType(symbols),
        dependencies=MappingProxyType(instrument.dependencies()),
        properties=(),
        blank_facts=MappingProxyType(dict.fromkeys(symbols)),
        format_version=instrument.format_version,
    )


def _fact_reader(key: str) -> Condition:
    def condition(facts: Mapping[str, object]) -> object:
        return facts[key]

    return condition


def _referral_targets(spec: Mapping[str, Any]) -> dict[str, ReferralTarget]:
    return {
        target_id: ReferralTarget(
            target_id,
            target["kind"],
            plain_text(target["title"]),
            plain_text(target["text"]) if "text" in target else None,
        )
        for target_id, target in spec.items()
    }


def _as_tuple(referral: str | list[str] | None) -> tuple[str, ...]:
    if referral is None:
        return ()
    return (referral,) if isinstance(referral, str) else tuple(referral)


def _cycle_text(names: list[str], shown: int = 5) -> str:
    """`a → b → a`; a long cycle shows its first and last few domains and how many there are."""
    if len(names) <= 2 * shown + 1:
        return " → ".join(names)
    hidden = len(names) - 2 * shown
    return " → ".join([*names[:shown], f"… {hidden} more …", *names[-shown:]])


class _Compiler:
    """One compilation: collects problems as it goes, raises them all at the end."""

    def __init__(
        self,
        document: Mapping[str, Any],
        source: str,
        digest: str,
        resolve_instrument: InstrumentResolver,
    ) -> None:
        self.document = document
        self.source = source
        self.digest = digest
        self.resolve_instrument = resolve_instrument
        self.problems: list[Problem] = []
        self.symbols: dict[str, ValueType] = {}
        self.dependencies: dict[str, frozenset[str]] = {}
        self.rule_ids: set[str] = set()
        self.format_version = format_version(document)

    def compile(self) -> CompiledRuleset:
        document = self.document
        fields = self._inputs()
        instruments = self._instruments()
        self.instruments = instruments
        targets = _referral_targets(document.get("referral_targets", {}))
        self.targets = targets
        domains = self._domains()
        decisions = self._decisions()
        advisories = self._advisories()
        default = self._fallback(document["default"], DEFAULT_RULE, ("default",))
        incomplete_spec = document.get(
            "incomplete",
            {
                "code": "INCOMPLETE",
                "text": "Some answers that could change the outcome are missing.",
            },
        )
        incomplete = Fallback(
            INCOMPLETE_RULE,
            "defer",
            DEFER,
            incomplete_spec["code"],
            plain_text(incomplete_spec["text"]),
            (),
            incomplete_spec.get("rescreen_after_days"),
        )
        properties = self._properties()
        if self.problems:
            raise RulesetError(self.source, self.problems)
        all_fields = list(fields)
        for instrument in instruments:
            all_fields.extend(instrument.fields)
        must_answer = tuple(f.name for f in fields if f.must_answer)
        return CompiledRuleset(
            id=document["id"],
            version=document["version"],
            kind="screening",
            title=document["title"],
            description=document.get("description"),
            content_hash=self.digest,
            hit_policy=document.get("hit_policy", "protective"),
            outcome_labels=MappingProxyType(dict(document.get("outcome_labels", {}))),
            inputs=InputTable(tuple(all_fields)),
            instruments=tuple(instruments),
            domains=tuple(domains),
            decisions=tuple(decisions),
            default=default,
            incomplete=incomplete,
            must_answer=must_answer,
            referral_targets=MappingProxyType(targets),
            symbols=MappingProxyType(dict(self.symbols)),
            dependencies=MappingProxyType(dict(self.dependencies)),
            properties=tuple(properties),
            blank_facts=MappingProxyType(dict.fromkeys(self.symbols)),
            format_version=self.format_version,
            advisories=tuple(advisories),
        )

    # --- declarations -------------------------------------------------------------------

    def _declare(
        self, name: str, value_type: ValueType, deps: frozenset[str], path: Location
    ) -> None:
        if name in self.symbols:
            self.problems.append(
                Problem(path, "duplicate-name", f"the name '{name}' is declared twice")
            )
            return
        self.symbols[name] = value_type
        self.dependencies[name] = deps

    def _inputs(self) -> list[InputField]:
        fields = []
        for name, spec in self.document["inputs"].items():
            path = ("inputs", name)
            found = input_problems(spec, path, self.format_version)
            if self.format_version >= 2 and name == SCREENING_DATE:
                found.append(
                    Problem(
                        path,
                        "reserved-name",
                        f"'{SCREENING_DATE}' is reserved in format v2: the host passes it "
                        "(evaluate(..., as_of=date)) and conditions read it undeclared",
                    )
                )
            self.problems.extend(found)
            if found:
                continue
            self.problems.extend(actionable_problems(spec, path))
            input_field = make_field(name, spec)
            fields.append(input_field)
            self._declare(name, input_field.value_type, frozenset({name}), path)
        if self.format_version >= 2:
            reserved = make_field(
                SCREENING_DATE, {"type": "date", "label": SCREENING_DATE_LABEL}, reserved=True
            )
            fields.append(reserved)
            if SCREENING_DATE not in self.symbols:
                self._declare(SCREENING_DATE, reserved.value_type, frozenset({SCREENING_DATE}), ())
        return fields

    def _instruments(self) -> list[CompiledInstrument]:
        compiled = []
        for alias, reference in self.document.get("instruments", {}).items():
            path = ("instruments", alias)
            if alias in self.document["inputs"] or alias in self.document.get("domains", {}):
                self.problems.append(
                    Problem(path, "duplicate-name", f"'{alias}' is also an input or domain name")
                )
                continue
            try:
                instrument_document, digest = self.resolve_instrument(reference)
                instrument_document = integral_as_int(instrument_document)
            except RulesetError as error:
                self.problems.extend(
                    Problem(path, problem.code, f"in {reference}: {problem}")
                    for problem in error.problems
                )
                continue
            except LookupError as error:
                self.problems.append(Problem(path, "unknown-instrument", str(error)))
                continue
            if instrument_document.get("kind") != "instrument":
                self.problems.append(
                    Problem(path, "not-an-instrument", f"'{reference}' is not an instrument")
                )
                continue
            instrument, problems = compile_instrument(instrument_document, alias, digest, path)
            if instrument is None:
                self.problems.extend(problems)
                continue
            deps = instrument.dependencies()
            for name, value_type in instrument.symbols().items():
                self._declare(name, value_type, deps.get(name, frozenset({name})), path)
            compiled.append(instrument)
        return compiled

    # --- conditions ---------------------------------------------------------------------

    def _condition(
        self, source: str, path: Location
    ) -> tuple[Condition, tuple[str, ...], Node] | None:
        try:
            compiled = compile_expression(source, self.symbols)
        except ExpressionError as error:
            self.problems.extend(expression_problems(error, path))
            return None
        return compiled.evaluate, tuple(sorted(compiled.references)), compiled.ast

    def _rule_id(self, rule_id: str, path: Location) -> None:
        if rule_id in self.rule_ids:
            self.problems.append(
                Problem(path, "duplicate-id", f"rule id '{rule_id}' is used more than once")
            )
        self.rule_ids.add(rule_id)

    def _domains(self) -> list[Domain]:
        specs: dict[str, Any] = self.document.get("domains", {})
        for name, spec in specs.items():
            path = ("domains", name)
            if name in self.symbols:
                self.problems.append(
                    Problem(path, "duplicate-name", f"domain '{name}' is also an input name")
                )
            bands = tuple(b["name"] for b in spec["bands"])
            self.symbols[f"{name}.score"] = INTEGER
            self.symbols[f"{name}.band"] = enum_type(bands, ordered=True)
        rules = {name: self._scoring_rules(name, spec) for name, spec in specs.items()}
        reads = {
            name: {
                other
                for other in specs
                for rule in domain_rules
                if f"{other}.score" in rule.references or f"{other}.band" in rule.references
            }
            for name, domain_rules in rules.items()
        }
        compiled = []
        for name in self._domain_order(reads):
            domain = self._domain(name, specs[name], rules[name])
            if domain is not None:
                compiled.append(domain)
        return compiled

    def _scoring_rules(self, name: str, spec: Mapping[str, Any]) -> list[ScoringRule]:
        path = ("domains", name)
        rules = []
        for index, rule in enumerate(spec["rules"]):
            where = (*path, "rules", index)
            self._rule_id(rule["id"], where)
            compiled = self._condition(rule["when"], (*where, "when"))
            if compiled is not None:
                condition, references, expression = compiled
                rules.append(
                    ScoringRule(rule["id"], rule["code"], plain_text(rule["text"]), rule["points"],
                                condition, references, expression)
                )  # fmt: skip
        return rules

    def _domain_order(self, reads: Mapping[str, set[str]]) -> list[str]:
        """Domains in an order where each comes after the domains its rules read; report cycles.

        A depth-first walk kept on an explicit stack, so a chain of thousands of domains needs
        no recursion."""
        order: list[str] = []
        state: dict[str, int] = {}
        for root in reads:
            if state.get(root) == 2:
                continue
            state[root] = 1
            stack = [(root, iter(sorted(reads[root])))]
            while stack:
                name, others = stack[-1]
                other = next(others, None)
                if other is None:
                    stack.pop()
                    state[name] = 2
                    order.append(name)
                elif state.get(other) == 1:
                    trail = [entry[0] for entry in stack]
                    cycle = _cycle_text([*trail[trail.index(other) :], other])
                    self.problems.append(
                        Problem(
                            ("domains", other),
                            "cycle",
                            f"domains depend on each other in a cycle: {cycle}",
                        )
                    )
                elif state.get(other) != 2:
                    state[other] = 1
                    stack.append((other, iter(sorted(reads[other]))))
        return order

    def _domain(
        self, name: str, spec: Mapping[str, Any], rules: list[ScoringRule]
    ) -> Domain | None:
        path = ("domains", name)
        aggregation = spec.get("aggregation", "sum")
        cap = spec.get("cap")
        if cap is not None and aggregation != "sum":
            self.problems.append(
                Problem((*path, "cap"), "bad-cap", "'cap' applies only to aggregation: sum")
            )
        deps: set[str] = set()
        for rule in rules:
            for reference in rule.references:
                deps |= self.dependencies.get(reference, frozenset())
        points = [rule["points"] for rule in spec["rules"]]
        if aggregation == "sum":
            low = sum(p for p in points if p < 0)
            high = sum(p for p in points if p > 0)
            if cap is not None:
                low, high = min(low, cap), min(high, cap)
        else:
            low, high = min(0, *points), max(0, *points)
        bands = [Band(b["name"], b["min"], b["max"], b.get("label")) for b in spec["bands"]]
        found = band_problems(bands, (low, high), (*path, "bands"))
        self.problems.extend(found)
        self.dependencies[f"{name}.score"] = frozenset(deps)
        self.dependencies[f"{name}.band"] = frozenset(deps)
        if found or len(rules) != len(spec["rules"]):
            return None
        return Domain(
            name, spec["title"], aggregation, cap, tuple(rules), BandTable(tuple(bands)),
            f"{name}.score", f"{name}.band", (low, high),
        )  # fmt: skip

    def _referrals(self, referral: Any, path: Location) -> tuple[str, ...]:
        referrals = _as_tuple(referral)
        for target in referrals:
            if target not in self.targets:
                self.problems.append(
                    Problem(
                        path,
                        "unknown-referral",
                        f"referral target '{target}' is not declared in referral_targets",
                    )
                )
        return referrals

    def _rule(
        self, rule: Mapping[str, Any], where: Location
    ) -> tuple[tuple[str, ...], tuple[Condition, tuple[str, ...], Node]] | None:
        """A decision rule's or advisory's id, referrals and condition checked: its referrals and
        compiled condition, or None when the condition does not compile."""
        self._rule_id(rule["id"], where)
        referrals = self._referrals(rule.get("referral"), (*where, "referral"))
        compiled = self._condition(rule["when"], (*where, "when"))
        return None if compiled is None else (referrals, compiled)

    def _safety_answers(self) -> frozenset[str]:
        """The answers a safety rule reads: safety-critical inputs and safety flags' items."""
        found = {
            name for name, spec in self.document["inputs"].items() if spec.get("safety_critical")
        }
        for instrument in self.instruments:
            for flag in instrument.flags:
                if flag.safety:
                    found |= self.dependencies.get(flag.key, frozenset())
        return frozenset(found)

    def _reads(self, references: Iterable[str]) -> frozenset[str]:
        """The answers (inputs and instrument items) the names read, through domains."""
        found: set[str] = set()
        for reference in references:
            found |= self.dependencies.get(reference, frozenset({reference}))
        return frozenset(found)

    def _passable(
        self, rule: Mapping[str, Any], references: tuple[str, ...], where: Location
    ) -> bool:
        """Whether next steps may lead past a decision rule.

        A safety rule (its condition reads a safety-critical answer itself, or through an
        instrument) never; a rule that reads one only through a domain score, only when the
        ruleset says `next_steps: true`; otherwise a defer rule by default, a refer rule only when
        the ruleset says so."""
        safety = self._safety_rule(references)
        given = rule.get("next_steps")
        if given is True and safety:
            self.problems.append(
                Problem(
                    (*where, "next_steps"),
                    "safety-rule-next-steps",
                    f"rule '{rule['id']}' reads a safety-critical answer: next steps never lead "
                    "past a safety rule",
                )
            )
        if given is not None:
            return bool(given) and not safety
        through_domains = not self.safety_answers.isdisjoint(self._reads(references))
        return RANK[rule["outcome"]] != REFER and not through_domains

    def _safety_rule(self, references: tuple[str, ...]) -> bool:
        direct = [name for name in references if name not in self.domain_names]
        return not self.safety_answers.isdisjoint(self._reads(direct))

    def _decisions(self) -> list[DecisionRule]:
        decisions = []
        self.safety_answers = self._safety_answers()
        self.domain_names = {
            key
            for name in self.document.get("domains", {})
            for key in (f"{name}.score", f"{name}.band")
        }
        for index, rule in enumerate(self.document["decisions"]):
            where: Location = ("decisions", index)
            checked = self._rule(rule, where)
            if checked is None:
                continue
            referrals, (condition, references, expression) = checked
            decisions.append(
                DecisionRule(
                    id=rule["id"],
                    outcome=rule["outcome"],
                    rank=RANK[rule["outcome"]],
                    code=rule["code"],
                    text=plain_text(rule["text"]),
                    referrals=referrals,
                    rescreen_after_days=rule.get("rescreen_after_days"),
                    condition=condition,
                    references=references,
                    source=rule["when"],
                    expression=expression,
                    next_steps=self._passable(rule, references, where),
                    safety=self._safety_rule(references),
                )
            )
        return decisions

    def _advisories(self) -> list[Advisory]:
        advisories = []
        for index, rule in enumerate(self.document.get("advisories", [])):
            checked = self._rule(rule, ("advisories", index))
            if checked is None:
                continue
            referrals, (condition, references, expression) = checked
            advisories.append(
                Advisory(
                    id=rule["id"],
                    code=rule["code"],
                    text=plain_text(rule["text"]),
                    referrals=referrals,
                    ranks=frozenset(RANK[name] for name in rule.get("outcomes", OUTCOMES)),
                    condition=condition,
                    references=references,
                    source=rule["when"],
                    expression=expression,
                )
            )
        return advisories

    def _fallback(self, spec: Mapping[str, Any], fallback_id: str, path: Location) -> Fallback:
        return Fallback(
            fallback_id,
            spec["outcome"],
            RANK[spec["outcome"]],
            spec["code"],
            plain_text(spec["text"]),
            self._referrals(spec.get("referral"), (*path, "referral")),
            spec.get("rescreen_after_days"),
        )

    def _properties(self) -> list[PropertySpec]:
        properties = []
        for index, spec in enumerate(self.document.get("properties", [])):
            given = spec.get("given")
            condition: Condition | None = None
            if given is not None:
                compiled = self._condition(given, ("properties", index, "given"))
                if compiled is None:
                    continue
                condition = compiled[0]
            properties.append(
                PropertySpec(spec["id"], spec["text"], condition, given, tuple(spec["outcome_in"]))
            )
        return properties
