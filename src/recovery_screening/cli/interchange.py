"""`questionnaire` and `serve`: a ruleset's FHIR Questionnaire, and the CDS Hooks service."""

from __future__ import annotations

import argparse
import json
from typing import Any

from recovery_screening.cli.common import (
    EXIT_OK,
    add_rulesets_dir_option,
    int_in_range,
    open_ruleset,
)


def register(subparsers: Any) -> None:
    questionnaire = subparsers.add_parser(
        "questionnaire", help="print a ruleset's inputs as a FHIR R4 Questionnaire (fhir extra)"
    )
    questionnaire.add_argument("ruleset", metavar="RULESET", help="ruleset id[@version] or file")
    add_rulesets_dir_option(questionnaire)
    questionnaire.set_defaults(handler=run_questionnaire)

    serve = subparsers.add_parser(
        "serve", help="run the CDS Hooks service for the screening rulesets (server extra)"
    )
    serve.add_argument(
        "--rulesets",
        metavar="DIR",
        help="directory of rulesets to serve (<id>/<version>.yaml); default: the shipped ones",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int_in_range(1, 65535), default=8080, help="port to listen on (default 8080)"
    )
    serve.set_defaults(handler=run_serve)


def run_questionnaire(arguments: argparse.Namespace) -> int:
    ruleset = open_ruleset(arguments, arguments.ruleset)
    print(json.dumps(ruleset.to_fhir_questionnaire(), ensure_ascii=False, indent=2))
    return EXIT_OK


def run_serve(arguments: argparse.Namespace) -> int:
    from recovery_screening.interchange.server import serve

    serve(arguments.rulesets, host=arguments.host, port=arguments.port)
    return EXIT_OK
