"""`questionnaire` and `serve`: a ruleset's FHIR Questionnaire, and the CDS Hooks service."""

from __future__ import annotations

import argparse
import json
from typing import Any

from recovery_screening.cli._common import (
    EXIT_OK,
    add_format_option,
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
    add_format_option(questionnaire, json_only=True)
    questionnaire.set_defaults(handler=run_questionnaire)

    serve = subparsers.add_parser(
        "serve", help="run the CDS Hooks service for the screening rulesets (server extra)"
    )
    add_rulesets_dir_option(
        serve,
        help_text="directory of rulesets to serve (<id>/<version>.yaml); default: the shipped ones",
        old_name=True,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=int_in_range(0, 65535),
        default=8080,
        help="port to listen on (default 8080; 0: any free port)",
    )
    serve.add_argument(
        "--trust",
        nargs=2,
        action="append",
        default=[],
        metavar=("ISSUER", "JWKS"),
        help="accept tokens from this EHR issuer (iss), verified with the keys in this JWKS "
        "file or https URL; repeat for each EHR",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="the base URL EHRs call (e.g. https://cds.example.org): each token's aud must be "
        "URL/cds-services/<id>, and its host is accepted in the Host header",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept this name in the Host header (default: the public URL's host, or "
        "loopback names); repeatable",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let browser pages from this origin (https://app.example.org) read answers "
        "(CORS; none by default); repeatable",
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="run without authentication (a closed test network only; warns on every start)",
    )
    serve.set_defaults(handler=run_serve)


def run_questionnaire(arguments: argparse.Namespace) -> int:
    from recovery_screening.interchange.questionnaire import to_fhir_questionnaire

    ruleset = open_ruleset(arguments, arguments.ruleset)
    print(json.dumps(to_fhir_questionnaire(ruleset), ensure_ascii=False, indent=2))
    return EXIT_OK


def run_serve(arguments: argparse.Namespace) -> int:
    from recovery_screening.interchange.auth import Authenticator, TrustedIssuer
    from recovery_screening.interchange.server import serve

    authenticator = None
    if arguments.trust:
        issuers = [TrustedIssuer(issuer, jwks) for issuer, jwks in arguments.trust]
        authenticator = Authenticator(issuers)
    serve(
        arguments.rulesets_dir,
        host=arguments.host,
        port=arguments.port,
        authenticator=authenticator,
        public_url=arguments.public_url,
        insecure_no_auth=arguments.insecure_no_auth,
        allowed_origins=arguments.allow_origin,
        allowed_hosts=arguments.allowed_host,
    )
    return EXIT_OK
