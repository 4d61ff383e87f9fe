"""Generate a synthetic cohort of applicants for the peer-support-intake ruleset (1.0.0 or 1.1.0).

Each person has a few latent traits (substance-use severity, mental-health symptom load,
readiness to change, risk of harm to others, recovery resources) that drive every answer, so
answers are correlated the way they are at a real intake: heavier use goes with higher AUDIT /
DAST-10 scores, more withdrawal and less time abstinent; more distress goes with higher PHQ-9 /
GAD-7 scores; higher readiness goes with a later stage of change and more insight.

Missing data: about 5% of people skip one whole instrument, and about 10% leave gaps in the
rest of the form (each answer missing with probability 0.3), so about 3% of all answers are
missing, completely at random. Every answer that is present is valid against the ruleset's
input contract: exact enum values, integers within range, booleans as JSON true / false.

The output is JSON Lines, one applicant per line, written as it is generated (constant memory):

    python examples/generate_cohort.py --count 1000 --seed 2026 --out examples/cohort-1000.jsonl
    python examples/generate_cohort.py --count 1000000 --seed 1 --out - | gzip > cohort.jsonl.gz

`--ruleset-version 1.1.0` adds the questions intake 1.1.0 asks (age, a suicide attempt or
self-harm in the last 12 months, thoughts of harming others, whether a diagnosis is documented or
self-identified, medication for opioid use disorder, pregnancy). It draws them from a second
random stream, so for the same seed the 1.1.0 cohort holds the same people with the same 1.0.0
answers (and the same missing ones) plus the new answers, and the default (1.0.0) output stays
byte-identical to what it always was:

    python examples/generate_cohort.py --count 1000 --seed 2026 --ruleset-version 1.1.0 \
        --out examples/cohort-1000-v1.1.jsonl

`--group-columns` adds side-car columns under each row's `cohort` key, which no ruleset reads
(simulate and diff remove them before evaluating, and group by them with
`--group-by cohort.age_band`): `age_band` (the 1.1.0 answer `age_years` where it was given),
`referral_source` (who sent the person; the justice system far more often for people with current
justice involvement) and `site` (one of four, at random: a group with no built-in difference).
They are drawn from a third random stream, so the rows are otherwise the same, byte for byte:

    python examples/generate_cohort.py --count 1000 --seed 2026 --group-columns \
        --out cohort-groups.jsonl

A million applicants take a few minutes on one core (about 3,000 a second).

The data are synthetic: no real person is described. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections.abc import Iterator
from typing import TextIO

Answer = bool | int | str
Applicant = dict[str, Answer | dict[str, Answer]]

INSTRUMENTS = ("audit", "dast10", "phq9", "gad7", "readiness")
SKIP_WEIGHTS = (3, 3, 2, 2, 1)  # which instrument a skipping person leaves out
SKIP_INSTRUMENT_RATE = 0.05
GAPPY_PERSON_RATE = 0.10
GAP_RATE = 0.30
MAX_DAYS = 36500
FREQUENCIES = ("none", "monthly_or_less", "weekly", "several_times_a_week", "daily")
LATEST_USE_DAYS = {"monthly_or_less": 29, "weekly": 8, "several_times_a_week": 4, "daily": 1}
STAGES = ("precontemplation", "contemplation", "preparation", "action", "maintenance")
HEALTH_RATINGS = ("poor", "fair", "good", "very_good")


def sigmoid(x: float) -> float:
    """Logistic function: a latent score to a probability."""
    return 1.0 / (1.0 + math.exp(-x))


def clamp(value: float, low: int, high: int) -> int:
    """Round `value` to the nearest integer within [low, high]."""
    return max(low, min(high, round(value)))


def pick(rng: random.Random, values: tuple[str, ...], latent: float, spread: float = 1.0) -> str:
    """Choose an ordered value: the latent score (about N(0, 1)) plus noise, cut into equal-width
    slices from the lowest to the highest value."""
    position = (latent + rng.gauss(0.0, spread)) / 1.2 + len(values) / 2
    return values[clamp(position - 0.5, 0, len(values) - 1)]


class Person:
    """The latent traits of one synthetic applicant."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.focus = rng.choices(
            ("substance_use", "co_occurring", "mental_health", "supporting_someone_else"),
            weights=(52, 28, 18, 2),
        )[0]
        severity = rng.gauss(-0.45, 0.9)
        if self.focus == "mental_health":
            severity = min(severity, 0.0) - 1.0
        elif self.focus == "supporting_someone_else":
            severity = -1.5
        self.severity = severity
        self.alcohol = rng.random() < 0.7 or self.focus == "mental_health"
        self.drugs = rng.random() < (0.55 if self.alcohol else 1.0)
        mental_health_focus = 0.9 if self.focus != "substance_use" else 0.0
        self.distress = rng.gauss(0.3 * severity + mental_health_focus, 1.0)
        self.readiness = rng.gauss(0.7, 1.0)
        self.aggression = rng.gauss(0.0, 1.0)
        self.resources = rng.gauss(0.0, 1.0) - 0.25 * severity


def chance(rng: random.Random, probability: float) -> bool:
    """True with the given probability."""
    return rng.random() < probability


def substance_use(person: Person, answers: Applicant) -> None:
    """Use frequency, time since last use, withdrawal and intoxication, consistent together."""
    rng, s = person.rng, person.severity
    frequency = "none"
    if person.focus != "supporting_someone_else":
        frequency = pick(rng, FREQUENCIES, s - 0.6 * person.readiness)
    if frequency == "none":
        days = min(MAX_DAYS, 30 + int(rng.expovariate(1 / 240)))
    else:
        days = rng.randint(0, LATEST_USE_DAYS[frequency])
    answers["use_frequency_30d"] = frequency
    answers["days_since_last_use"] = days
    withdrawal = "none"
    if days <= 3 and frequency in ("several_times_a_week", "daily"):
        withdrawal = rng.choices(
            ("none", "mild", "moderate", "severe"),
            weights=(55, 30, 12 + 8 * max(s, 0.0), 1.5 + 2 * max(s, 0.0)),
        )[0]
    answers["withdrawal_severity"] = withdrawal
    answers["withdrawal_seizure_history"] = chance(rng, sigmoid(-3.4 + 0.9 * s))
    answers["intoxicated_now"] = days == 0 and chance(rng, 0.12)
    answers["overdose_last_90_days"] = (
        person.drugs and days < 90 and chance(rng, sigmoid(-3.4 + 0.9 * s))
    )
    answers["injects_drugs"] = person.drugs and chance(rng, sigmoid(-2.6 + 0.9 * s))


def audit(person: Person) -> dict[str, Answer]:
    """AUDIT answers: items 1-8 on 0-4, items 9-10 one of 0 / 2 / 4."""
    rng = person.rng
    level = person.severity if person.alcohol else -2.5
    base = (1.4, 1.0, 0.8, 0.2, 0.2, -0.2, 0.5, 0.2)
    items: dict[str, Answer] = {
        f"q{i + 1}": clamp(b + 1.1 * level + rng.gauss(0.0, 0.7), 0, 4) for i, b in enumerate(base)
    }
    for item, offset in (("q9", -1.6), ("q10", -0.4)):
        p = sigmoid(offset + 1.3 * level)
        items[item] = 0 if not chance(rng, p) else (4 if chance(rng, 0.6) else 2)
    return items


def dast10(person: Person) -> dict[str, Answer]:
    """DAST-10 answers: ten booleans; item 3 ("always able to stop") scores when false."""
    rng = person.rng
    level = person.severity if person.drugs else -3.0
    offsets = (1.0, -0.6, 0.0, -1.2, 0.2, -0.4, -0.9, -1.4, -0.5, -1.5)
    items: dict[str, Answer] = {}
    for i, offset in enumerate(offsets):
        scores = chance(rng, sigmoid(offset + 1.6 * level))
        items[f"q{i + 1}"] = (not scores) if i == 2 else scores
    return items


def symptoms(person: Person, count: int, offset: float) -> dict[str, Answer]:
    """PHQ-9 / GAD-7 style items on 0-3 driven by distress."""
    rng = person.rng
    return {
        f"q{i + 1}": clamp(offset + 0.8 * person.distress + rng.gauss(0.0, 0.7), 0, 3)
        for i in range(count)
    }


def phq9(person: Person) -> dict[str, Answer]:
    """PHQ-9 items 1-9 (item 10 is not scored and not asked here)."""
    items = symptoms(person, 9, 0.45)
    items["q9"] = (
        0
        if not chance(person.rng, sigmoid(-4.0 + 1.1 * person.distress))
        else (person.rng.choice((1, 1, 1, 2, 3)))
    )
    return items


def applicant(rng: random.Random) -> Applicant:
    """One synthetic applicant, complete before missing data are applied."""
    return person_and_answers(rng)[1]


def person_and_answers(rng: random.Random) -> tuple[Person, Applicant]:
    """The latent person and their 1.0.0 answers, complete before missing data are applied."""
    person = Person(rng)
    r, s, d, res = person.readiness, person.severity, person.distress, person.resources
    a = person.aggression
    answers: Applicant = {"recovery_focus": person.focus}
    answers["stage_of_change"] = pick(rng, STAGES, r - 0.1)
    answers["wants_to_join_group"] = chance(rng, sigmoid(1.6 + 1.3 * r))
    answers["can_attend_weekly"] = chance(rng, 0.96)
    answers["comfort_in_groups"] = pick(rng, ("not_at_all", "a_little", "somewhat", "very"), 0.5)
    answers["agrees_to_group_agreements"] = chance(rng, sigmoid(3.2 + 0.8 * r))
    answers["access_needs_met"] = chance(rng, 0.9)
    answers["violence_last_12_months"] = chance(rng, sigmoid(-4.9 + 0.4 * s + 1.1 * a))
    answers["threats_to_others_recent"] = chance(rng, sigmoid(-5.2 + 0.3 * s + 1.2 * a))
    answers["violence_more_than_12_months_ago"] = chance(rng, sigmoid(-2.4 + 0.8 * a))
    answers["removed_from_program_for_safety"] = chance(rng, sigmoid(-4.6 + 0.9 * a))
    answers["justice_involvement"] = pick(rng, ("none", "past", "current"), 0.6 * s - 1.0)
    answers["impaired_driving_last_12_months"] = person.alcohol and chance(
        rng, sigmoid(-2.8 + 0.8 * s)
    )
    substance_use(person, answers)
    answers["current_suicidal_intent"] = chance(rng, sigmoid(-6.0 + 1.2 * d))
    answers["psychosis_symptoms"] = chance(rng, sigmoid(-5.2 + 0.7 * d))
    days = answers["days_since_last_use"]
    assert isinstance(days, int)
    answers["previous_abstinence_30d"] = days >= 30 or chance(rng, sigmoid(1.0 + 0.6 * r - 0.3 * s))
    answers["housing"] = pick(rng, ("homeless", "temporary", "stable"), res + 1.2, 0.8)
    answers["lifestyle_changes_started"] = chance(rng, sigmoid(1.0 + 1.0 * r))
    answers["recognises_problem"] = pick(rng, ("not_really", "somewhat", "clearly"), r + 0.3, 0.8)
    answers["can_name_recovery_goal"] = chance(rng, sigmoid(1.4 + 1.1 * r))
    answers["understands_stages_of_change"] = chance(rng, sigmoid(0.6 + 0.8 * r))
    answers["has_relapse_plan"] = chance(rng, sigmoid(0.2 + 0.8 * r + 0.3 * res))
    answers["physical_health"] = pick(rng, HEALTH_RATINGS, res - 0.3 * d, 0.9)
    answers["unmanaged_medical_condition"] = chance(rng, sigmoid(-2.9 + 0.4 * s - 0.4 * res))
    answers["audit"] = audit(person)
    answers["dast10"] = dast10(person)
    depression = phq9(person)
    if answers["current_suicidal_intent"] and depression["q9"] == 0:
        depression["q9"] = rng.choice((2, 3))
    answers["phq9"] = depression
    answers["gad7"] = symptoms(person, 7, 0.6)
    answers["readiness"] = {"q1": clamp(6.5 + 2.0 * r + rng.gauss(0.0, 1.2), 0, 10)}
    return person, answers


DIAGNOSIS = ("documented", "self_identified", "not_sure")
NEW_GAP_RATE = GAPPY_PERSON_RATE * GAP_RATE  # the same 3% of answers missing as the rest


def answers_1_1(person: Person, answers: Applicant, rng: random.Random) -> Applicant:
    """The answers intake 1.1.0 adds, drawn from `rng` (not the person's own stream) and
    consistent with the person's traits and 1.0.0 answers; each is missing with probability
    `NEW_GAP_RATE`. Pregnancy is asked as optional and often left out."""
    s, d, a = person.severity, person.distress, person.aggression
    new: Applicant = {}
    if chance(rng, 0.02):
        new["age_years"] = rng.randint(15, 17)
    else:
        new["age_years"] = min(90, 18 + int(rng.gammavariate(2.2, 9.0)))
    if person.focus == "supporting_someone_else":
        new["diagnosis_status"] = "not_sure"
    else:
        new["diagnosis_status"] = rng.choices(DIAGNOSIS, weights=(55, 35, 10))[0]
    intent = answers.get("current_suicidal_intent") is True
    new["suicide_attempt_or_self_harm_12_months"] = chance(
        rng, sigmoid(-4.3 + 1.0 * d + (2.0 if intent else 0.0))
    )
    new["thoughts_of_harming_others"] = chance(rng, sigmoid(-5.8 + 1.0 * a))
    new["takes_moud"] = person.drugs and chance(rng, sigmoid(-1.9 + 0.5 * s))
    if chance(rng, 0.35):
        new["pregnant"] = chance(rng, 0.06)
    return {key: value for key, value in new.items() if not chance(rng, NEW_GAP_RATE)}


def with_missing(rng: random.Random, answers: Applicant) -> Applicant:
    """Remove answers completely at random: sometimes a whole instrument, sometimes scattered
    answers. A removed answer is an absent key (the contract also accepts null)."""
    if chance(rng, SKIP_INSTRUMENT_RATE):
        del answers[rng.choices(INSTRUMENTS, weights=SKIP_WEIGHTS)[0]]
    if chance(rng, GAPPY_PERSON_RATE):
        for key in list(answers):
            value = answers[key]
            if isinstance(value, dict):
                for item in list(value):
                    if chance(rng, GAP_RATE):
                        del value[item]
            elif chance(rng, GAP_RATE):
                del answers[key]
    return answers


AGE_BANDS = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (50, "35-49"))
OLDEST_BAND = "50+"
REFERRAL_SOURCES = ("self", "treatment_provider", "justice_system", "family_or_friend")
JUSTICE_REFERRAL_RATE = {"none": 0.04, "past": 0.15, "current": 0.6}
SITES = ("north", "south", "east", "west")


def age_band(age: int) -> str:
    """The side-car age band of an age in years."""
    for below, band in AGE_BANDS:
        if age < below:
            return band
    return OLDEST_BAND


def group_columns(justice: str, age: int | None, rng: random.Random) -> dict[str, Answer]:
    """Side-car columns for one person from `rng` (a stream of their own): `justice` is the
    person's justice involvement before any answer was removed, `age` their 1.1.0 age answer."""
    if age is None:
        age = rng.randint(15, 17) if chance(rng, 0.02) else 18 + int(rng.gammavariate(2.2, 9.0))
    if chance(rng, JUSTICE_REFERRAL_RATE[justice]):
        source = "justice_system"
    else:
        source = rng.choices(("self", "treatment_provider", "family_or_friend"), (50, 35, 15))[0]
    return {"age_band": age_band(age), "referral_source": source, "site": rng.choice(SITES)}


VERSIONS = ("1.0.0", "1.1.0")


def cohort(
    count: int, seed: int, version: str = "1.0.0", groups: bool = False
) -> Iterator[Applicant]:
    """Yield `count` applicants; the same seed gives the same cohort. For 1.1.0 every person
    and every 1.0.0 answer is the one 1.0.0 gives, with the new answers added; `groups` adds the
    side-car columns without changing any answer."""
    rng = random.Random(seed)
    extra = random.Random(f"{seed}:1.1.0")
    sidecar = random.Random(f"{seed}:cohort")
    for _ in range(count):
        person, answers = person_and_answers(rng)
        justice = answers["justice_involvement"]
        assert isinstance(justice, str)
        answers = with_missing(rng, answers)
        if version == "1.1.0":
            answers.update(answers_1_1(person, answers, extra))
        if groups:
            age = answers.get("age_years")
            known_age = age if isinstance(age, int) and not isinstance(age, bool) else None
            answers["cohort"] = group_columns(justice, known_age, sidecar)
        yield answers


def write(count: int, seed: int, out: TextIO, version: str = "1.0.0", groups: bool = False) -> None:
    """Write the cohort as JSON Lines, one applicant at a time."""
    for person in cohort(count, seed, version, groups):
        out.write(json.dumps(person, separators=(",", ":")))
        out.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="number of applicants")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (reproducible)")
    parser.add_argument("--out", default="-", help="output file, or - for standard output")
    parser.add_argument(
        "--ruleset-version",
        choices=VERSIONS,
        default="1.0.0",
        help="intake version whose questions to answer (default 1.0.0)",
    )
    parser.add_argument(
        "--group-columns",
        action="store_true",
        help="add side-car group columns (cohort.age_band, cohort.referral_source, cohort.site)",
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count must be 0 or more")
    if args.out == "-":
        try:
            write(args.count, args.seed, sys.stdout, args.ruleset_version, args.group_columns)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped early (e.g. `| head`): end quietly, without a traceback.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as out:
            write(args.count, args.seed, out, args.ruleset_version, args.group_columns)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
