"""Where the shipped rulesets and schemas are: in the wheel, or at the root of a checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def data_directory(name: str) -> Path:
    """The shipped `rulesets` or `schemas` directory."""
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"the shipped '{name}' directory is missing from this installation")
