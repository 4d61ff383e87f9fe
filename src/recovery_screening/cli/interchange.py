"""`questionnaire`: a ruleset's inputs as a FHIR Questionnaire."""

from __future__ import annotations

import argparse
import json
from typing import Any

from recovery_screening.cli.common import EXIT_OK, add_rulesets_dir_option, open_ruleset


def register(subparsers: Any) -> None:
    questionnaire = subparsers.add_parser(
        "questionnaire", help="print a ruleset's inputs as a FHIR R4 Questionnaire (fhir extra)"
    )
    questionnaire.add_argument("ruleset", metavar="RULESET", help="ruleset id[@version] or file")
    add_rulesets_dir_option(questionnaire)
    questionnaire.set_defaults(handler=run_questionnaire)


def run_questionnaire(arguments: argparse.Namespace) -> int:
    ruleset = open_ruleset(arguments, arguments.ruleset)
    print(json.dumps(ruleset.to_fhir_questionnaire(), ensure_ascii=False, indent=2))
    return EXIT_OK
