"""Names a host hands us (applicant keys, instrument items, FHIR linkIds) as they may appear in
an error: a name that looks like an identifier is shown, any other is withheld, since a host
that keys answers by a person's name would otherwise see it in every log line."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_SHOWN_LENGTH = 64
WITHHELD = "a field whose name is withheld"
_SHOWN = re.compile(rf"[A-Za-z][A-Za-z0-9_.\-]{{0,{MAX_SHOWN_LENGTH - 1}}}")


def shown_name(name: object) -> str | None:
    """`name` if it may be echoed in an error — a string that starts with a letter and has only
    letters, digits, `_ . -`, at most 64 characters — else None (withhold it)."""
    if type(name) is str and _SHOWN.fullmatch(name):
        return name
    return None


def quoted_name(name: object, withheld: str = WITHHELD) -> str:
    """`'name'` for a message, or the `withheld` wording."""
    shown = shown_name(name)
    return withheld if shown is None else f"'{shown}'"


def key_step(name: object, position: int) -> str:
    """One step of a JSON path for a key: `.name`, `['name.with-dots']`, or `[#3]` (the third
    key of its object, 1-based) when the name is withheld."""
    shown = shown_name(name)
    if shown is None:
        return f"[#{position}]"
    return f".{shown}" if shown.isidentifier() else f"['{shown}']"


def key_path(steps: Iterable[tuple[object, int]], root: str = "$") -> str:
    """A path through keys given as (name, 1-based position) pairs."""
    return root + "".join(key_step(name, position) for name, position in steps)
