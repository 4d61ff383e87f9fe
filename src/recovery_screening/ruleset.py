"""The public face of a compiled ruleset: load once, evaluate many applicants from many threads."""

from __future__ import annotations

import copy
import dataclasses
import datetime
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recovery_screening.backends import select_backend
from recovery_screening.compiler import CompiledRuleset, compile_document, content_hash
from recovery_screening.decision import Decision
from recovery_screening.document._paths import data_directory
from recovery_screening.document.lock import check_locked
from recovery_screening.document.reader import read_document
from recovery_screening.document.versions import (
    DEFAULT_RULESET,
    Version,
    resolve_path,
    split_reference,
)
from recovery_screening.errors import (
    BackendUnavailable,
    InvalidApplicant,
    Problem,
    RulesetAltered,
    RulesetError,
)
from recovery_screening.evaluate import (
    NATIVE,
    Judge,
    check_applicant,
    decide,
    with_screening_date,
)
from recovery_screening.fields import InputField

if TYPE_CHECKING:
    from recovery_screening.columnar.batch import BatchResult

_SUFFIXES = (".yaml", ".yml", ".json")


class Ruleset:
    """A loaded, compiled, immutable ruleset. `evaluate` is a pure function of the applicant."""

    def __init__(
        self,
        compiled: CompiledRuleset,
        document: Mapping[str, Any],
        source: str | None,
        backend: str = NATIVE,
        judge: Judge | None = None,
        instruments: Mapping[str, tuple[Mapping[str, Any], str]] | None = None,
    ) -> None:
        self._compiled = compiled
        self._document = document
        self._source = source
        self._backend = backend
        self._judge = judge
        self._instruments = dict(instruments or {})

    @property
    def id(self) -> str:
        return self._compiled.id

    @property
    def version(self) -> str:
        return self._compiled.version

    @property
    def title(self) -> str:
        return self._compiled.title

    @property
    def kind(self) -> str:
        """`screening` or `instrument`."""
        return self._compiled.kind

    @property
    def content_hash(self) -> str:
        """`sha256:<hex>` of the document's RFC 8785 canonical JSON."""
        return self._compiled.content_hash

    @property
    def published(self) -> bool:
        """Whether a lock pins this version (and every instrument it uses) at its content hash.

        False for a draft: its decisions and records say `ruleset.published: false`.
        """
        return self._compiled.published

    @property
    def source(self) -> str | None:
        """The file it was loaded from, if any."""
        return self._source

    @property
    def backend(self) -> str:
        return self._backend

    @property
    def compiled(self) -> CompiledRuleset:
        return self._compiled

    @property
    def document(self) -> dict[str, Any]:
        """A copy of the ruleset document as loaded."""
        return copy.deepcopy(dict(self._document))

    @property
    def inputs(self) -> tuple[InputField, ...]:
        """Every declared input, instrument items included (`phq9.q9`)."""
        return self._compiled.inputs.fields

    @property
    def tests(self) -> list[dict[str, Any]]:
        """The test cases embedded in the document."""
        return copy.deepcopy(list(self._document.get("tests", [])))

    def evaluate(self, applicant: Any, *, as_of: datetime.date | None = None) -> Decision:
        """Decide for one applicant (a mapping, pydantic model or dataclass of answers).

        `as_of` is the date of the screening: in a format v2 ruleset it sets the reserved input
        `screening_date` (the applicant may carry it instead, as "YYYY-MM-DD"); a v1 ruleset has
        no screening date and ignores it. Evaluation never reads a clock.
        Raises InvalidApplicant, naming every field that breaks the input contract.
        """
        if as_of is not None:
            applicant = with_screening_date(self._compiled, applicant, as_of)
        return decide(
            self._compiled, check_applicant(self._compiled, applicant), self._backend, self._judge
        )

    def evaluate_batch(self, applicants: Any, *, as_of: datetime.date | None = None) -> BatchResult:
        """Decide a whole table of applicants with the columnar engine (the `columnar` extra).

        `applicants` is an Arrow, Polars or pandas table (a column per input, instrument items
        as struct columns or `alias.item` columns; a null cell is unanswered) or the path of a
        .jsonl or .parquet file, which DuckDB streams. Returns a `BatchResult`: an Arrow table of
        per-row results (`.table`) and each row's `Decision` on request (`.decision(row)`),
        identical to `evaluate()` on that row's applicant. Rows the SQL cannot prove identical
        are decided by this scalar engine (`.notes` says which, and each row's `engine` column
        says who decided it). Raises MissingExtra when duckdb or pyarrow is not installed.
        """
        from recovery_screening.columnar.batch import evaluate_batch  # the outer engine, lazily

        return evaluate_batch(self, applicants, as_of=as_of)

    def applicant_problems(self, applicant: Any) -> list[Problem]:
        """Every way `applicant` breaks the input contract (empty when it is valid)."""
        try:
            check_applicant(self._compiled, applicant)
        except InvalidApplicant as error:
            return list(error.problems)
        return []

    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema (2020-12) of an applicant; `null` or an absent key means unanswered."""
        compiled = self._compiled
        properties: dict[str, Any] = {
            name: field.json_schema() for name, field in compiled.inputs.top.items()
        }
        for instrument in compiled.instruments:
            if not instrument.alias:
                continue
            properties[instrument.alias] = {
                "title": instrument.title,
                "type": ["object", "null"],
                "additionalProperties": False,
                "properties": {field.item: field.json_schema() for field in instrument.fields},
            }
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"Applicant for {compiled.title} ({compiled.id} {compiled.version})",
            "type": "object",
            "additionalProperties": False,
            "properties": properties,
        }

    def __repr__(self) -> str:
        return f"<Ruleset {self.id} {self.version} {self.content_hash[:19]}…>"


def shipped_rulesets_directory() -> Path:
    """The directory of rulesets shipped with the library."""
    return data_directory("rulesets")


def _looks_like_path(reference: str | Path) -> bool:
    if isinstance(reference, Path):
        return True
    return "/" in reference or "\\" in reference or reference.lower().endswith(_SUFFIXES)


class _InstrumentResolver:
    """Finds `id@version` instruments in the given directories, in order.

    Each is checked against every lock those directories hold (the shipped lock among them);
    `drafts` collects the ones no lock pins.
    """

    def __init__(self, directories: list[Path]) -> None:
        self.directories = directories
        self.drafts: list[str] = []
        self.resolved: dict[str, tuple[Mapping[str, Any], str]] = {}

    def __call__(self, reference: str) -> tuple[Mapping[str, Any], str]:
        _, version = split_reference(reference)
        if version is None:
            raise LookupError(f"'{reference}' must name an exact version (id@1.0.0)")
        Version.parse(version)
        for directory in self.directories:
            try:
                path = resolve_path(directory, reference)
            except LookupError:
                continue
            document = read_document(path)
            try:
                digest = content_hash(document)
            except ValueError:
                break
            if _pinned(path, document, digest, self.directories) is None:
                self.drafts.append(reference)
            self.resolved[reference] = (document, digest)
            return document, digest
        searched = ", ".join(str(d) for d in self.directories)
        raise LookupError(f"instrument '{reference}' was not found in {searched}")


def load_document(
    document: Mapping[str, Any],
    *,
    source: str = "<document>",
    rulesets_dir: str | Path | None = None,
    backend: str = NATIVE,
) -> Ruleset:
    """Compile a ruleset document that is already parsed (a dict from YAML or JSON)."""
    directories = [Path(rulesets_dir)] if rulesets_dir is not None else []
    directories.append(shipped_rulesets_directory())
    return _build(
        document, source, directories, backend, pinned=_claim_pinned(document, directories)
    )


def _claim_pinned(document: Any, directories: list[Path]) -> bool:
    """Whether a document given in memory is the very version a known lock pins.

    It is not read from a file, so a document that claims a pinned id and version with other
    content is not refused: it loads as a draft (`published: false`), never as that version.
    """
    shipped = shipped_rulesets_directory()
    try:
        return check_locked(None, document, known=directories, shipped=shipped) is not None
    except RulesetAltered:
        return False


def load_ruleset(
    reference: str | Path = DEFAULT_RULESET,
    *,
    rulesets_dir: str | Path | None = None,
    backend: str = NATIVE,
) -> Ruleset:
    """Load and compile a ruleset by path, or by `id`, `id@1.0.0` or `id@^1.0` (newest match).

    Ids are looked up in `rulesets_dir`, else in the rulesets shipped with the library.
    Instruments a ruleset uses are found beside it, in `rulesets_dir`, or among the shipped ones.
    A ruleset or instrument whose id and version a known lock pins (the lock of the directory it
    is in, of `rulesets_dir`, and always the shipped lock) loads only with the pinned hash, else
    `RulesetAltered`, however the file is reached (symlinks are checked as reached and resolved).
    A version no lock pins is a draft: it loads, `published` is False and every decision and
    record made with it says `ruleset.published: false`.
    """
    shipped = shipped_rulesets_directory()
    if _looks_like_path(reference):
        path = Path(reference)
        directories = [Path(rulesets_dir)] if rulesets_dir is not None else []
        directories += [path.resolve().parent.parent, shipped]
    else:
        directory = Path(rulesets_dir) if rulesets_dir is not None else shipped
        path = resolve_path(directory, str(reference))
        directories = [directory, shipped]
    document = read_document(path)
    directories = _unique(directories)
    pinned = _pinned(path, document, None, directories)
    return _build(document, str(path), directories, backend, pinned=pinned is not None)


def _pinned(path: Path, document: Any, digest: str | None, directories: list[Path]) -> str | None:
    """The hash a lock pins for this file (refusing a changed one), or None for a draft."""
    return check_locked(
        path, document, digest, known=directories, shipped=shipped_rulesets_directory()
    )


def _unique(directories: list[Path]) -> list[Path]:
    seen: list[Path] = []
    for directory in directories:
        if directory not in seen:
            seen.append(directory)
    return seen


def _build(
    document: Any, source: str, directories: list[Path], backend: str, *, pinned: bool
) -> Ruleset:
    prepare = select_backend(backend)
    if not isinstance(document, Mapping):
        raise RulesetError(source, [Problem((), "wrong-type", "a ruleset must be an object")])
    resolver = _InstrumentResolver(directories)
    compiled, document = compile_document(document, source, resolver)
    if not pinned or resolver.drafts:
        compiled = dataclasses.replace(compiled, published=False)
    return Ruleset(compiled, document, source, backend, prepare(compiled), resolver.resolved)


def ruleset_data(ruleset: Ruleset) -> dict[str, Any]:
    """The ruleset as plain data for another process: its document, the documents of the
    instruments it uses (with their hashes), its backend, whether it is published, and its
    content hash. `ruleset_from_data` compiles it again there; the compiled closures are never
    pickled."""
    return {
        "document": ruleset.document,
        "instruments": {
            reference: (copy.deepcopy(dict(document)), digest)
            for reference, (document, digest) in ruleset._instruments.items()
        },
        "source": ruleset.source,
        "backend": ruleset.backend,
        "published": ruleset.published,
        "content_hash": ruleset.content_hash,
    }


def ruleset_from_data(data: Mapping[str, Any]) -> Ruleset:
    """The ruleset `ruleset_data` described, compiled from its documents (its instruments
    are taken from the data, not looked up); raises RulesetAltered if the result does not have
    the content hash the data names."""
    instruments: Mapping[str, tuple[Mapping[str, Any], str]] = data["instruments"]

    def resolve(reference: str) -> tuple[Mapping[str, Any], str]:
        if reference not in instruments:
            raise LookupError(f"instrument '{reference}' was not shipped with the ruleset")
        return instruments[reference]

    source = data["source"] or "<shipped ruleset>"
    compiled, document = compile_document(data["document"], source, resolve)
    if compiled.content_hash != data["content_hash"]:
        raise RulesetAltered(
            compiled.id, compiled.version, data["content_hash"], compiled.content_hash
        )
    compiled = dataclasses.replace(compiled, published=bool(data["published"]))
    prepare = select_backend(data["backend"])
    return Ruleset(
        compiled, document, data["source"], data["backend"], prepare(compiled), instruments
    )


__all__ = [
    "DEFAULT_RULESET",
    "BackendUnavailable",
    "Ruleset",
    "load_document",
    "load_ruleset",
    "ruleset_data",
    "ruleset_from_data",
    "shipped_rulesets_directory",
]
