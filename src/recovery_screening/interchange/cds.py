"""A decision as a CDS Hooks card: summary, indicator, Markdown detail, one suggestion per referral.

refer → `critical`, defer → `warning`, admit → `info`. With a subject (e.g. "Patient/123") each
suggestion carries a `create` action for a draft ServiceRequest to that referral target. The
card's uuid is derived from its content, so the same decision gives the same card.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from recovery_screening.explain import (
    Outline,
    domain_score_text,
    instrument_total_text,
    render,
    shown_evidence,
)
from recovery_screening.interchange._extras import BASE_URL, validated

if TYPE_CHECKING:
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
    from recovery_screening.next_steps import NextSteps

INDICATORS = {"refer": "critical", "defer": "warning", "admit": "info"}
SUMMARY_LIMIT = 139
_CARD_NAMESPACE = uuid.UUID("6c1b3f0e-9d0a-4d53-9a53-5a1f7c6e2b10")
_MARKDOWN_SPECIAL = "\\`*_[]<>|~"
REFERRAL_KIND_SYSTEM = f"{BASE_URL}/CodeSystem/referral-kind"
REFERRAL_TARGET_SYSTEM = f"{BASE_URL}/CodeSystem/referral-target"


def _escape(text: str) -> str:
    """Make text from a ruleset or an answer render literally in Markdown."""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in " ".join(text.split()))


def summary_of(model: DecisionModel) -> str:
    """One line under 140 characters: the outcome, its label and the first reason or referral."""
    label = model.outcome_label or model.outcome
    head = f"{model.outcome.capitalize()}: {label}" if model.outcome_label else label.capitalize()
    if model.referrals:
        tail = ", ".join(referral.title for referral in model.referrals)
    elif model.needs:
        tail = f"{len(model.needs)} answer{'s' if len(model.needs) != 1 else ''} needed"
    else:
        tail = next((reason.code for reason in model.reasons if reason.deciding), "")
    summary = f"{head} — {tail}" if tail else head
    return summary if len(summary) <= SUMMARY_LIMIT else summary[: SUMMARY_LIMIT - 1] + "…"


class _Markdown(Outline):
    """The explanation's outline as Markdown for the card's detail."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def outcome(self, outcome: str, label: str | None) -> None:
        self.lines.append(f"**Outcome: {outcome}**{f' ({_escape(label)})' if label else ''}")

    def because(self, reasons: list[Reason]) -> None:
        self.lines += ["", "**Because**", ""]
        for reason in reasons:
            self.lines.append(f"- {_escape(reason.text)} (`{reason.code}`)")
            evidence = shown_evidence(reason)
            if evidence:
                described = ", ".join(
                    f"`{name}` = {_escape(self.answer(name, v))}" for name, v in evidence.items()
                )
                self.lines.append(f"  - based on {described}")

    def also_applies(self, reasons: list[Reason]) -> None:
        self.lines += ["", "**Also applies**", ""]
        self.lines.extend(
            f"- ({reason.outcome}) {_escape(reason.text)} (`{reason.code}`)" for reason in reasons
        )

    def referrals(self, referrals: list[Referral]) -> None:
        self.lines += ["", "**Referrals**", ""]
        for referral in referrals:
            text = f": {_escape(referral.text)}" if referral.text else ""
            advisory = " — advisory" if referral.advisory else ""
            self.lines.append(f"- **{_escape(referral.title)}** ({referral.kind}){advisory}{text}")

    def advisories(
        self, applied: list[AdvisoryApplied], undecided: list[AdvisoryUndecided]
    ) -> None:
        if applied:
            self.lines += ["", "**Advisories** (whatever the outcome)", ""]
            for advice in applied:
                self.lines.append(f"- {_escape(advice.text)} (`{advice.code}`)")
                if advice.evidence:
                    described = ", ".join(
                        f"`{name}` = {_escape(self.answer(name, v))}"
                        for name, v in advice.evidence.items()
                    )
                    self.lines.append(f"  - based on {described}")
        if undecided:
            self.lines += ["", "**Advisories not decided** (answers missing; not applied)", ""]
            self.lines.extend(
                f"- `{advice.code}`: missing {', '.join(f'`{m}`' for m in advice.missing)}"
                for advice in undecided
            )

    def needs(self, needs: list[str]) -> None:
        self.lines += ["", "**Answers needed** (they could change the outcome)", ""]
        self.lines.extend(f"- `{name}`" for name in needs)

    def rescreen(self, days: int) -> None:
        self.lines += ["", f"Re-screen after {days} days."]

    def next_steps(self, steps: NextSteps) -> None:
        """Left off the card: it is built from the decision alone and costs no search; a host
        that shows next steps calls `Decision.next_steps()`."""

    def undecided(self, rules: list[UndecidedRule]) -> None:
        """Left off the card: the answers they lack are listed under "Answers needed"."""

    def domains(self, domains: list[DomainScore]) -> None:
        self.lines += ["", "| Domain | Score | Band |", "|---|---|---|"]
        for domain in domains:
            score = domain_score_text(domain)
            self.lines.append(f"| {_escape(domain.title)} | {score} | {domain.band or 'unknown'} |")

    def instruments(self, instruments: list[InstrumentScore]) -> None:
        self.lines += ["", "| Instrument | Total | Band |", "|---|---|---|"]
        for instrument in instruments:
            total = instrument_total_text(instrument)
            self.lines.append(
                f"| {_escape(instrument.title)} | {total} | {instrument.band or '—'} |"
            )

    def provenance(self, ruleset: RulesetRef, engine: EngineRef) -> None:
        self.lines += [
            "",
            f"Ruleset `{ruleset.id}` {ruleset.version} (`{ruleset.content_hash[:19]}…`)",
        ]


def render_markdown(
    model: DecisionModel, labels: Mapping[str, Mapping[Any, str]] | None = None
) -> str:
    """The explanation as Markdown for the card's detail (`labels`: answers shown as words)."""
    markdown = _Markdown()
    if labels:
        markdown.labels = labels
    render(model, markdown)
    return "\n".join(markdown.lines)


def _source(source: str | Mapping[str, Any] | None, model: DecisionModel) -> dict[str, Any]:
    if source is None:
        return {"label": f"recovery-screening {model.ruleset.id} {model.ruleset.version}"}
    if isinstance(source, str):
        return {"label": source}
    if not isinstance(source.get("label"), str) or not source["label"]:
        raise ValueError("a CDS Hooks card source needs a non-empty 'label'")
    return dict(source)


def _service_request(subject: str, title: str, kind: str, target: str) -> dict[str, Any]:
    return validated(
        {
            "resourceType": "ServiceRequest",
            "status": "draft",
            "intent": "proposal",
            "category": [{"coding": [{"system": REFERRAL_KIND_SYSTEM, "code": kind}]}],
            "code": {
                "coding": [{"system": REFERRAL_TARGET_SYSTEM, "code": target, "display": title}],
                "text": title,
            },
            "subject": {"reference": subject},
        }
    )


def to_cds_card(
    decision: Decision,
    *,
    source: str | Mapping[str, Any] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    """The decision as one CDS Hooks card (JSON-ready).

    `source` is the card's source label (or a full source object: label, url, icon, topic).
    With `subject` (e.g. "Patient/123"), suggestions carry draft ServiceRequests.
    """
    model = decision.model
    card: dict[str, Any] = {
        "summary": summary_of(model),
        "indicator": INDICATORS[model.outcome],
        "detail": render_markdown(model, decision.trace.ruleset.answer_labels),
        "source": _source(source, model),
    }
    suggestions = []
    for referral in model.referrals:
        # v2: an advisory referral is offered whatever the outcome, so it is always recommended
        verb = "Offer" if referral.advisory else "Refer"
        suggestion: dict[str, Any] = {
            "label": f"{verb}: {referral.title}",
            "uuid": str(
                uuid.uuid5(_CARD_NAMESPACE, f"{decision.to_json()}|{subject}|{referral.target}")
            ),
            "isRecommended": bool(referral.advisory) or model.outcome == "refer",
        }
        if subject is not None:
            suggestion["actions"] = [
                {
                    "type": "create",
                    "description": f"Propose a referral: {referral.title}"
                    + (" (advisory)" if referral.advisory else ""),
                    "resource": _service_request(
                        subject, referral.title, referral.kind, referral.target
                    ),
                }
            ]
        suggestions.append(suggestion)
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    identity = json.dumps([decision.to_json(), card["source"], subject], sort_keys=True)
    return {"uuid": str(uuid.uuid5(_CARD_NAMESPACE, identity)), **card}


__all__ = ["INDICATORS", "render_markdown", "summary_of", "to_cds_card"]
