"""The outline every rendering of an explained decision follows, and its plain-text rendering.

An explanation has one outline: the sections in `SECTIONS` order, each present only when it has
something to say (`render` decides both, once). A rendering — the text here, the CDS Hooks
card's Markdown (interchange/cds.py), the FHIR RiskAssessment (interchange/fhir_out.py) — is an
`Outline` subclass with one method per section; a rendering that leaves a section out says so
in that method. A new section is a name in `SECTIONS`, an abstract method on `Outline` and a
line in `render`; every rendering then has to decide what to do with it.

`next_steps` is the one section that is not read from the decision's model: it is the result of
`Decision.next_steps()` (an outer module's search, reached through the decision), given to
`render` by the caller. The applicant text asks for it when next steps can exist; the other
renderings leave it out (each says why).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence, Sized
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from recovery_screening.fields import JsonScalar
from recovery_screening.outcomes import ADMIT, INCOMPLETE_RULE

if TYPE_CHECKING:
    from recovery_screening.compiler import CompiledRuleset
    from recovery_screening.decision import Decision
    from recovery_screening.models import (
        AdvisoryApplied,
        AdvisoryUndecided,
        DecisionModel,
        DomainScore,
        EngineRef,
        InstrumentScore,
        Reason,
        Referral,
        RulesetRef,
        UndecidedRule,
    )
    from recovery_screening.next_steps import Change, NextSteps, StepSet

SECTIONS = (
    "outcome",
    "because",
    "also_applies",
    "referrals",
    "advisories",
    "needs",
    "rescreen",
    "next_steps",
    "undecided",
    "domains",
    "instruments",
    "provenance",
)
"""The sections of an explanation, in the order every rendering presents them."""


class Outline(ABC):
    """A rendering of an explanation: `render` calls one method per present section, in order.

    `labels` (input or item name -> answer value -> display label, from a v2 ruleset's
    `value_labels` and instrument answers) lets a rendering show answers as words."""

    labels: Mapping[str, Mapping[Any, str]] = MappingProxyType({})

    def answer(self, name: str, value: JsonScalar) -> str:
        """An answer as words: its label when the ruleset gives one, else `describe_value`."""
        worded = self.labels.get(name)
        if worded is not None and value is not None:
            label = worded.get(value)
            if label is not None:
                return label
        return describe_value(value)

    @abstractmethod
    def outcome(self, outcome: str, label: str | None) -> None:
        """The outcome and the ruleset's label for it (always present)."""

    @abstractmethod
    def because(self, reasons: list[Reason]) -> None:
        """The deciding reasons (always at least one: a rule, the default or the fail-safe)."""

    @abstractmethod
    def also_applies(self, reasons: list[Reason]) -> None:
        """Rules that applied but did not decide (a less protective outcome)."""

    @abstractmethod
    def referrals(self, referrals: list[Referral]) -> None:
        """Where the person is referred."""

    @abstractmethod
    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        """v2: advisories that apply whatever the outcome, and those not decided for lack of
        answers (they are not applied; their missing answers are not needed for the outcome)."""

    @abstractmethod
    def needs(self, needs: list[str]) -> None:
        """Answers still needed: they could change the outcome."""

    @abstractmethod
    def rescreen(self, days: int) -> None:
        """When to screen again."""

    @abstractmethod
    def next_steps(self, steps: NextSteps) -> None:
        """The smallest changes to the person's answers that give a more permissive outcome
        (`Decision.next_steps()`): present only when the caller of `render` gives them and
        they hold at least one set of changes."""

    @abstractmethod
    def undecided(self, rules: list[UndecidedRule]) -> None:
        """Decision rules not decided for lack of answers."""

    @abstractmethod
    def domains(self, domains: list[DomainScore]) -> None:
        """Every scored domain: score, band, contributions."""

    @abstractmethod
    def instruments(self, instruments: list[InstrumentScore]) -> None:
        """Every instrument: total, band, flags raised."""

    @abstractmethod
    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        """The ruleset and engine that decided (always present)."""


def render(model: DecisionModel, outline: Outline, next_steps: NextSteps | None = None) -> None:
    """Walk `model` through `outline`, section by section in `SECTIONS` order; `next_steps`,
    when given, are the decision's own (`Decision.next_steps()`)."""
    outline.outcome(model.outcome, model.outcome_label)
    outline.because([reason for reason in model.reasons if reason.deciding])
    others = [reason for reason in model.reasons if not reason.deciding]
    if others:
        outline.also_applies(others)
    if model.referrals:
        outline.referrals(model.referrals)
    if model.advisories or model.undecided_advisories:
        outline.advisories(model.advisories or [], model.undecided_advisories or [])
    if model.needs:
        outline.needs(model.needs)
    if model.rescreen_after_days is not None:
        outline.rescreen(model.rescreen_after_days)
    if next_steps is not None and next_steps.sets:
        outline.next_steps(next_steps)
    if model.undecided:
        outline.undecided(model.undecided)
    if model.domains:
        outline.domains(model.domains)
    if model.instruments:
        outline.instruments(model.instruments)
    outline.provenance(model.ruleset, model.engine)


def shown_evidence(reason: Reason) -> dict[str, JsonScalar]:
    """The answers to show beside a reason: none for the fail-safe, whose evidence is the
    unanswered inputs already listed as needed."""
    return {} if reason.rule == INCOMPLETE_RULE else reason.evidence


def describe_value(value: JsonScalar) -> str:
    """An answer as words: yes / no / not answered, or the value itself."""
    if value is None:
        return "not answered"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def domain_score_text(domain: DomainScore) -> str:
    """A domain's score, or `unknown` when missing answers leave it open."""
    return "unknown" if domain.score is None else str(domain.score)


def instrument_total_text(instrument: InstrumentScore) -> str:
    """An instrument's total, or `incomplete` when items are unanswered."""
    return "incomplete" if instrument.total is None else str(instrument.total)


Audience = Literal["staff", "applicant"]
AUDIENCES: tuple[Audience, ...] = ("staff", "applicant")
"""Who an explanation's text is for: `staff` (everything, traceable: rule ids, reason codes,
answers, points, hashes; the default) or `applicant` (plain words for the person screened)."""


class _Text(Outline):
    """The explanation as plain text for staff: everything, traceable to rules, codes and answers.

    `standalone` is the one instrument of a `kind: instrument` ruleset: its score, band and
    flags head the text instead of an outcome (an instrument on its own admits nobody), and the
    instruments section, which would repeat them, is left out."""

    def __init__(self, standalone: InstrumentScore | None = None) -> None:
        self.lines: list[str] = []
        self.standalone = standalone

    def outcome(self, outcome: str, label: str | None) -> None:
        instrument = self.standalone
        if instrument is None:
            self.lines += [f"Outcome: {outcome.upper()}{f' ({label})' if label else ''}", ""]
            return
        low, high = instrument.total_range
        band = f", {instrument.band}" if instrument.band else ""
        status = f" ({label})" if label else ""
        total = instrument_total_text(instrument)
        self.lines.append(f"{instrument.title}: {total} of {low}-{high}{band}{status}")
        for flag in instrument.flags:
            marker = "SAFETY: " if flag.safety else ""
            self.lines.append(f"      {marker}{flag.text} [{flag.code}]")
        self.lines.append("")

    def because(self, reasons: list[Reason]) -> None:
        self.lines.append("Because:")
        for reason in reasons:
            self.lines.append(f"  - {reason.text} [{reason.code}, rule {reason.rule}]")
            evidence = shown_evidence(reason)
            if evidence:
                described = ", ".join(f"{k} = {self.answer(k, v)}" for k, v in evidence.items())
                self.lines.append(f"      based on {described}")

    def also_applies(self, reasons: list[Reason]) -> None:
        self.lines.append("Also applies:")
        self.lines.extend(
            f"  - ({reason.outcome}) {reason.text} [{reason.code}, rule {reason.rule}]"
            for reason in reasons
        )

    def referrals(self, referrals: list[Referral]) -> None:
        self.lines.append("Referrals:")
        for referral in referrals:
            text = f": {referral.text}" if referral.text else ""
            advisory = f" [advisory, rule {referral.rule}]" if referral.advisory else ""
            self.lines.append(f"  - {referral.title} ({referral.kind}){text}{advisory}")

    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        if applied:
            self.lines.append("Advisories (whatever the outcome):")
            for advice in applied:
                self.lines.append(f"  - {advice.text} [{advice.code}, rule {advice.rule}]")
                if advice.evidence:
                    described = ", ".join(
                        f"{k} = {self.answer(k, v)}" for k, v in advice.evidence.items()
                    )
                    self.lines.append(f"      based on {described}")
        if undecided:
            self.lines.append("Advisories not decided for lack of answers (not applied):")
            self.lines.extend(
                f"  - {advice.rule} ({advice.code}): missing {', '.join(advice.missing)}"
                for advice in undecided
            )

    def needs(self, needs: list[str]) -> None:
        self.lines.append("Answers needed (they could change the outcome):")
        self.lines.extend(f"  - {name}" for name in needs)

    def rescreen(self, days: int) -> None:
        self.lines.append(f"Re-screen after: {days} days")

    def next_steps(self, steps: NextSteps) -> None:
        """Left out: the staff text renders the decision alone and costs no search. Staff read
        next steps, traceable to rules and inputs, from `Decision.next_steps()` (its
        `explain()` and `to_dict()`; `evaluate --next-steps`)."""

    def undecided(self, rules: list[UndecidedRule]) -> None:
        self.lines.append("Rules not decided for lack of answers:")
        self.lines.extend(
            f"  - {rule.rule} ({rule.outcome}, {rule.code}): missing {', '.join(rule.missing)}"
            for rule in rules
        )

    def domains(self, domains: list[DomainScore]) -> None:
        self.lines += ["", "Domains:"]
        for domain in domains:
            score = domain_score_text(domain)
            if domain.score is None:
                score += f" (between {domain.score_range[0]} and {domain.score_range[1]})"
            self.lines.append(f"  {domain.title}: {score}, band {domain.band or 'unknown'}")
            for part in domain.contributions:
                self.lines.append(f"      {part.points:+d}  {part.text} [{part.code}]")
            if domain.undecided:
                self.lines.append(f"      not decided: {', '.join(domain.undecided)}")

    def instruments(self, instruments: list[InstrumentScore]) -> None:
        if self.standalone is not None:
            return  # the one instrument heads the text (`outcome`)
        self.lines += ["", "Instruments:"]
        for instrument in instruments:
            low, high = instrument.total_range
            band = f", {instrument.band}" if instrument.band else ""
            total = instrument_total_text(instrument)
            self.lines.append(f"  {instrument.title}: {total} of {low}-{high}{band}")
            for flag in instrument.flags:
                marker = "SAFETY: " if flag.safety else ""
                self.lines.append(f"      {marker}{flag.text} [{flag.code}]")

    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        self.lines += [
            "",
            f"Ruleset {ruleset.id} {ruleset.version} ({ruleset.content_hash[:19]}…), "
            f"engine {engine.name} {engine.version} ({engine.backend})",
        ]


_OUTCOME_WORDS = {"admit": "You can go ahead", "defer": "Not yet", "refer": "Another service first"}
APPLICANT_WAYS = 4
"""At most this many ways to one result are written out when they do not factor into choices;
the text then says that there are others."""

Way: TypeAlias = tuple[tuple["Change", ...], ...]
"""A way to one result: slots of alternative changes, one change from each slot. Every choice
of one change per slot is a set of `NextSteps.sets` (a single set: one change per slot)."""


def applicant_ways(steps: NextSteps) -> list[tuple[str, Way]]:
    """The sets of `steps` as the applicant text shows them, each with the result it gives (in
    words): per result, most permissive first, its sets factored into slots of alternatives
    when they are exactly every choice of one change per slot (agree, one of three ways to
    stability, one of four ways to insight), else each set on its own, at most
    `APPLICANT_WAYS` of them."""
    by_goal: dict[str, list[StepSet]] = {}
    for step_set in steps.sets:
        goal = step_set.outcome_label or _OUTCOME_WORDS[step_set.outcome]
        by_goal.setdefault(goal, []).append(step_set)
    return [(goal, way) for goal, sets in by_goal.items() for way in _factored(sets)]


def _choices(way: Sequence[Sized]) -> int:
    """How many sets of changes a way (or its slots) stands for."""
    count = 1
    for slot in way:
        count *= len(slot)
    return count


def _key(change: Change) -> tuple[str, JsonScalar]:
    return change.input, change.after


def _factored(sets: list[StepSet]) -> list[Way]:
    """`sets` as one way of slots when they are the product of their slots, else one way each."""
    changes: dict[tuple[str, JsonScalar], Change] = {}
    families = [frozenset(_key(c) for c in s.changes) for s in sets]
    for step_set in sets:
        for change in step_set.changes:
            changes.setdefault(_key(change), change)
    if len(sets) > 1:
        slots = _slots(families, list(changes))
        if slots is not None:
            return [tuple(tuple(changes[key] for key in slot) for slot in slots)]
    return [tuple((change,) for change in s.changes) for s in sets[:APPLICANT_WAYS]]


def _slots(
    families: list[frozenset[tuple[str, JsonScalar]]], keys: list[tuple[str, JsonScalar]]
) -> list[list[tuple[str, JsonScalar]]] | None:
    """Slots of changes that never occur together, when every set takes exactly one change from
    each slot and every such choice is one of the sets; else None."""
    slots: list[list[tuple[str, JsonScalar]]] = []
    placed: set[tuple[str, JsonScalar]] = set()
    for key in keys:
        if key in placed:
            continue
        slot = [k for k in keys if k == key or not any(k in f and key in f for f in families)]
        slots.append(slot)
        placed.update(slot)
    if len(placed) != len(keys) or sum(len(slot) for slot in slots) != len(keys):
        return None  # a change that shares no set with two others that do share one
    if any(sum(1 for slot in slots if not f.isdisjoint(slot)) != len(slots) for f in families):
        return None
    if any(len(f) != len(slots) for f in families):
        return None
    return slots if _choices(slots) == len(set(families)) else None


def _joined(texts: list[str]) -> str:
    """Plain-language list: "a, b and c" (with semicolons when an item has its own comma)."""
    if len(texts) == 1:
        return texts[0]
    if not any("," in text or " and " in text for text in texts):
        return ", ".join(texts[:-1]) + f" and {texts[-1]}"
    if len(texts) == 2:
        return f"{texts[0]}, and {texts[1]}"
    return "; ".join(texts[:-1]) + f"; and {texts[-1]}"


def _way_lines(goal: str, way: Way) -> list[str]:
    if all(len(slot) == 1 for slot in way):
        return [
            f"  - If you {_joined([slot[0].text for slot in way])}, the result could be: {goal}."
        ]
    if len(way) == 1:
        lines = [f"  - If you do one of these, the result could be: {goal}."]
        return lines + [f"      - {change.text}" for change in way[0]]
    lines = [f"  - If you do all of these, the result could be: {goal}."]
    for slot in way:
        if len(slot) == 1:
            lines.append(f"      - {slot[0].text}")
            continue
        lines.append("      - one of these:")
        lines.extend(f"          - {change.text}" for change in slot)
    return lines


def _words(name: str) -> str:
    """An identifier as words, for a band the ruleset gives no label (`some_insight`)."""
    return name.replace("_", " ").replace("-", " ")


def _out_of(low: int, high: int) -> str:
    return f"out of {high}" if low == 0 else f"on a scale from {low} to {high}"


class _ApplicantText(Outline):
    """The explanation in plain words for the person screened, in the second person.

    It says the result, why (the ruleset's own reason texts), what happens next, what is
    still needed, asked as the questions themselves, what they could change to get a more
    permissive result (the decision's next steps), and how each area and questionnaire came
    out in words. It leaves out what a staff member would not say to the person's face: rule
    ids, reason codes, answers quoted back as values, points, hashes and undecided rules.
    """

    def __init__(self, ruleset: CompiledRuleset, standalone: InstrumentScore | None) -> None:
        self.lines: list[str] = []
        self.ruleset = ruleset
        self.standalone = standalone
        self.said: set[str] = set()

    def _band(self, bands: Any, band: str | None) -> str | None:
        if band is None:
            return None
        if bands is not None:
            for entry in bands.bands:
                if entry.name == band:
                    return entry.label or _words(band)
        return _words(band)

    def _score(self, instrument: InstrumentScore) -> str:
        low, high = instrument.total_range
        compiled = next(
            (i for i in self.ruleset.instruments if (i.alias or None) == instrument.alias), None
        )
        band = self._band(compiled.bands if compiled else None, instrument.band)
        if instrument.total is None:
            return "not complete yet" + (f" (so far: {band})" if band else "")
        return f"{instrument.total} {_out_of(low, high)}" + (f", {band}" if band else "")

    def outcome(self, outcome: str, label: str | None) -> None:
        instrument = self.standalone
        if instrument is not None:
            self.lines.append(f"Your {instrument.title} score: {self._score(instrument)}")
            for flag in instrument.flags:
                self.lines.append(f"  - {flag.text}")
                self.said.add(flag.text.strip())
        else:
            self.lines.append(f"Result: {label or _OUTCOME_WORDS[outcome]}")
        self.lines.append("")

    def because(self, reasons: list[Reason]) -> None:
        """The ruleset's reason texts, without rule ids, codes or the answers they read (a
        standalone instrument's flag, already said under its score, is not said twice)."""
        texts = [reason.text.strip() for reason in reasons]
        self.lines.extend(text for text in texts if text not in self.said)

    def also_applies(self, reasons: list[Reason]) -> None:
        self.lines += ["", "Also noted:"]
        self.lines.extend(f"  - {reason.text.strip()}" for reason in reasons)

    def referrals(self, referrals: list[Referral]) -> None:
        """The services by title: their longer texts are written for staff."""
        self.lines += ["", "Next, we suggest:"]
        self.lines.extend(f"  - {referral.title}" for referral in referrals)

    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        """The advisories that apply; undecided ones are not applied, so they are left out."""
        if applied:
            self.lines += ["", "Whatever the result:"]
            self.lines.extend(f"  - {advice.text.strip()}" for advice in applied)

    def needs(self, needs: list[str]) -> None:
        self.lines += [
            "",
            "We still need your answers to these questions (they could change the result):",
        ]
        for name in needs:
            question = self.ruleset.questions.get(name)
            if question is None:
                continue
            stem = f"{question.instructions} " if question.instructions else ""
            self.lines.append(f"  - {stem}{question.label}")

    def rescreen(self, days: int) -> None:
        self.lines += ["", f"We can screen again with you in {days} day{'s' if days != 1 else ''}."]

    def next_steps(self, steps: NextSteps) -> None:
        """What the person could change to get a more permissive result, in the ruleset's own
        words for each change (`actionable.step`) and "come back in N days" where waiting is
        one of them; most permissive result first. Never a rule id or an answer's name; when
        the search stopped at a bound, it says that there may be other ways."""
        self.lines += ["", "What could change the result:"]
        ways = applicant_ways(steps)
        for goal, way in ways:
            self.lines.extend(_way_lines(goal, way))
        if sum(_choices(way) for _, way in ways) < len(steps.sets):
            self.lines.append("  There are other ways too; we can go through them with you.")
        elif steps.bound is not None:
            self.lines.append("  There may be other ways too; we can go through them with you.")

    def undecided(self, rules: list[UndecidedRule]) -> None:
        """Left out: rules are a staff matter; the answers they wait for are asked under needs."""

    def domains(self, domains: list[DomainScore]) -> None:
        """Each area in the words of its band; no points, and no contributions (some, such as
        past risk to others, are for staff, not to be read back to the person)."""
        bands = {domain.name: domain.bands for domain in self.ruleset.domains}
        self.lines += ["", "How your answers came out:"]
        for domain in domains:
            band = self._band(bands.get(domain.name), domain.band)
            self.lines.append(f"  {domain.title}: {band or 'not known yet (answers missing)'}")

    def instruments(self, instruments: list[InstrumentScore]) -> None:
        """Each questionnaire's score and band in words (a standalone one heads the text)."""
        if self.standalone is not None:
            return
        self.lines += ["", "Your questionnaire scores:"]
        self.lines.extend(f"  {i.title}: {self._score(i)}" for i in instruments)

    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        """The screening by its title and version: no ids or hashes."""
        self.lines += ["", f"{self.ruleset.title}, version {ruleset.version}"]


def render_text(
    model: DecisionModel,
    labels: Mapping[str, Mapping[Any, str]] | None = None,
    standalone: bool = False,
) -> str:
    """The staff text: outcome first, then why, what to do next, and the scores behind it.

    `labels` (`CompiledRuleset.answer_labels`) shows answers by their v2 labels; `standalone`
    heads the text with the one instrument of an instrument ruleset instead of an outcome."""
    text = _Text(model.instruments[0] if standalone and model.instruments else None)
    if labels:
        text.labels = labels
    render(model, text)
    return "\n".join(text.lines)


def _may_have_next_steps(decision: Decision) -> bool:
    """Whether a search for next steps could find any: the outcome is not admit and the ruleset
    marks some input actionable (every other decision has none, at no cost)."""
    return decision.trace.rank != ADMIT and any(
        field.actionable is not None for field in decision.trace.ruleset.inputs.fields
    )


def explain(
    decision: Decision, audience: Audience = "staff", *, next_steps: NextSteps | None = None
) -> str:
    """`decision` as plain text for `audience` (see `AUDIENCES`): `Decision.explain()`.

    The applicant text says what the person could change to get a more permissive result:
    `next_steps`, the decision's own `Decision.next_steps()` (with the bounds the caller
    chose), or by default that search with its default bounds, run only for a decision that
    could have next steps. The staff text has no such section (see `_Text.next_steps`)."""
    ruleset = decision.trace.ruleset
    model = decision.model
    standalone = ruleset.kind == "instrument"
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    if audience == "staff":
        if next_steps is not None:
            raise ValueError(
                "next steps are a section of the applicant text; staff read them from "
                "NextSteps.explain()"
            )
        return render_text(model, ruleset.answer_labels, standalone)
    if next_steps is None and _may_have_next_steps(decision):
        next_steps = decision.next_steps()
    if next_steps is not None and next_steps.outcome != decision.outcome:
        raise ValueError("next_steps must be the decision's own (Decision.next_steps())")
    text = _ApplicantText(
        ruleset, model.instruments[0] if standalone and model.instruments else None
    )
    render(model, text, next_steps)
    lines = [line for i, line in enumerate(text.lines) if line or (i and text.lines[i - 1])]
    return "\n".join(lines).rstrip()


__all__ = [
    "APPLICANT_WAYS",
    "AUDIENCES",
    "SECTIONS",
    "Audience",
    "Outline",
    "Way",
    "applicant_ways",
    "describe_value",
    "domain_score_text",
    "explain",
    "instrument_total_text",
    "render",
    "render_text",
    "shown_evidence",
]
