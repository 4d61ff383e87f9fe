"""`RulesetRegistry`: the versions in a rulesets directory, their lock, loading and publishing.

Publication is about ruleset documents, so it lives beside `ruleset.py` (it loads compiled
rulesets, which `document/` may not import); the lock file itself is `document.lock`.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from recovery_screening.document.lock import (
    LockEntry,
    VersionExists,
    check_locked,
    lock_path,
    read_lock,
    write_lock,
)
from recovery_screening.document.reader import read_document
from recovery_screening.document.versions import (
    Version,
    document_paths,
    list_rulesets,
    resolve_path,
    split_reference,
)
from recovery_screening.errors import RulesetAltered, RulesetNotFound
from recovery_screening.ruleset import Ruleset, load_ruleset, shipped_rulesets_directory


class RulesetRegistry:
    """The rulesets in `<directory>/<id>/<version>.yaml|yml|json` and their `rulesets.lock`.

    `load` caches compiled rulesets by (id, version); it is safe to share between threads.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else shipped_rulesets_directory()
        self._cache: dict[tuple[str, str], Ruleset] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<RulesetRegistry {self.directory}>"

    @property
    def lock_file(self) -> Path:
        return lock_path(self.directory)

    def ids(self) -> list[str]:
        """Every ruleset id in the directory, sorted."""
        return list(list_rulesets(self.directory))

    def versions(self, ruleset_id: str) -> list[str]:
        """The versions of `ruleset_id` present, oldest first."""
        return [str(v) for v in sorted(document_paths(self.directory, ruleset_id))]

    def locked(self) -> list[LockEntry]:
        """Every published version pinned in the lock file, sorted by id and version."""
        return [
            LockEntry(ruleset_id, version, digest)
            for (ruleset_id, version), digest in read_lock(self.directory).items()
        ]

    def locked_hash(self, ruleset_id: str, version: str) -> str | None:
        """The pinned content hash of a published version, or None for a draft."""
        return read_lock(self.directory).get((ruleset_id, version))

    def path(self, reference: str) -> Path:
        """The file for `id`, `id@version` or `id@^version` (newest compatible version)."""
        return resolve_path(self.directory, reference)

    def resolve(self, reference: str) -> tuple[str, str]:
        """(id, exact version) for `id`, `id@version` or `id@^version`."""
        path = self.path(reference)
        return split_reference(reference)[0], str(Version.parse(path.stem))

    def load(self, reference: str) -> Ruleset:
        """Load and compile a version (cached); a published version that changed is refused."""
        key = self.resolve(reference)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        ruleset = load_ruleset(f"{key[0]}@{key[1]}", rulesets_dir=self.directory)
        with self._lock:
            self._cache.setdefault(key, ruleset)
            return self._cache[key]

    def verify(self) -> list[RulesetAltered | RulesetNotFound]:
        """Check every locked version against its file: the problems found (empty when whole)."""
        problems: list[RulesetAltered | RulesetNotFound] = []
        for entry in self.locked():
            try:
                path = resolve_path(self.directory, f"{entry.id}@{entry.version}")
                check_locked(
                    path,
                    read_document(path),
                    known=(self.directory,),
                    shipped=shipped_rulesets_directory(),
                )
            except (RulesetAltered, RulesetNotFound) as error:
                problems.append(error)
        return problems

    def publish(self, path: str | Path) -> LockEntry:
        """Pin a ruleset file as a published version, copying it into the directory if needed.

        The file must compile (its instruments resolved from this registry). Refuses a version
        that is already locked, or another file already present for that version.
        """
        source = Path(path)
        ruleset = load_ruleset(source, rulesets_dir=self.directory)
        key = (ruleset.id, ruleset.version)
        entries = read_lock(self.directory)
        if key in entries:
            raise VersionExists(
                f"ruleset {ruleset.id} version {ruleset.version} is already published "
                f"({entries[key]}); a published version cannot be replaced: bump the version"
            )
        present = document_paths(self.directory, ruleset.id).get(Version.parse(ruleset.version))
        inside = source.resolve().parent.parent == self.directory.resolve()
        if inside and (source.parent.name, source.stem) != key:
            raise VersionExists(
                f"{source} is in the rulesets directory but not at "
                f"{ruleset.id}/{ruleset.version}{source.suffix}, where its id and version put it"
            )
        if present is not None and present.resolve() != source.resolve():
            raise VersionExists(
                f"ruleset {ruleset.id} version {ruleset.version} already exists as {present}"
            )
        if present is None:
            target = self.directory / ruleset.id / f"{ruleset.version}{source.suffix.lower()}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        entries[key] = ruleset.content_hash
        write_lock(self.directory, entries)
        return LockEntry(ruleset.id, ruleset.version, entries[key])


__all__ = ["LockEntry", "RulesetRegistry", "VersionExists"]
