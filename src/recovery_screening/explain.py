"""Render an explained decision as plain text a peer worker can read with the applicant."""

from __future__ import annotations

from recovery_screening.decision import DecisionModel, JsonScalar
from recovery_screening.outcomes import INCOMPLETE_RULE


def describe_value(value: JsonScalar) -> str:
    """An answer as words: yes / no / not answered, or the value itself."""
    if value is None:
        return "not answered"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return str(value)


def _evidence(evidence: dict[str, JsonScalar]) -> str:
    return ", ".join(f"{name} = {describe_value(value)}" for name, value in evidence.items())


# Too branchy (C901), and being replaced by the shared outline of sections (issue 11, item 1).
def render_explanation(decision: DecisionModel) -> str:  # noqa: C901
    """Outcome first, then why, what to do next, and the scores behind it."""
    label = f" ({decision.outcome_label})" if decision.outcome_label else ""
    lines = [f"Outcome: {decision.outcome.upper()}{label}", ""]
    deciding = [reason for reason in decision.reasons if reason.deciding]
    lines.append("Because:")
    for reason in deciding:
        lines.append(f"  - {reason.text} [{reason.code}, rule {reason.rule}]")
        if reason.evidence and reason.rule != INCOMPLETE_RULE:
            lines.append(f"      based on {_evidence(reason.evidence)}")
    others = [reason for reason in decision.reasons if not reason.deciding]
    if others:
        lines.append("Also applies:")
        lines.extend(
            f"  - ({reason.outcome}) {reason.text} [{reason.code}, rule {reason.rule}]"
            for reason in others
        )
    if decision.referrals:
        lines.append("Referrals:")
        for referral in decision.referrals:
            text = f": {referral.text}" if referral.text else ""
            lines.append(f"  - {referral.title} ({referral.kind}){text}")
    if decision.needs:
        lines.append("Answers needed (they could change the outcome):")
        lines.extend(f"  - {name}" for name in decision.needs)
    if decision.rescreen_after_days is not None:
        lines.append(f"Re-screen after: {decision.rescreen_after_days} days")
    if decision.undecided:
        lines.append("Rules not decided for lack of answers:")
        lines.extend(
            f"  - {rule.rule} ({rule.outcome}, {rule.code}): missing {', '.join(rule.missing)}"
            for rule in decision.undecided
        )
    if decision.domains:
        lines.append("")
        lines.append("Domains:")
        for domain in decision.domains:
            score = "unknown" if domain.score is None else str(domain.score)
            if domain.score is None:
                score += f" (between {domain.score_range[0]} and {domain.score_range[1]})"
            band = domain.band or "unknown"
            lines.append(f"  {domain.title}: {score}, band {band}")
            for part in domain.contributions:
                lines.append(f"      {part.points:+d}  {part.text} [{part.code}]")
            if domain.undecided:
                lines.append(f"      not decided: {', '.join(domain.undecided)}")
    if decision.instruments:
        lines.append("")
        lines.append("Instruments:")
        for instrument in decision.instruments:
            total = "incomplete" if instrument.total is None else str(instrument.total)
            low, high = instrument.total_range
            band = f", {instrument.band}" if instrument.band else ""
            lines.append(f"  {instrument.title}: {total} of {low}-{high}{band}")
            for flag in instrument.flags:
                marker = "SAFETY: " if flag.safety else ""
                lines.append(f"      {marker}{flag.text} [{flag.code}]")
    ruleset = decision.ruleset
    engine = decision.engine
    lines.append("")
    lines.append(
        f"Ruleset {ruleset.id} {ruleset.version} ({ruleset.content_hash[:19]}…), "
        f"engine {engine.name} {engine.version} ({engine.backend})"
    )
    return "\n".join(lines)
