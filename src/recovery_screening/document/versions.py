"""Find ruleset documents by id and version in a directory (`<dir>/<id>/<version>.yaml`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from recovery_screening.errors import RulesetNotFound

DEFAULT_RULESET = "peer-support-intake"
"""The ruleset `load_ruleset()` and the CLI's `--ruleset` use when none is named (its newest
version)."""
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z.-]+))?$")
_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True, order=True)
class Version:
    """A semantic version; pre-releases sort before their release."""

    major: int
    minor: int
    patch: int
    release: tuple[int, str]

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _SEMVER.match(text)
        if match is None:
            raise ValueError(f"'{text}' is not a semantic version (MAJOR.MINOR.PATCH)")
        major, minor, patch, pre = match.groups()
        release = (0, pre) if pre else (1, "")
        return cls(int(major), int(minor), int(patch), release)

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.release[1]}" if self.release[0] == 0 else core

    def compatible_with(self, base: Version) -> bool:
        """Caret semantics: same major (or same minor under 0.x), and not older than `base`."""
        if self < base or self.release[0] == 0:
            return False
        if base.major == 0:
            return self.major == 0 and self.minor == base.minor
        return self.major == base.major


def split_reference(reference: str) -> tuple[str, str | None]:
    """`id`, `id@1.2.0` or `id@^1.2` → (id, version spec or None)."""
    ruleset_id, _, spec = reference.partition("@")
    return ruleset_id, (spec or None)


def document_paths(directory: Path, ruleset_id: str) -> dict[Version, Path]:
    """Every version of `ruleset_id` present in `directory`."""
    folder = directory / ruleset_id
    found: dict[Version, Path] = {}
    if not folder.is_dir():
        return found
    for path in folder.iterdir():
        if path.suffix.lower() in _SUFFIXES:
            try:
                version = Version.parse(path.stem)
            except ValueError:
                continue
            if version in found:
                raise RulesetNotFound(
                    f"ruleset {ruleset_id} version {version} exists twice in {directory}"
                )
            found[version] = path
    return found


def resolve_path(directory: Path, reference: str) -> Path:
    """The document for `id`, `id@version` or `id@^version` (newest compatible) in `directory`."""
    ruleset_id, spec = split_reference(reference)
    versions = document_paths(directory, ruleset_id)
    if not versions:
        raise RulesetNotFound(f"no ruleset '{ruleset_id}' in {directory}")
    try:
        if spec is None:
            candidates = [v for v in versions if v.release[0] == 1] or list(versions)
        elif spec.startswith("^"):
            base = _parse_partial(spec[1:])
            candidates = [v for v in versions if v.compatible_with(base)]
        else:
            wanted = Version.parse(spec)
            candidates = [wanted] if wanted in versions else []
    except ValueError as error:
        raise RulesetNotFound(f"bad version in '{reference}': {error}") from None
    if not candidates:
        available = ", ".join(str(v) for v in sorted(versions))
        raise RulesetNotFound(
            f"no version of ruleset '{ruleset_id}' matches '{spec}' (available: {available})"
        )
    return versions[max(candidates)]


def _parse_partial(text: str) -> Version:
    parts = text.split(".")
    while len(parts) < 3:
        parts.append("0")
    return Version.parse(".".join(parts))


def list_rulesets(directory: Path) -> dict[str, list[Version]]:
    """Ids in `directory` with their versions, oldest first."""
    listing: dict[str, list[Version]] = {}
    if not directory.is_dir():
        return listing
    for folder in sorted(directory.iterdir()):
        if folder.is_dir():
            versions = sorted(document_paths(directory, folder.name))
            if versions:
                listing[folder.name] = versions
    return listing
