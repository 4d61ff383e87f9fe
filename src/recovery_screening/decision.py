"""Decisions: the compact trace an evaluation records, and the explanation built from it on demand.

`Decision` is the decision core: it answers the cheap questions (outcome, deciding rules, needs,
referral ids) from its `Trace` at once, and imports nothing heavy. The explanation — reasons,
every domain's contributions, instrument scores — is built from the trace by one function,
`explanation()`, the first time it is read: as plain dicts for `to_dict()` / `to_json()`, or as
the pydantic models of `recovery_screening.models` for `decision.model` (pydantic is imported
only then). `explain()` renders that model through the outline in `recovery_screening.explain`.
Records, FHIR and CDS Hooks are functions of their own packages that take a `Decision`.
"""

from __future__ import annotations

import datetime
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from recovery_screening._version import __version__
from recovery_screening.compiler import CompiledRuleset
from recovery_screening.fields import JsonScalar
from recovery_screening.outcomes import DEFAULT_RULE, INCOMPLETE_RULE, OUTCOMES, Outcome

if TYPE_CHECKING:
    from recovery_screening.explain import Audience
    from recovery_screening.models import (
        DecisionModel,
        DomainScore,
        InstrumentScore,
        Reason,
        Referral,
        UndecidedRule,
    )
    from recovery_screening.next_steps import NextSteps

ENGINE_NAME = "recovery-screening"
_NEXT_STEPS = "recovery_screening.next_steps"
"""The outer module `Decision.next_steps()` delegates to (imported by name, on first use)."""


@dataclass(frozen=True)
class Trace:
    """What an evaluation found, in compact form: enough to build the whole explanation.

    `facts` holds every value conditions read (answers, instrument totals, bands and flags,
    domain scores and bands; None when unknown); `truths` the decision rules' truth values
    (True / False / None for undecided) and `domains` each domain's scoring-rule truths with its
    lowest and highest possible score; `rank` indexes `compiler.OUTCOMES`; `deciding` indexes
    `ruleset.decisions`; `fail_safe` says the outcome was lowered to defer for missing answers.
    """

    ruleset: CompiledRuleset
    facts: Mapping[str, object]
    domains: tuple[tuple[tuple[object, ...], int, int], ...]
    truths: tuple[object, ...]
    rank: int
    deciding: tuple[int, ...]
    fail_safe: bool
    needs: tuple[str, ...]
    backend: str
    undecided_missing: tuple[tuple[str, ...], ...] = ()
    advisory_truths: tuple[object, ...] = ()
    """v2: each advisory's condition (True / False / None for unknown)."""
    advisory_missing: tuple[tuple[str, ...], ...] = ()
    """v2: for each advisory left unknown, the missing answers it reads."""
    exact: bool = True
    """v2: False when the exact search reached its bound and the fail-safe answered."""


def _json_value(value: object) -> JsonScalar:
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value  # type: ignore[return-value]


def _evidence(
    facts: Mapping[str, object], references: tuple[str, ...], date_keys: frozenset[str]
) -> dict[str, JsonScalar]:
    if date_keys and not date_keys.isdisjoint(references):
        return {name: _json_value(facts[name]) for name in references}
    return {name: facts[name] for name in references}  # type: ignore[misc]


Node = Callable[..., Any]


class Shapes(NamedTuple):
    """How each node of the explanation is made from its keyword fields.

    `PLAIN` makes JSON-ready dicts (`to_dict()`); the model shapes make the pydantic model of
    the same name in `recovery_screening.models.NODES` (`decision.model`). A new kind of node
    is a field here, a model in `models.NODES`, and a call in `explanation()`.
    """

    reason: Node
    contribution: Node
    domain: Node
    flag: Node
    instrument: Node
    undecided: Node
    referral: Node
    advisory: Node
    undecided_advisory: Node
    question: Node
    instrument_ref: Node
    ruleset: Node
    engine: Node
    decision: Node


PLAIN = Shapes(*[dict] * len(Shapes._fields))
"""The explanation as JSON-ready dicts, keys in the order `explanation()` passes them."""

_model_shapes: Shapes | None = None


def model_shapes() -> Shapes:
    """The explanation as the pydantic models of `recovery_screening.models` (imported now)."""
    global _model_shapes
    if _model_shapes is None:
        from recovery_screening.models import NODES, constructor

        _model_shapes = Shapes(**{name: constructor(model) for name, model in NODES.items()})
    return _model_shapes


class Decision:
    """An explainable admit / defer / refer decision for one applicant."""

    __slots__ = ("_dict", "_json", "_model", "_trace")

    def __init__(self, trace: Trace) -> None:
        self._trace = trace
        self._dict: dict[str, Any] | None = None
        self._json: str | None = None
        self._model: DecisionModel | None = None

    # --- the cheap answers --------------------------------------------------------------

    @property
    def outcome(self) -> Outcome:
        return OUTCOMES[self._trace.rank]

    @property
    def outcome_label(self) -> str | None:
        return self._trace.ruleset.outcome_labels.get(self.outcome)

    @property
    def needs(self) -> tuple[str, ...]:
        """Missing answers (applicant paths such as `phq9.q9`) that could change the outcome."""
        return self._trace.needs

    @property
    def deciding(self) -> tuple[str, ...]:
        """Ids of the rules that decided the outcome (`default` / `incomplete` when no rule did)."""
        trace = self._trace
        if trace.fail_safe:
            return (INCOMPLETE_RULE,)
        if not trace.deciding:
            return (DEFAULT_RULE,)
        return tuple(trace.ruleset.decisions[i].id for i in trace.deciding)

    @property
    def referral_targets(self) -> tuple[str, ...]:
        """Ids of the referral targets for this outcome."""
        return tuple(target for target, _, _ in self._referral_pairs())

    @property
    def rescreen_after_days(self) -> int | None:
        trace = self._trace
        if trace.fail_safe:
            return trace.ruleset.incomplete.rescreen_after_days
        if not trace.deciding:
            return trace.ruleset.default.rescreen_after_days
        days = [
            trace.ruleset.decisions[i].rescreen_after_days
            for i in trace.deciding
            if trace.ruleset.decisions[i].rescreen_after_days is not None
        ]
        return min(days) if days else None  # type: ignore[type-var]

    @property
    def backend(self) -> str:
        return self._trace.backend

    @property
    def ruleset_id(self) -> str:
        return self._trace.ruleset.id

    @property
    def ruleset_version(self) -> str:
        return self._trace.ruleset.version

    @property
    def ruleset_hash(self) -> str:
        return self._trace.ruleset.content_hash

    @property
    def trace(self) -> Trace:
        """The compact record the explanation is built from (see `Trace`)."""
        return self._trace

    @property
    def facts(self) -> Mapping[str, object]:
        """Every value the rules read, by the name conditions use (`phq9.total`,
        `motivation.band`, an input's name); None where it is unknown. Read-only."""
        return MappingProxyType(self._trace.facts)

    @property
    def advisories(self) -> tuple[str, ...]:
        """Ids of the advisories that applied (v2 rulesets; empty otherwise)."""
        trace = self._trace
        return tuple(trace.ruleset.advisories[i].id for i in self._applied_advisories())

    def _applied_advisories(self) -> list[int]:
        trace = self._trace
        rank = trace.rank
        return [
            index
            for index, (rule, truth) in enumerate(
                zip(trace.ruleset.advisories, trace.advisory_truths, strict=True)
            )
            if truth is True and rank in rule.ranks
        ]

    def _referral_pairs(self) -> list[tuple[str, str, bool]]:
        """(target, rule id, advisory): the deciding referrals, then the advisories' new ones."""
        trace = self._trace
        pairs: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        if trace.fail_safe:
            pass
        elif not trace.deciding:
            pairs = [(target, DEFAULT_RULE, False) for target in trace.ruleset.default.referrals]
            seen.update(trace.ruleset.default.referrals)
        else:
            for index in trace.deciding:
                rule = trace.ruleset.decisions[index]
                for target in rule.referrals:
                    if target not in seen:
                        seen.add(target)
                        pairs.append((target, rule.id, False))
        if trace.advisory_truths:
            for index in self._applied_advisories():
                advisory = trace.ruleset.advisories[index]
                for target in advisory.referrals:
                    if target not in seen:
                        seen.add(target)
                        pairs.append((target, advisory.id, True))
        return pairs

    # --- the whole explanation, built on demand -----------------------------------------

    @property
    def model(self) -> DecisionModel:
        """The explained decision as a pydantic model (built from the trace on first use)."""
        if self._model is None:
            self._model = explanation(self, model_shapes())
        return self._model

    @property
    def reasons(self) -> list[Reason]:
        return self.model.reasons

    @property
    def domains(self) -> list[DomainScore]:
        return self.model.domains

    @property
    def instruments(self) -> list[InstrumentScore]:
        return self.model.instruments

    @property
    def referrals(self) -> list[Referral]:
        return self.model.referrals

    @property
    def undecided(self) -> list[UndecidedRule]:
        return self.model.undecided

    def domain(self, name: str) -> DomainScore:
        """One domain's score, band and contributions."""
        for domain in self.model.domains:
            if domain.name == name:
                return domain
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The explained decision as JSON-ready dicts, in the field order of `DecisionModel`."""
        if self._dict is None:
            self._dict = explanation(self, PLAIN)
        return self._dict

    def to_json(self) -> str:
        """The decision's JSON: compact, UTF-8, key order fixed — byte-identical for equal input."""
        if self._json is None:
            self._json = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        return self._json

    def model_dump_json(self) -> str:
        """Same as `to_json()`, under pydantic's name."""
        return self.to_json()

    def model_dump(self) -> dict[str, Any]:
        """Same as `to_dict()`, under pydantic's name."""
        return self.to_dict()

    def applicant(self) -> dict[str, Any]:
        """The answers this decision was made from, in canonical form.

        Only answered declared inputs, instrument items nested under their alias, dates as
        ISO strings; an unanswered input is left out (missing and null are the same answer).
        """
        trace = self._trace
        facts = trace.facts
        answers: dict[str, Any] = {
            name: _json_value(facts[name])
            for name in trace.ruleset.inputs.top
            if facts[name] is not None
        }
        for alias, items in trace.ruleset.inputs.groups.items():
            group = {
                item: _json_value(facts[field.name])
                for item, field in items.items()
                if facts[field.name] is not None
            }
            if group:
                answers[alias] = group
        return answers

    def next_steps(self, **bounds: int) -> NextSteps:
        """The smallest changes to actionable answers that would make this outcome more
        permissive: `recovery_screening.next_steps.next_steps(self, **bounds)`.

        That function lives in an outer module; it is reached here by name, as the package
        reaches its public names, so the core never imports it (tests/test_layering.py)."""
        return importlib.import_module(_NEXT_STEPS).next_steps(self, **bounds)  # type: ignore[no-any-return]

    def explain(self, audience: Audience = "staff", *, next_steps: NextSteps | None = None) -> str:
        """The decision as plain text: for `staff` (everything, traceable; the default) or for
        the `applicant` (plain words, no codes, and what they could change: its next steps, or
        `next_steps` given); see `recovery_screening.explain.explain`."""
        from recovery_screening.explain import explain

        return explain(self, audience, next_steps=next_steps)

    def __repr__(self) -> str:
        trace = self._trace
        return (
            f"<Decision {self.outcome} by {', '.join(self.deciding)} "
            f"({trace.ruleset.id} {trace.ruleset.version})>"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Decision):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())


def explanation(decision: Decision, make: Shapes) -> Any:
    """The whole explanation of `decision`, each node made by `make` (see `Shapes`).

    This is the one place the explanation's content and field order are written down; the
    dicts of `to_dict()` and the models of `decision.model` both come from here.
    """
    trace = decision._trace
    ruleset = trace.ruleset
    facts = trace.facts
    rules = ruleset.decisions
    deciding = set(trace.deciding)
    dates = ruleset.date_keys
    reasons = [
        make.reason(
            rule=rule.id,
            outcome=rule.outcome,
            code=rule.code,
            text=rule.text,
            deciding=index in deciding,
            evidence=_evidence(facts, rule.references, dates),
        )
        for index, (rule, truth) in enumerate(zip(rules, trace.truths, strict=True))
        if truth is True
    ]
    if trace.fail_safe or not trace.deciding:
        fallback = ruleset.incomplete if trace.fail_safe else ruleset.default
        reasons.append(
            make.reason(
                rule=fallback.id,
                outcome=fallback.outcome,
                code=fallback.code,
                text=fallback.text,
                deciding=True,
                evidence=dict.fromkeys(trace.needs) if trace.fail_safe else {},
            )
        )
    targets = ruleset.referral_targets
    v2 = ruleset.format_version >= 2
    referrals = [
        make.referral(
            target=target,
            kind=targets[target].kind,
            title=targets[target].title,
            text=targets[target].text,
            rule=rule_id,
            **({"advisory": advisory} if v2 else {}),
        )
        for target, rule_id, advisory in decision._referral_pairs()
    ]
    domains = [
        make.domain(
            name=domain.name,
            title=domain.title,
            score=facts[domain.score_key],
            score_range=[low, high],
            band=facts[domain.band_key],
            contributions=[
                make.contribution(
                    rule=rule.id,
                    code=rule.code,
                    text=rule.text,
                    points=rule.points,
                    evidence=_evidence(facts, rule.references, dates),
                )
                for rule, truth in zip(domain.rules, truths, strict=True)
                if truth is True
            ],
            undecided=[
                rule.id for rule, truth in zip(domain.rules, truths, strict=True) if truth is None
            ],
        )
        for domain, (truths, low, high) in zip(ruleset.domains, trace.domains, strict=True)
    ]
    instruments = [
        make.instrument(
            alias=instrument.alias or None,
            id=instrument.id,
            version=instrument.version,
            title=instrument.title,
            total=facts[instrument.total_key],
            total_range=list(instrument.total_range),
            band=facts[instrument.band_key] if instrument.bands is not None else None,
            subscores={s.name: facts[s.key] for s in instrument.subscores},
            flags=[
                make.flag(id=flag.id, code=flag.code, text=flag.text, safety=flag.safety)
                for flag in instrument.flags
                if facts[flag.key] is True
            ],
        )
        for instrument in ruleset.instruments
    ]
    undecided = [
        make.undecided(rule=rule.id, outcome=rule.outcome, code=rule.code, missing=list(missing))
        for rule, truth, missing in zip(rules, trace.truths, trace.undecided_missing, strict=True)
        if truth is None
    ]
    # keys only v2 decisions carry: a v1 decision keeps its bytes
    advisories = {"advisories": _advisories_applied(decision, make)} if v2 else {}
    still_open = {"undecided_advisories": _advisories_undecided(trace, make)} if v2 else {}
    return make.decision(
        outcome=decision.outcome,
        outcome_label=decision.outcome_label,
        deciding=list(decision.deciding),
        reasons=reasons,
        needs=list(trace.needs),
        **({"needed_questions": _questions(ruleset, trace.needs, make)} if v2 else {}),
        rescreen_after_days=decision.rescreen_after_days,
        referrals=referrals,
        **advisories,
        domains=domains,
        instruments=instruments,
        undecided=undecided,
        **still_open,
        ruleset=make.ruleset(
            id=ruleset.id,
            version=ruleset.version,
            content_hash=ruleset.content_hash,
            instruments=[
                make.instrument_ref(
                    alias=instrument.alias or None,
                    id=instrument.id,
                    version=instrument.version,
                    content_hash=instrument.content_hash,
                )
                for instrument in ruleset.instruments
                if instrument.alias
            ],
            # only drafts carry the key: published decisions keep their bytes
            **({} if ruleset.published else {"published": False}),
        ),
        engine=make.engine(name=ENGINE_NAME, version=__version__, backend=trace.backend),
        **({"semantics": "exact" if trace.exact else "exact-bounded"} if v2 else {}),
    )


def _questions(ruleset: CompiledRuleset, needs: tuple[str, ...], make: Shapes) -> list[Any]:
    questions = ruleset.questions
    return [
        make.question(
            input=name,
            label=questions[name].label,
            instructions=questions[name].instructions,
        )
        for name in needs
    ]


def _advisories_applied(decision: Decision, make: Shapes) -> list[Any]:
    trace = decision._trace
    advisories = trace.ruleset.advisories
    return [
        make.advisory(
            rule=advisories[index].id,
            code=advisories[index].code,
            text=advisories[index].text,
            referrals=list(advisories[index].referrals),
            evidence=_evidence(trace.facts, advisories[index].references, trace.ruleset.date_keys),
        )
        for index in decision._applied_advisories()
    ]


def _advisories_undecided(trace: Trace, make: Shapes) -> list[Any]:
    return [
        make.undecided_advisory(rule=rule.id, code=rule.code, missing=list(missing))
        for rule, truth, missing in zip(
            trace.ruleset.advisories, trace.advisory_truths, trace.advisory_missing, strict=True
        )
        if truth is None and trace.rank in rule.ranks
    ]


_MODEL_NAMES = frozenset(
    {
        "AdvisoryApplied",
        "AdvisoryUndecided",
        "Contribution",
        "DecisionModel",
        "DomainScore",
        "EngineRef",
        "FlagRaised",
        "InstrumentRef",
        "InstrumentScore",
        "NeededQuestion",
        "Reason",
        "Referral",
        "RulesetRef",
        "UndecidedRule",
        "decision_json_schema",
    }
)


def __getattr__(name: str) -> Any:
    """The models moved to `recovery_screening.models`; they stay importable from here."""
    if name in _MODEL_NAMES:
        import recovery_screening.models

        return getattr(recovery_screening.models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ENGINE_NAME",
    "PLAIN",
    "Decision",
    "JsonScalar",
    "Outcome",
    "Shapes",
    "Trace",
    "explanation",
    "model_shapes",
]
