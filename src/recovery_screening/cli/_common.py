"""What every verb shares: reading user files, printing errors without values or tracebacks."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from recovery_screening.document.versions import DEFAULT_RULESET
from recovery_screening.errors import Problem, ScreeningError

if TYPE_CHECKING:  # the engine is imported by the verbs that run it, not by --help
    from recovery_screening.ruleset import Ruleset

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
Handler = Callable[[argparse.Namespace], int]
MAX_WORKERS = 64


def int_in_range(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse `type` for a whole number in [minimum, maximum]: argparse exits 2 naming the
    option and the range when the text is not one, so no verb ever sees an unusable number."""
    allowed = f"from {minimum} to {maximum}" if maximum is not None else f"{minimum} or more"

    def whole_number(text: str) -> int:
        try:
            number = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number {allowed}") from None
        if number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"must be a whole number {allowed}")
        return number

    whole_number.__name__ = "whole number"
    return whole_number


def run_guarded(handler: Handler, arguments: argparse.Namespace) -> int:
    """Run a verb; a user's mistake becomes a message on stderr and exit 2, never a traceback."""
    try:
        return handler(arguments)
    except ScreeningError as error:
        report_error(error, getattr(arguments, "format", "text"))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


def report_error(error: ScreeningError, output_format: str) -> None:
    if output_format == "json":
        problems: list[Problem] = list(getattr(error, "problems", ()))
        body = {
            "error": type(error).__name__,
            "message": str(error).splitlines()[0],
            "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in problems],
        }
        print(json.dumps(body, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"error: {error}", file=sys.stderr)


def read_input_document(name: str) -> Any:
    """Read a JSON or YAML document from a path, or from stdin when `name` is '-' (JSON when
    it starts with `{` or `[`, else YAML, as a file's extension would say)."""
    from recovery_screening.document.reader import (
        MAX_DOCUMENT_BYTES,
        parse_document_bytes,
        read_document,
    )

    if name == "-":
        data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
        json_syntax = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")
        return parse_document_bytes(data, "<stdin>", yaml_syntax=not json_syntax)
    return read_document(name)


def add_ruleset_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ruleset",
        default=DEFAULT_RULESET,
        metavar="ID[@VERSION]|PATH",
        help=f"ruleset id, id@version, id@^version or file (default: newest {DEFAULT_RULESET})",
    )
    add_rulesets_dir_option(parser)


RULESETS_DIR_HELP = "directory of rulesets (<id>/<version>.yaml); default: the shipped rulesets"


class _DeprecatedAlias(argparse.Action):
    """An old spelling of an option: it still works, and says on stderr which name to use."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self.replacement = kwargs.pop("replacement")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"warning: {option_string} is deprecated; use {self.replacement}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_rulesets_dir_option(
    parser: argparse.ArgumentParser, help_text: str = RULESETS_DIR_HELP, old_name: bool = False
) -> None:
    """`--rulesets-dir DIR`; with `old_name`, also the deprecated `--rulesets DIR` (0.x verbs)."""
    parser.add_argument("--rulesets-dir", metavar="DIR", help=help_text)
    if old_name:
        parser.add_argument(
            "--rulesets",
            dest="rulesets_dir",
            metavar="DIR",
            action=_DeprecatedAlias,
            replacement="--rulesets-dir",
            help="deprecated spelling of --rulesets-dir",
        )


def add_format_option(parser: argparse.ArgumentParser, json_only: bool = False) -> None:
    """`--format text|json`; `json_only` for a verb whose output is a JSON document itself
    (`schema`, `questionnaire`): it takes `--format json`, the default, like every verb."""
    if json_only:
        parser.add_argument(
            "--format",
            choices=("json",),
            default="json",
            help="json (the only format: the output is a JSON document)",
        )
        return
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text for a person (default) or json for a program",
    )


def open_ruleset(arguments: argparse.Namespace, reference: str | None = None) -> Ruleset:
    from recovery_screening.ruleset import load_ruleset

    return load_ruleset(
        reference or arguments.ruleset,
        rulesets_dir=getattr(arguments, "rulesets_dir", None),
        backend=getattr(arguments, "backend", "native"),
    )
