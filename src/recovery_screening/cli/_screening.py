"""`evaluate`, `validate`, `schema`: screen an applicant, check rulesets, print its contract."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import Any

from recovery_screening.backends import BACKENDS
from recovery_screening.cli._common import (
    EXIT_OK,
    EXIT_USAGE,
    add_format_option,
    add_ruleset_option,
    add_rulesets_dir_option,
    open_ruleset,
    read_input_document,
)
from recovery_screening.errors import ScreeningError


def register(subparsers: Any) -> None:
    evaluate = subparsers.add_parser(
        "evaluate", help="screen one applicant and print the explained decision"
    )
    evaluate.add_argument(
        "applicant",
        metavar="APPLICANT",
        help="applicant JSON file (or a FHIR QuestionnaireResponse), or - for stdin",
    )
    add_ruleset_option(evaluate)
    add_format_option(evaluate)
    evaluate.add_argument(
        "--audience",
        choices=("staff", "applicant"),
        default="staff",
        help="text: for staff (everything, with rule ids and codes; default) or for the "
        "applicant (plain words, no codes or hashes)",
    )
    evaluate.add_argument(
        "--backend",
        choices=BACKENDS,
        default="native",
        help="native compiled evaluator (default) or durable-rules (needs the durable extra)",
    )
    evaluate.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        type=_date,
        default=None,
        help="the date of the screening (format v2 rulesets: the reserved screening_date; "
        "evaluation reads no clock)",
    )
    evaluate.add_argument(
        "--next-steps",
        action="store_true",
        help="also print the smallest changes to actionable answers that would make the outcome "
        "more permissive (format v2 rulesets that mark actionable inputs; with --audience "
        "applicant they are the text's own section, in plain words)",
    )
    evaluate.add_argument(
        "--max-changes",
        metavar="N",
        type=_positive,
        default=None,
        help="with --next-steps: search sets of at most N changes (default 3)",
    )
    evaluate.set_defaults(handler=run_evaluate)

    validate = subparsers.add_parser(
        "validate", help="check ruleset files against the format and their meaning"
    )
    validate.add_argument("paths", metavar="PATH", nargs="+", help="ruleset files")
    add_rulesets_dir_option(validate)
    add_format_option(validate)
    validate.set_defaults(handler=run_validate)

    schema = subparsers.add_parser("schema", help="print a ruleset's applicant JSON Schema")
    schema.add_argument("ruleset", metavar="RULESET", help="ruleset id[@version] or file")
    add_rulesets_dir_option(schema)
    add_format_option(schema, json_only=True)
    schema.set_defaults(handler=run_schema)


def _date(text: str) -> datetime.date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a calendar date written YYYY-MM-DD") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_evaluate(arguments: argparse.Namespace) -> int:
    ruleset = open_ruleset(arguments)
    applicant = read_input_document(arguments.applicant)
    if isinstance(applicant, dict) and "resourceType" in applicant:
        from recovery_screening.interchange.fhir_in import from_questionnaire_response

        applicant = from_questionnaire_response(applicant, ruleset)
    as_of = arguments.as_of
    if as_of is not None and ruleset.compiled.format_version < 2:
        print(
            f"note: {ruleset.id} {ruleset.version} is format v1, which has no screening date; "
            "--as-of is not used",
            file=sys.stderr,
        )
    decision = ruleset.evaluate(applicant, as_of=as_of)
    if not arguments.next_steps:
        if arguments.max_changes is not None:
            print("note: --max-changes is used only with --next-steps", file=sys.stderr)
        print(
            decision.to_json()
            if arguments.format == "json"
            else decision.explain(arguments.audience)
        )
        return EXIT_OK
    from recovery_screening.next_steps import MAX_CHANGES, next_steps

    steps = next_steps(decision, ruleset, max_changes=arguments.max_changes or MAX_CHANGES)
    if arguments.format == "json":
        found = json.dumps(steps.to_dict(), ensure_ascii=False, separators=(",", ":"))
        print(f'{{"decision":{decision.to_json()},"next_steps":{found}}}')
    elif arguments.audience == "applicant":
        print(decision.explain("applicant", next_steps=steps))
    else:
        print(f"{decision.explain()}\n\n{steps.explain()}")
    return EXIT_OK


def run_validate(arguments: argparse.Namespace) -> int:
    from recovery_screening.ruleset import load_ruleset

    results: list[dict[str, Any]] = []
    for path in arguments.paths:
        try:
            ruleset = load_ruleset(path, rulesets_dir=arguments.rulesets_dir)
        except ScreeningError as error:
            problems = [
                {"path": p.path, "code": p.code, "message": p.message}
                for p in getattr(error, "problems", ())
            ]
            results.append(
                {"file": path, "valid": False, "error": str(error).splitlines()[0],
                 "problems": problems}
            )  # fmt: skip
        else:
            results.append(
                {"file": path, "valid": True, "id": ruleset.id, "version": ruleset.version,
                 "content_hash": ruleset.content_hash}
            )  # fmt: skip
    if arguments.format == "json":
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        for result in results:
            if result["valid"]:
                print(f"ok       {result['file']}: {result['id']} {result['version']} "
                      f"{result['content_hash']}")  # fmt: skip
            else:
                print(f"invalid  {result['file']}: {result['error']}")
                for problem in result["problems"]:
                    print(f"    {problem['path']}: {problem['message']} [{problem['code']}]")
    return EXIT_OK if all(result["valid"] for result in results) else EXIT_USAGE


def run_schema(arguments: argparse.Namespace) -> int:
    ruleset = open_ruleset(arguments, arguments.ruleset)
    print(json.dumps(ruleset.input_schema(), ensure_ascii=False, indent=2))
    return EXIT_OK
