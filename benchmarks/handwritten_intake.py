"""The peer-support intake screening (rulesets/peer-support-intake/1.0.0.yaml) written by hand
as plain Python: the floor any engine is measured against.

Faithful to the ruleset, fail-safe included: a missing answer is unknown (None), conditions use
three-valued logic, a domain's score is known only when every completion of the missing answers
gives the same score, and an admit with an undecided refer/defer rule or a missing must-answer
input becomes defer. Like a hand-written screen, it does not validate the input contract.

`outcome(applicant)` returns only the outcome; `explained(applicant)` also returns, as plain
dicts, the deciding rules, needs, every domain's score, band and contributions, and the
referral targets. compare.py checks both against the native backend on the cohort.
"""

from __future__ import annotations

from typing import Any

Truth = bool | None

MUST_ANSWER = (
    "recovery_focus",
    "stage_of_change",
    "can_attend_weekly",
    "agrees_to_group_agreements",
    "violence_last_12_months",
    "threats_to_others_recent",
    "withdrawal_severity",
    "intoxicated_now",
    "current_suicidal_intent",
)


def _and(a: Truth, b: Truth) -> Truth:
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _or(a: Truth, b: Truth) -> Truth:
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def _at_least(value: int | None, limit: int) -> Truth:
    return None if value is None else value >= limit


def _between(value: int | None, low: int, high: int) -> Truth:
    return None if value is None else low <= value <= high


def _is(value: object, expected: object) -> Truth:
    return None if value is None else value == expected


def _total(answers: dict[str, Any] | None, items: int) -> int | None:
    if not answers:
        return None
    total = 0
    for index in range(1, items + 1):
        answer = answers.get(f"q{index}")
        if answer is None:
            return None
        total += answer
    return total


def _dast_total(answers: dict[str, Any] | None) -> int | None:
    if not answers:
        return None
    total = 0
    for index in range(1, 11):
        answer = answers.get(f"q{index}")
        if answer is None:
            return None
        total += (0 if answer else 1) if index == 3 else (1 if answer else 0)
    return total


def _domain(
    rules: list[tuple[str, Truth, int]], bands: tuple[tuple[str, int, int], ...], cap: int | None
) -> tuple[int | None, str | None, int, int, list[tuple[str, int]], list[str]]:
    """(score, band, low, high, contributions, undecided) of a `sum` domain."""
    low = high = 0
    contributions: list[tuple[str, int]] = []
    undecided: list[str] = []
    for rule_id, truth, points in rules:
        if truth is True:
            low += points
            high += points
            contributions.append((rule_id, points))
        elif truth is None:
            undecided.append(rule_id)
            if points > 0:
                high += points
            else:
                low += points
    if cap is not None:
        low, high = min(low, cap), min(high, cap)
    band_low = next(name for name, least, most in bands if least <= low <= most)
    band_high = next(name for name, least, most in bands if least <= high <= most)
    return (
        low if low == high else None,
        band_low if band_low == band_high else None,
        low,
        high,
        contributions,
        undecided,
    )


MOTIVATION_BANDS = (("low", -2, 2), ("ready", 3, 8))
PARTICIPATION_BANDS = (("low", 0, 4), ("able", 5, 8))
RISK_BANDS = (("below_threshold", 0, 4), ("high", 5, 12))
DEPENDENCE_BANDS = (("low_to_moderate", 0, 6), ("high", 7, 12))
SOBRIETY_BANDS = (("unstable", -2, 1), ("supported", 2, 6))
INSIGHT_BANDS = (("low", 0, 1), ("some_insight", 2, 7))
HEALTH_BANDS = (("manageable", 0, 5), ("many_concerns", 6, 8))
# With two bands per domain, a band test on an unsettled score is undecided exactly when the
# engine's settling leaves it undecided, so no settling is needed here.

REFER, DEFER, ADMIT = 2, 1, 0

# decision rule: (id, rank, referral targets, the inputs it depends on)
RISK_INPUTS = (
    "violence_last_12_months",
    "threats_to_others_recent",
    "violence_more_than_12_months_ago",
    "removed_from_program_for_safety",
    "justice_involvement",
    "impaired_driving_last_12_months",
)
DECISIONS: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...] = (
    ("refer-self-harm-thoughts", REFER, ("same-day-safety-assessment",), ("phq9.q9",)),
    ("refer-suicidal-intent", REFER, ("same-day-safety-assessment",), ("current_suicidal_intent",)),
    ("refer-withdrawal-emergency", REFER, ("emergency-medical-care",), ("withdrawal_severity",)),
    (
        "refer-supervised-withdrawal",
        REFER,
        ("medically-supervised-withdrawal",),
        ("withdrawal_seizure_history", "withdrawal_severity"),
    ),
    ("refer-intoxicated", REFER, ("stabilisation-service",), ("intoxicated_now",)),
    (
        "refer-risk-to-others-recent",
        REFER,
        ("individual-services",),
        ("threats_to_others_recent", "violence_last_12_months"),
    ),
    ("refer-risk-history-high", REFER, ("individual-services",), RISK_INPUTS),
    (
        "refer-level-of-care",
        REFER,
        ("asam-level-of-care-assessment",),
        (
            *(f"audit.q{i}" for i in range(1, 11)),
            *(f"dast10.q{i}" for i in range(1, 11)),
            "use_frequency_30d",
        ),
    ),
    (
        "refer-residential-after-overdose",
        REFER,
        ("residential-or-higher-care", "asam-level-of-care-assessment"),
        ("overdose_last_90_days", "use_frequency_30d"),
    ),
    (
        "refer-mental-health-evaluation",
        REFER,
        ("mental-health-evaluation",),
        (*(f"phq9.q{i}" for i in range(1, 10)), "psychosis_symptoms"),
    ),
    (
        "refer-health-check",
        REFER,
        ("primary-care-health-check",),
        (
            *(f"gad7.q{i}" for i in range(1, 8)),
            "injects_drugs",
            *(f"phq9.q{i}" for i in range(1, 10)),
            "physical_health",
            "unmanaged_medical_condition",
        ),
    ),
    ("refer-family-support", REFER, ("family-support-groups",), ("recovery_focus",)),
    ("defer-precontemplation", DEFER, (), ("stage_of_change",)),
    (
        "defer-low-motivation",
        DEFER,
        (),
        ("readiness.q1", "stage_of_change", "wants_to_join_group"),
    ),
    (
        "defer-participation",
        DEFER,
        (),
        (
            "access_needs_met",
            "agrees_to_group_agreements",
            "can_attend_weekly",
            "comfort_in_groups",
        ),
    ),
    ("defer-group-agreements", DEFER, (), ("agrees_to_group_agreements",)),
    (
        "defer-low-insight",
        DEFER,
        (),
        (
            "can_name_recovery_goal",
            "has_relapse_plan",
            "recognises_problem",
            "understands_stages_of_change",
        ),
    ),
    (
        "defer-sobriety-unstable",
        DEFER,
        (),
        (
            "days_since_last_use",
            "housing",
            "lifestyle_changes_started",
            "overdose_last_90_days",
            "previous_abstinence_30d",
        ),
    ),
)
DEFAULT_REFERRALS = ("mutual-aid-groups", "online-peer-network")


# The floor is one straight-line function, as a programmer writes it for speed: no C901 split.
def _screen(a: dict[str, Any], explain: bool) -> dict[str, Any]:  # noqa: C901
    get = a.get
    audit = get("audit")
    readiness = get("readiness") or {}
    audit_total = _total(audit, 10)
    dependence = None
    if audit:
        items = (audit.get("q4"), audit.get("q5"), audit.get("q6"))
        dependence = None if None in items else sum(items)  # type: ignore[arg-type]
    dast_total = _dast_total(get("dast10"))
    phq9 = get("phq9") or {}
    phq9_total = _total(phq9, 9)
    gad7_total = _total(get("gad7"), 7)
    ruler = readiness.get("q1")
    stage = get("stage_of_change")
    violence = get("violence_last_12_months")
    threats = get("threats_to_others_recent")
    days = get("days_since_last_use")
    overdose = get("overdose_last_90_days")
    recognises = get("recognises_problem")

    def truth(name: str) -> Truth:
        return get(name)  # type: ignore[no-any-return]

    def negation(value: Truth) -> Truth:
        return None if value is None else not value

    domains = {
        "motivation": _domain(
            [
                ("motivation-ruler-high", _at_least(ruler, 7), 3),
                ("motivation-ruler-middle", _between(ruler, 4, 6), 1),
                (
                    "motivation-stage-active",
                    None if stage is None else stage in ("preparation", "action", "maintenance"),
                    3,
                ),
                ("motivation-stage-contemplation", _is(stage, "contemplation"), 1),
                ("motivation-wants-group", truth("wants_to_join_group"), 2),
                ("motivation-precontemplation", _is(stage, "precontemplation"), -2),
            ],
            MOTIVATION_BANDS,
            8,
        ),
        "participation_ability": _domain(
            [
                ("participation-attends-weekly", truth("can_attend_weekly"), 3),
                (
                    "participation-comfortable",
                    None
                    if get("comfort_in_groups") is None
                    else get("comfort_in_groups") in ("somewhat", "very"),
                    2,
                ),
                ("participation-agreements", truth("agrees_to_group_agreements"), 2),
                ("participation-access", truth("access_needs_met"), 1),
            ],
            PARTICIPATION_BANDS,
            None,
        ),
        "risk_history": _domain(
            [
                ("risk-violence-recent", _or(violence, threats), 5),
                ("risk-violence-past", truth("violence_more_than_12_months_ago"), 2),
                ("risk-removed-from-program", truth("removed_from_program_for_safety"), 3),
                (
                    "risk-justice-involvement",
                    None
                    if get("justice_involvement") is None
                    else get("justice_involvement") in ("past", "current"),
                    1,
                ),
                ("risk-impaired-driving", truth("impaired_driving_last_12_months"), 1),
            ],
            RISK_BANDS,
            None,
        ),
        "substance_dependence": _domain(
            [
                ("dependence-audit-zone-iii-iv", _at_least(audit_total, 16), 3),
                ("dependence-audit-zone-ii", _between(audit_total, 8, 15), 1),
                ("dependence-audit-items", _at_least(dependence, 4), 2),
                ("dependence-dast-substantial", _at_least(dast_total, 6), 3),
                ("dependence-dast-moderate", _between(dast_total, 3, 5), 1),
                ("dependence-daily-use", _is(get("use_frequency_30d"), "daily"), 2),
            ],
            DEPENDENCE_BANDS,
            None,
        ),
        "sobriety_capacity": _domain(
            [
                ("sobriety-30-days", _at_least(days, 30), 2),
                ("sobriety-7-days", None if days is None else 7 <= days < 30, 1),
                ("sobriety-previous-period", truth("previous_abstinence_30d"), 1),
                ("sobriety-stable-housing", _is(get("housing"), "stable"), 1),
                ("sobriety-lifestyle-changes", truth("lifestyle_changes_started"), 1),
                ("sobriety-recent-overdose", overdose, -2),
            ],
            SOBRIETY_BANDS,
            None,
        ),
        "insight": _domain(
            [
                ("insight-recognises-clearly", _is(recognises, "clearly"), 2),
                ("insight-recognises-somewhat", _is(recognises, "somewhat"), 1),
                ("insight-recovery-goal", truth("can_name_recovery_goal"), 2),
                ("insight-stages-of-change", truth("understands_stages_of_change"), 1),
                ("insight-relapse-plan", truth("has_relapse_plan"), 1),
            ],
            INSIGHT_BANDS,
            None,
        ),
        "health_wellness": _domain(
            [
                ("health-depression", _at_least(phq9_total, 10), 2),
                ("health-anxiety", _at_least(gad7_total, 10), 2),
                ("health-physical-poor", _is(get("physical_health"), "poor"), 1),
                ("health-unmanaged-condition", truth("unmanaged_medical_condition"), 2),
                ("health-injecting", truth("injects_drugs"), 1),
            ],
            HEALTH_BANDS,
            None,
        ),
    }
    band = {name: domain[1] for name, domain in domains.items()}
    withdrawal = get("withdrawal_severity")
    truths: tuple[Truth, ...] = (
        _at_least(phq9.get("q9"), 1),
        truth("current_suicidal_intent"),
        _is(withdrawal, "severe"),
        _or(
            _is(withdrawal, "moderate"),
            _and(_is(withdrawal, "mild"), truth("withdrawal_seizure_history")),
        ),
        truth("intoxicated_now"),
        _or(violence, threats),
        _is(band["risk_history"], "high"),
        _or(
            _or(_at_least(audit_total, 20), _at_least(dast_total, 6)),
            _is(band["substance_dependence"], "high"),
        ),
        _and(overdose, _is(get("use_frequency_30d"), "daily")),
        _or(_at_least(phq9_total, 20), truth("psychosis_symptoms")),
        _is(band["health_wellness"], "many_concerns"),
        _is(get("recovery_focus"), "supporting_someone_else"),
        _is(stage, "precontemplation"),
        _is(band["motivation"], "low"),
        _or(negation(truth("can_attend_weekly")), _is(band["participation_ability"], "low")),
        negation(truth("agrees_to_group_agreements")),
        _is(band["insight"], "low"),
        _is(band["sobriety_capacity"], "unstable"),
    )
    rank = ADMIT
    for (_, rule_rank, _, _), value in zip(DECISIONS, truths, strict=True):
        if value is True and rule_rank > rank:
            rank = rule_rank
    blocking = [
        index for index, value in enumerate(truths) if value is None and DECISIONS[index][1] > rank
    ]
    missing_must = [name for name in MUST_ANSWER if get(name) is None]
    fail_safe = rank == ADMIT and bool(blocking or missing_must)
    if fail_safe:
        rank = DEFER
    outcome = ("admit", "defer", "refer")[rank]
    if not explain:
        return {"outcome": outcome}
    if fail_safe:
        deciding = ["incomplete"]
    else:
        deciding = [
            DECISIONS[index][0]
            for index, value in enumerate(truths)
            if value is True and DECISIONS[index][1] == rank
        ] or ["default"]
    needed = {key for index in blocking for key in DECISIONS[index][3]}
    if rank != REFER:
        needed.update(MUST_ANSWER)

    def answered(key: str) -> bool:
        if "." in key:
            alias, item = key.split(".")
            return (get(alias) or {}).get(item) is not None
        return get(key) is not None

    referrals: list[str] = []
    if deciding == ["default"]:
        referrals = list(DEFAULT_REFERRALS)
    elif not fail_safe:
        for rule_id, _, targets, _ in DECISIONS:
            if rule_id in deciding:
                referrals.extend(t for t in targets if t not in referrals)
    return {
        "outcome": outcome,
        "deciding": deciding,
        "needs": sorted(key for key in needed if not answered(key)),
        "referrals": referrals,
        "domains": {
            name: {
                "score": score,
                "score_range": [low, high],
                "band": domain_band,
                "contributions": [{"rule": r, "points": p} for r, p in contributions],
                "undecided": undecided,
            }
            for name, (score, domain_band, low, high, contributions, undecided) in domains.items()
        },
        "undecided": [DECISIONS[index][0] for index, value in enumerate(truths) if value is None],
    }


def outcome(applicant: dict[str, Any]) -> str:
    """The outcome alone."""
    return str(_screen(applicant, False)["outcome"])


def explained(applicant: dict[str, Any]) -> dict[str, Any]:
    """The outcome with its explanation as plain dicts."""
    return _screen(applicant, True)
