"""The `recovery-screening` command: parsing and printing only; every verb calls the library.

Each module in COMMANDS adds its verbs with `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from recovery_screening._version import __version__
from recovery_screening.cli import _audit, _designer, _interchange, _screening
from recovery_screening.cli._common import run_guarded

COMMANDS = [_screening, _designer, _audit, _interchange]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recovery-screening",
        description="Screen applicants to peer recovery groups with explainable rulesets.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit 0 on success, 1 when a check finds failures, 2 on bad input."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    return run_guarded(arguments.handler, arguments)


if __name__ == "__main__":
    sys.exit(main())
