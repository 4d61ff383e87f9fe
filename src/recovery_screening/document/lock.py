"""The lock file that pins every published ruleset version to its content hash.

`<rulesets dir>/rulesets.lock` is JSON: `{"lock_format": ..., "rulesets": [{"id", "version",
"content_hash"}, ...]}`, sorted by id then version. A version listed there is *published*: loading
it when its content hashes differently is refused (`RulesetAltered`). A version absent from the
lock is a draft and loads normally.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_screening.document.canonical import NotCanonical, canonical_hash
from recovery_screening.document.versions import Version
from recovery_screening.errors import DocumentError, Problem, RulesetAltered, ScreeningError

LOCK_FILE = "rulesets.lock"
LOCK_FORMAT = "recovery-screening/lock/v1"


@dataclass(frozen=True)
class LockEntry:
    id: str
    version: str
    content_hash: str


class VersionExists(ScreeningError):
    """Publishing would overwrite a version that is already published or already on disk."""


def lock_path(directory: str | Path) -> Path:
    return Path(directory) / LOCK_FILE


def read_lock(directory: str | Path) -> dict[tuple[str, str], str]:
    """(id, version) → content hash for every published version; empty when there is no lock."""
    path = lock_path(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError):
        raise DocumentError(
            str(path), [Problem("$", "unreadable", "cannot read the lock file")]
        ) from None
    try:
        document = json.loads(text)
        entries = {
            (entry["id"], entry["version"]): entry["content_hash"] for entry in document["rulesets"]
        }
    except (ValueError, KeyError, TypeError):
        raise DocumentError(
            str(path),
            [Problem("$.rulesets", "lock-format", "expected [{id, version, content_hash}, ...]")],
        ) from None
    if not all(
        isinstance(key[0], str) and isinstance(key[1], str) and isinstance(value, str)
        for key, value in entries.items()
    ):
        raise DocumentError(
            str(path), [Problem("$.rulesets", "lock-format", "ids, versions and hashes are text")]
        )
    return entries


def write_lock(directory: str | Path, entries: Mapping[tuple[str, str], str]) -> None:
    """Write the lock, sorted by id and version, atomically (write a temporary file, rename)."""
    ordered = sorted(entries.items(), key=lambda item: (item[0][0], _version_key(item[0][1])))
    document = {
        "lock_format": LOCK_FORMAT,
        "rulesets": [
            {"id": ruleset_id, "version": version, "content_hash": digest}
            for (ruleset_id, version), digest in ordered
        ],
    }
    path = lock_path(directory)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def _version_key(text: str) -> tuple[int, Any]:
    try:
        return (0, Version.parse(text))
    except ValueError:
        return (1, text)


def lock_keys(path: Path, document: Any) -> list[tuple[str, str]]:
    """The lock entries a file answers to: its place (`<id>/<version>.yaml`) and what it says."""
    keys = [(path.parent.name, path.stem)]
    if isinstance(document, Mapping):
        claimed = (document.get("id"), document.get("version"))
        if isinstance(claimed[0], str) and isinstance(claimed[1], str) and claimed not in keys:
            keys.append((claimed[0], claimed[1]))
    return keys


def check_locked(path: Path, document: Any, digest: str | None = None) -> str | None:
    """Refuse a published ruleset file whose content changed; return its hash when it is locked.

    The lock consulted is `<path>/../../rulesets.lock`; without one every file is a draft.
    """
    directory = path.parent.parent
    if not lock_path(directory).is_file():
        return None
    entries = read_lock(directory)
    found = None
    for key in lock_keys(path, document):
        locked = entries.get(key)
        if locked is None:
            continue
        if digest is None:
            try:
                digest = canonical_hash(document)
            except NotCanonical:
                digest = "(not representable as canonical JSON)"
        if digest != locked:
            raise RulesetAltered(key[0], key[1], locked, digest)
        found = locked
    return found


__all__ = [
    "LOCK_FILE",
    "LockEntry",
    "RulesetAltered",
    "VersionExists",
    "check_locked",
    "lock_keys",
    "read_lock",
    "write_lock",
]
