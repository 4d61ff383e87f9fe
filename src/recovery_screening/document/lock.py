"""The lock file that pins every published ruleset version to its content hash.

`<rulesets dir>/rulesets.lock` is JSON: `{"lock_format": ..., "rulesets": [{"id", "version",
"content_hash"}, ...]}`, sorted by id then version. A version listed there is *published*: loading
it when its content hashes differently is refused (`RulesetAltered`), wherever the file is and
however it is reached (see `check_locked`). A version no known lock pins is a draft: it loads,
and every decision made with it says `ruleset.published: false`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
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
            str(path), [Problem((), "unreadable", "cannot read the lock file")]
        ) from None
    try:
        document = json.loads(text)
        entries = {
            (entry["id"], entry["version"]): entry["content_hash"] for entry in document["rulesets"]
        }
    except (ValueError, KeyError, TypeError):
        raise DocumentError(
            str(path),
            [Problem(("rulesets",), "lock-format", "expected [{id, version, content_hash}, ...]")],
        ) from None
    if not all(
        isinstance(key[0], str) and isinstance(key[1], str) and isinstance(value, str)
        for key, value in entries.items()
    ):
        raise DocumentError(
            str(path), [Problem(("rulesets",), "lock-format", "ids, versions and hashes are text")]
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


def claimed_key(document: Any) -> tuple[str, str] | None:
    """The (id, version) a document says it is, when it says so in text."""
    if isinstance(document, Mapping):
        claimed = (document.get("id"), document.get("version"))
        if isinstance(claimed[0], str) and isinstance(claimed[1], str):
            return claimed[0], claimed[1]
    return None


def shipped_lock(directory: Path) -> dict[tuple[str, str], str]:
    """The lock of the rulesets shipped with the library: it must be there.

    Without it every shipped version would load as a draft, so its absence is an error, not an
    empty lock.
    """
    if not lock_path(directory).is_file():
        raise DocumentError(
            str(lock_path(directory)),
            [Problem((), "lock-missing", "the lock of the shipped rulesets is missing")],
        )
    return read_lock(directory)


def _digest(document: Any, digest: str | None) -> str:
    if digest is not None:
        return digest
    try:
        return canonical_hash(document)
    except NotCanonical:
        return "(not representable as canonical JSON)"


def check_locked(
    path: Path | None,
    document: Any,
    digest: str | None = None,
    *,
    known: Iterable[Path] = (),
    shipped: Path | None = None,
) -> str | None:
    """Refuse a published ruleset whose content changed; return its hash when it is pinned.

    The locks consulted: the lock of the directory the file is in (`<dir>/<id>/<version>.yaml`),
    both as it was reached and with symlinks resolved; the locks of the `known` directories (a
    registry's directory); and the lock of the `shipped` directory, which must exist. The file's
    place is checked against the locks of the directories it sits in; the id and version the
    document claims are checked against every lock, so neither a symlink, nor a copy in a
    directory without a lock, nor a deleted lock lets an edited published version load as that
    version. Returns None for a draft: a version no lock pins. `path` is None for a document
    that is not read from a file (only its claim is checked).
    """
    cache: dict[Path, dict[tuple[str, str], str]] = {}
    home = shipped.resolve() if shipped is not None else None

    def lock_of(directory: Path) -> dict[tuple[str, str], str]:
        where = directory.resolve()
        if where not in cache:
            cache[where] = shipped_lock(directory) if where == home else read_lock(directory)
        return cache[where]

    checks: list[tuple[dict[tuple[str, str], str], tuple[str, str]]] = []
    if path is not None:
        for reached in dict.fromkeys((path.absolute(), path.resolve())):
            checks.append((lock_of(reached.parent.parent), (reached.parent.name, reached.stem)))
    for directory in (*known, *((shipped,) if shipped is not None else ())):
        lock_of(directory)
    claimed = claimed_key(document)
    if claimed is not None:
        checks.extend((entries, claimed) for entries in cache.values())
    found = None
    for entries, key in checks:
        pinned = entries.get(key)
        if pinned is None:
            continue
        digest = _digest(document, digest)
        if digest != pinned:
            raise RulesetAltered(key[0], key[1], pinned, digest)
        found = pinned
    return found


__all__ = [
    "LOCK_FILE",
    "LockEntry",
    "RulesetAltered",
    "VersionExists",
    "check_locked",
    "claimed_key",
    "read_lock",
    "shipped_lock",
    "write_lock",
]
