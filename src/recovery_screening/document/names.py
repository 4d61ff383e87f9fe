"""Names a host hands us (applicant keys, instrument items, FHIR linkIds) as they may appear in
an error: a name that looks like an identifier is shown, any other is withheld, since a host
that keys answers by a person's name would otherwise see it in every log line."""

from __future__ import annotations

import re

from recovery_screening.errors import HostKey

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


def host_key(name: object, position: int | None = None) -> HostKey:
    """A host's key as a location part: its name when it may be shown, else only its 1-based
    position among its object's keys (rendered `[#3]`), so the withheld name is never held."""
    return HostKey(shown_name(name), position)
