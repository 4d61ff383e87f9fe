"""Decisions: the compact trace an evaluation records, and the explanation built from it on demand.

`Decision` answers the cheap questions (outcome, needs, referral ids) at once; the full
explanation — reasons, every domain's contributions, instrument scores — is built the first time
it is read (`decision.model`, `to_dict()`, `to_json()`, `explain()`), so a simulation that only
counts outcomes never pays for it.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from recovery_screening._version import __version__
from recovery_screening.compiler import OUTCOMES, CompiledRuleset

if TYPE_CHECKING:
    from recovery_screening.records.record import DecisionRecord

ENGINE_NAME = "recovery-screening"
Outcome = Literal["admit", "defer", "refer"]
JsonScalar = bool | int | float | str | None


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _V2Model(_Model):
    """A model with keys only v2 decisions carry: left out of a dump when they are unset, so a
    v1 decision's model dumps exactly as its JSON."""

    _V2_ONLY: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _drop_unset_v2_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        for key in self._V2_ONLY:
            if key in dumped and dumped[key] is None:
                del dumped[key]
        return dumped


class Reason(_Model):
    """A decision rule that applied (or the default / fail-safe outcome)."""

    rule: str
    outcome: Outcome
    code: str
    text: str
    deciding: bool
    evidence: dict[str, JsonScalar]


class Contribution(_Model):
    """Points a scoring rule gave a domain, and the values that made it apply."""

    rule: str
    code: str
    text: str
    points: int
    evidence: dict[str, JsonScalar]


class DomainScore(_Model):
    name: str
    title: str
    score: int | None
    score_range: list[int]
    band: str | None
    contributions: list[Contribution]
    undecided: list[str]


class FlagRaised(_Model):
    id: str
    code: str
    text: str
    safety: bool


class InstrumentScore(_Model):
    alias: str | None
    id: str
    version: str
    title: str
    total: int | None
    total_range: list[int]
    band: str | None
    subscores: dict[str, int | float | None]
    flags: list[FlagRaised]


class UndecidedRule(_Model):
    """A decision rule that could not be decided because answers are missing."""

    rule: str
    outcome: Outcome
    code: str
    missing: list[str]


class Referral(_V2Model):
    target: str
    kind: str
    title: str
    text: str | None
    rule: str
    advisory: bool | None = None
    """v2 decisions only: true for a referral an advisory added (never for a deciding one)."""

    _V2_ONLY: ClassVar[frozenset[str]] = frozenset({"advisory"})


class AdvisoryApplied(_Model):
    """v2: an advisory whose condition held for this applicant and outcome."""

    rule: str
    code: str
    text: str
    referrals: list[str]
    evidence: dict[str, JsonScalar]


class AdvisoryUndecided(_Model):
    """v2: an advisory that could not be decided because answers are missing (not applied)."""

    rule: str
    code: str
    missing: list[str]


class InstrumentRef(_Model):
    alias: str | None
    id: str
    version: str
    content_hash: str


class RulesetRef(_Model):
    id: str
    version: str
    content_hash: str
    instruments: list[InstrumentRef]
    published: Literal[False] | None = Field(
        default=None,
        description="false when no lock pins this version (a draft); absent when published.",
    )

    @model_serializer(mode="wrap")
    def _published_only_when_false(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict) and dumped.get("published") is None:
            dumped.pop("published", None)
        return dumped


class EngineRef(_Model):
    name: str
    version: str
    backend: str


class DecisionModel(_V2Model):
    """The whole explained decision, as typed data. Its JSON is `Decision.to_json()`."""

    outcome: Outcome
    outcome_label: str | None
    deciding: list[str]
    reasons: list[Reason]
    needs: list[str]
    rescreen_after_days: int | None
    referrals: list[Referral]
    advisories: list[AdvisoryApplied] | None = None
    """v2 decisions only: the advisories that applied, in the ruleset's order."""
    domains: list[DomainScore]
    instruments: list[InstrumentScore]
    undecided: list[UndecidedRule]
    undecided_advisories: list[AdvisoryUndecided] | None = None
    """v2 decisions only: advisories left unknown for lack of answers (not applied)."""
    ruleset: RulesetRef
    engine: EngineRef
    semantics: Literal["exact", "exact-bounded"] | None = None
    """v2 decisions only: exact over the completions of the missing answers, or
    `exact-bounded` when the search bound was reached and the fail-safe answered
    (docs/decision-semantics.md)."""

    _V2_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"advisories", "undecided_advisories", "semantics"}
    )


@dataclass(frozen=True)
class Trace:
    """What an evaluation found, in compact form: enough to build the whole explanation."""

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
        return OUTCOMES[self._trace.rank]  # type: ignore[return-value]

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
            return ("incomplete",)
        if not trace.deciding:
            return ("default",)
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
        return self._trace

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
            pairs = [(target, "default", False) for target in trace.ruleset.default.referrals]
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
        """The explained decision as a pydantic model (built on first use)."""
        if self._model is None:
            self._model = DecisionModel.model_validate(self.to_dict())
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
            self._dict = _build_dict(self)
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
            for name in trace.ruleset.top_fields
            if facts[name] is not None
        }
        for alias, items in trace.ruleset.groups.items():
            group = {
                item: _json_value(facts[field.name])
                for item, field in items.items()
                if facts[field.name] is not None
            }
            if group:
                answers[alias] = group
        return answers

    def to_record(
        self,
        *,
        subject_ref: str,
        evaluated_at: str | datetime.datetime,
        previous: DecisionRecord | str | None = None,
        include_input: bool = True,
        key: bytes | None = None,
        record_id: str | None = None,
        digest_key: bytes | None = None,
    ) -> DecisionRecord:
        """A tamper-evident `DecisionRecord` of this decision (see records.record.make_record)."""
        from recovery_screening.records.record import make_record

        return make_record(
            self,
            subject_ref=subject_ref,
            evaluated_at=evaluated_at,
            previous=previous,
            include_input=include_input,
            key=key,
            record_id=record_id,
            digest_key=digest_key,
        )

    def explain(self) -> str:
        """The decision as plain text for a person."""
        from recovery_screening.explain import render_explanation

        return render_explanation(self.model)

    def to_fhir_risk_assessment(
        self,
        *,
        subject: str | Mapping[str, Any],
        occurrence: str | datetime.date | None = None,
        basis: Any = None,
    ) -> dict[str, Any]:
        """The decision as an R4 FHIR RiskAssessment (JSON-ready); needs the `fhir` extra.

        See `recovery_screening.interchange.to_fhir_risk_assessment`.
        """
        from recovery_screening.interchange.fhir_out import to_fhir_risk_assessment

        return to_fhir_risk_assessment(self, subject=subject, occurrence=occurrence, basis=basis)

    def to_cds_card(
        self, *, source: str | Mapping[str, Any] | None = None, subject: str | None = None
    ) -> dict[str, Any]:
        """The decision as a CDS Hooks card (JSON-ready); needs the `fhir` extra.

        See `recovery_screening.interchange.to_cds_card`.
        """
        from recovery_screening.interchange.cds import to_cds_card

        return to_cds_card(self, source=source, subject=subject)

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


def _build_dict(decision: Decision) -> dict[str, Any]:
    trace = decision._trace
    ruleset = trace.ruleset
    facts = trace.facts
    rules = ruleset.decisions
    deciding = set(trace.deciding)
    dates = ruleset.date_keys
    reasons: list[dict[str, Any]] = [
        {
            "rule": rule.id,
            "outcome": rule.outcome,
            "code": rule.code,
            "text": rule.text,
            "deciding": index in deciding,
            "evidence": _evidence(facts, rule.references, dates),
        }
        for index, (rule, truth) in enumerate(zip(rules, trace.truths, strict=True))
        if truth is True
    ]
    fallback = ruleset.incomplete if trace.fail_safe else ruleset.default
    if trace.fail_safe or not trace.deciding:
        reasons.append(
            {
                "rule": fallback.id,
                "outcome": fallback.outcome,
                "code": fallback.code,
                "text": fallback.text,
                "deciding": True,
                "evidence": {name: None for name in trace.needs} if trace.fail_safe else {},
            }
        )
    targets = ruleset.referral_targets
    v2 = ruleset.format_version >= 2
    referrals: list[dict[str, Any]] = [
        {
            "target": target,
            "kind": targets[target].kind,
            "title": targets[target].title,
            "text": targets[target].text,
            "rule": rule_id,
        }
        for target, rule_id, _ in decision._referral_pairs()
    ]
    if v2:
        for referral, (_, _, advisory) in zip(referrals, decision._referral_pairs(), strict=True):
            referral["advisory"] = advisory
    domains = []
    for domain, (truths, low, high) in zip(ruleset.domains, trace.domains, strict=True):
        domains.append(
            {
                "name": domain.name,
                "title": domain.title,
                "score": facts[domain.score_key],
                "score_range": [low, high],
                "band": facts[domain.band_key],
                "contributions": [
                    {
                        "rule": rule.id,
                        "code": rule.code,
                        "text": rule.text,
                        "points": rule.points,
                        "evidence": _evidence(facts, rule.references, dates),
                    }
                    for rule, truth in zip(domain.rules, truths, strict=True)
                    if truth is True
                ],
                "undecided": [
                    rule.id
                    for rule, truth in zip(domain.rules, truths, strict=True)
                    if truth is None
                ],
            }
        )
    instruments = [
        {
            "alias": instrument.alias or None,
            "id": instrument.id,
            "version": instrument.version,
            "title": instrument.title,
            "total": facts[instrument.total_key],
            "total_range": list(instrument.total_range),
            "band": facts[instrument.band_key] if instrument.bands is not None else None,
            "subscores": {s.name: facts[s.key] for s in instrument.subscores},
            "flags": [
                {"id": flag.id, "code": flag.code, "text": flag.text, "safety": flag.safety}
                for flag in instrument.flags
                if facts[flag.key] is True
            ],
        }
        for instrument in ruleset.instruments
    ]
    undecided = [
        {
            "rule": rule.id,
            "outcome": rule.outcome,
            "code": rule.code,
            "missing": list(missing),
        }
        for rule, truth, missing in zip(rules, trace.truths, trace.undecided_missing, strict=True)
        if truth is None
    ]
    result: dict[str, Any] = {
        "outcome": decision.outcome,
        "outcome_label": decision.outcome_label,
        "deciding": list(decision.deciding),
        "reasons": reasons,
        "needs": list(trace.needs),
        "rescreen_after_days": decision.rescreen_after_days,
        "referrals": referrals,
    }
    if v2:
        result["advisories"] = _advisories_applied(decision)
    result["domains"] = domains
    result["instruments"] = instruments
    result["undecided"] = undecided
    if v2:
        result["undecided_advisories"] = _advisories_undecided(trace)
    result.update({
        "ruleset": {
            "id": ruleset.id,
            "version": ruleset.version,
            "content_hash": ruleset.content_hash,
            "instruments": [
                {
                    "alias": instrument.alias or None,
                    "id": instrument.id,
                    "version": instrument.version,
                    "content_hash": instrument.content_hash,
                }
                for instrument in ruleset.instruments
                if instrument.alias
            ],
        },
        "engine": {"name": ENGINE_NAME, "version": __version__, "backend": trace.backend},
    })  # fmt: skip
    if not ruleset.published:  # only drafts carry the key: published decisions keep their bytes
        result["ruleset"]["published"] = False
    if v2:
        result["semantics"] = "exact" if trace.exact else "exact-bounded"
    return result


def _advisories_applied(decision: Decision) -> list[dict[str, Any]]:
    trace = decision._trace
    advisories = trace.ruleset.advisories
    return [
        {
            "rule": advisories[index].id,
            "code": advisories[index].code,
            "text": advisories[index].text,
            "referrals": list(advisories[index].referrals),
            "evidence": _evidence(
                trace.facts, advisories[index].references, trace.ruleset.date_keys
            ),
        }
        for index in decision._applied_advisories()
    ]


def _advisories_undecided(trace: Trace) -> list[dict[str, Any]]:
    return [
        {"rule": rule.id, "code": rule.code, "missing": list(missing)}
        for rule, truth, missing in zip(
            trace.ruleset.advisories, trace.advisory_truths, trace.advisory_missing, strict=True
        )
        if truth is None and trace.rank in rule.ranks
    ]


def decision_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a decision's JSON: schemas/decision.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **DecisionModel.model_json_schema(),
    }
