"""`check` on the columnar engine against the scalar search, side by side in one run.

    python benchmarks/bench_check.py [--examples 300] [--seed 0] [--ruleset ID@VERSION ...]
        [--all-versions | --first-versions] [--skip-scalar ID@VERSION ... | --columnar-only]

For each ruleset (default: the newest version of every shipped ruleset; `--all-versions`: every
shipped version; `--first-versions`: every 1.0.0, all format v1), `check_properties` runs once
on each engine with the same examples and seed, in this one process. Printed per ruleset: the
properties, the applicants the search plans to evaluate (sweep and random), the seconds on each
engine, the ratio scalar / columnar and whether the two engines gave the same verdicts.
`--skip-scalar` leaves a ruleset's scalar run out (the scalar search of a large one takes
minutes), so its row has no ratio; `--columnar-only` leaves every one out.

The scalar search runs hypothesis (milliseconds an example: drawing, then evaluating one
applicant); the columnar one evaluates the same sweep and as many random applicants in Arrow
tables. A format v2 ruleset sends the rows its SQL cannot prove exact (an undecided rule over
missing answers) to the scalar engine's exact search, which then dominates both engines.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _shipped(all_versions: bool, first_versions: bool) -> list[str]:
    from recovery_screening import shipped_rulesets_directory

    found: dict[str, list[str]] = {}
    for path in sorted(shipped_rulesets_directory().glob("*/*.yaml")):
        found.setdefault(path.parent.name, []).append(path.stem)
    references = []
    for name, versions in sorted(found.items()):
        ordered = sorted(versions, key=lambda v: tuple(int(part) for part in v.split(".")))
        chosen = ordered if all_versions else ordered[:1] if first_versions else ordered[-1:]
        references += [f"{name}@{version}" for version in chosen]
    return references


def _timed(reference: str, examples: int, seed: int, engine: str) -> tuple[float, list[bool]]:
    from recovery_screening import load_ruleset
    from recovery_screening.designer.check import check_properties

    ruleset = load_ruleset(reference)
    start = time.perf_counter()
    results = check_properties(ruleset, examples=examples, seed=seed, engine=engine)
    return time.perf_counter() - start, [result.passed for result in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ruleset", action="append", default=[], metavar="ID@VERSION")
    parser.add_argument("--all-versions", action="store_true")
    parser.add_argument("--first-versions", action="store_true")
    parser.add_argument("--skip-scalar", action="append", default=[], metavar="ID@VERSION")
    parser.add_argument("--columnar-only", action="store_true")
    arguments = parser.parse_args()

    from recovery_screening import load_ruleset
    from recovery_screening.designer._properties import Properties

    references = arguments.ruleset or _shipped(arguments.all_versions, arguments.first_versions)
    _timed(references[0], 1, 0, "columnar")  # imports and DuckDB loaded before timing
    print(f"check --examples {arguments.examples} --seed {arguments.seed}, one process")
    print(
        f"{'ruleset':<34}{'props':>6}{'planned':>10}{'columnar s':>12}{'scalar s':>10}"
        f"{'ratio':>8}  verdicts"
    )
    totals = [0.0, 0.0]
    for reference in references:
        properties = Properties(load_ruleset(reference))
        planned = properties.planned(arguments.examples)
        columnar, columnar_verdicts = _timed(
            reference, arguments.examples, arguments.seed, "columnar"
        )
        if arguments.columnar_only or reference in arguments.skip_scalar:
            print(
                f"{reference:<34}{len(properties.checks()):>6}{planned:>10}{columnar:>12.2f}"
                f"{'-':>10}{'-':>8}  {columnar_verdicts.count(False)} broken (scalar skipped)"
            )
            continue
        scalar, scalar_verdicts = _timed(reference, arguments.examples, arguments.seed, "scalar")
        totals[0] += columnar
        totals[1] += scalar
        agree = "same" if columnar_verdicts == scalar_verdicts else "DIFFERENT"
        print(
            f"{reference:<34}{len(properties.checks()):>6}{planned:>10}{columnar:>12.2f}"
            f"{scalar:>10.2f}{scalar / columnar:>7.1f}x  {agree}, "
            f"{columnar_verdicts.count(False)} broken"
        )
    if totals[0]:
        print(
            f"{'total (rulesets run on both)':<50}{totals[0]:>12.2f}{totals[1]:>10.2f}"
            f"{totals[1] / totals[0]:>7.1f}x"
        )


if __name__ == "__main__":
    main()
