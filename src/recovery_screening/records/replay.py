"""Replay: prove (or disprove) that each recorded decision is what its ruleset version gives.

`replay()` streams: it reads one record (and one input) at a time, keeps compiled rulesets in a
cache keyed by (id, version), and holds at most `INPUT_WINDOW` unmatched inputs, so memory does
not grow with the log. Each record gets a `RecordReport`; the run keeps a `ReplaySummary`.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from recovery_screening.document.canonical import NotCanonical, canonical_hash, canonical_json
from recovery_screening.document.reader import MAX_DOCUMENT_BYTES, parse_document_bytes
from recovery_screening.errors import (
    DocumentError,
    InvalidApplicant,
    Problem,
    RulesetAltered,
    RulesetNotFound,
    ScreeningError,
)
from recovery_screening.publication import RulesetRegistry
from recovery_screening.records.record import (
    NOT_COMPARED,
    RECORD_ID_PATTERN,
    REDACTED,
    SUBJECT_PATTERN,
    DecisionRecord,
    check_key,
    comparable_decision,
    decision_digest,
    input_digest,
    record_hash,
    redact_evidence,
    signature_valid,
)
from recovery_screening.ruleset import Ruleset

IDENTICAL = "identical"
DIFFERENT = "different"
RULESET_MISSING = "ruleset-missing"
RULESET_ALTERED = "ruleset-altered"
INPUT_ALTERED = "input-altered"
INPUT_MISSING = "input-missing"
SIGNATURE_INVALID = "signature-invalid"
CHAIN_BROKEN = "chain-broken"
#: Every status, most severe first: a record's `status` is the most severe of its findings.
STATUSES = (
    SIGNATURE_INVALID,
    CHAIN_BROKEN,
    RULESET_ALTERED,
    INPUT_ALTERED,
    DIFFERENT,
    RULESET_MISSING,
    INPUT_MISSING,
    IDENTICAL,
)
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}
INPUT_WINDOW = 4096
_QUICK = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class RecordFinding:
    """One thing wrong with a record: a status and a sentence that names no applicant value."""

    status: str
    detail: str


@dataclass(frozen=True)
class DecisionDifference:
    """One difference between the recorded and the replayed decision, at a JSON path."""

    path: str
    recorded: Any
    replayed: Any


@dataclass(frozen=True)
class RecordReport:
    """The verdict on one record. `status` is the most severe of `findings` (or identical)."""

    line: int
    record_id: str | None
    subject_ref: str | None
    status: str
    findings: tuple[RecordFinding, ...] = ()
    diff: tuple[DecisionDifference, ...] = ()
    draft: bool = False
    """The record says its ruleset was a draft (`ruleset.published: false`): no lock pinned it."""

    @property
    def identical(self) -> bool:
        return self.status == IDENTICAL

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `draft: true` is present only for a record made with a draft ruleset."""
        body: dict[str, Any] = {
            "line": self.line,
            "record_id": self.record_id,
            "subject_ref": self.subject_ref,
            "status": self.status,
            "findings": [{"status": f.status, "detail": f.detail} for f in self.findings],
            "diff": [
                {"path": c.path, "recorded": c.recorded, "replayed": c.replayed} for c in self.diff
            ],
        }
        if self.draft:
            body["draft"] = True
        return body


@dataclass
class ReplaySummary:
    """Counts by status, whether the chain is whole, and the hash of the last record (the head:
    keep it elsewhere to detect removal of records from the end of the log)."""

    records: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    chain_whole: bool = True
    first_break: int | None = None
    head_hash: str | None = None
    signatures_checked: bool = False
    expected_head: str | None = None
    drafts: int = 0
    """Records made with a draft ruleset (`ruleset.published: false`), whatever their status."""
    malformed_inputs: list[int] = field(default_factory=list)
    """Line (or position) numbers of `inputs` entries that could not be read; they were skipped."""

    @property
    def head_matches(self) -> bool | None:
        """Whether the log ends at the expected head (None when no head was expected)."""
        return None if self.expected_head is None else self.head_hash == self.expected_head

    @property
    def ok(self) -> bool:
        """At least one record, every record identical, the chain whole, every input entry
        readable, and the log ends at the expected head, if one was given. An empty log is not
        verified: there was nothing to verify."""
        return (
            self.records > 0
            and self.chain_whole
            and self.counts[IDENTICAL] == self.records
            and not self.malformed_inputs
            and self.head_matches is not False
        )

    @property
    def end_checked(self) -> bool:
        """Whether removal of records from the end could be detected: only with an expected head
        (`expect_head`); without one, a log cut short still has a whole chain."""
        return self.expected_head is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "counts": dict(self.counts),
            "chain_whole": self.chain_whole,
            "first_break_line": self.first_break,
            "head_hash": self.head_hash,
            "expected_head": self.expected_head,
            "head_matches": self.head_matches,
            "end_checked": self.end_checked,
            "signatures_checked": self.signatures_checked,
            "malformed_inputs": list(self.malformed_inputs),
            "drafts": self.drafts,
            "ok": self.ok,
        }


class _Inputs:
    """Inputs for records kept without them, matched by `record_id`, read in step with the log.

    Entries are expected in the records' order; an entry out of place is found if it is within
    `window` entries, and at most `window` unmatched entries are held.
    """

    def __init__(
        self,
        entries: Iterator[tuple[str, Any]],
        window: int = INPUT_WINDOW,
        malformed: list[int] | None = None,
    ) -> None:
        self._entries = entries
        self._pending: OrderedDict[str, Any] = OrderedDict()
        self._window = window
        self.malformed = malformed if malformed is not None else []

    def take(self, record_id: str) -> Any | None:
        if record_id in self._pending:
            return self._pending.pop(record_id)
        for entry_id, answers in self._entries:
            if entry_id == record_id:
                return answers
            self._pending[entry_id] = answers
            if len(self._pending) > self._window:
                self._pending.popitem(last=False)
                return None
        return None


class _Lookup:
    """A mapping of record_id → input, for callers that already hold the inputs."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self._inputs = inputs
        self.malformed: list[int] = []

    def take(self, record_id: str) -> Any | None:
        return self._inputs.get(record_id)


def read_lines(path: str | Path | BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) for each non-blank line of a JSON Lines file, read lazily."""
    if isinstance(path, (str, Path)):
        try:
            handle: BinaryIO = Path(path).open("rb")  # noqa: SIM115 - closed below; open errors
        except OSError as error:  # must be reported as a DocumentError, not a traceback
            raise DocumentError(
                str(path), [Problem((), "unreadable", error.strerror or "cannot open file")]
            ) from None
        with handle:
            yield from _numbered(handle)
    else:
        yield from _numbered(path)


def _numbered(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(handle, start=1):
        if raw.strip():
            yield number, raw


def iter_input_entries(
    source: str | Path | BinaryIO | Iterable[Mapping[str, Any]],
    *,
    malformed: list[int] | None = None,
) -> Iterator[tuple[str, Any]]:
    """(record_id, input) from `{"record_id": ..., "input": {...}}` lines or mappings.

    An entry that is not readable JSON of that shape raises DocumentError naming its line; when
    a `malformed` list is given, its line number is appended there instead and reading goes on.
    """
    if isinstance(source, (str, Path)) or hasattr(source, "read"):
        name = str(source) if isinstance(source, (str, Path)) else "<inputs>"
        entries: Iterable[tuple[int, Any]] = (
            (number, _input_line(raw, f"{name}, line {number}"))
            for number, raw in read_lines(source)  # type: ignore[arg-type]
        )
    else:
        name = "<inputs>"
        entries = enumerate(source, start=1)
    for number, entry in entries:
        if (
            isinstance(entry, DocumentError)
            or not isinstance(entry, Mapping)
            or not isinstance(entry.get("record_id"), str)
            or not isinstance(entry.get("input"), Mapping)
        ):
            if malformed is not None:
                malformed.append(number)
                continue
            if isinstance(entry, DocumentError):
                raise entry
            raise DocumentError(
                f"{name}, entry {number}",
                [Problem((), "input-entry", 'expected {"record_id": "...", "input": {...}}')],
            )
        yield entry["record_id"], entry["input"]


def _input_line(raw: bytes, source: str) -> Any:
    try:
        return parse_document_bytes(raw, source, yaml_syntax=False)
    except DocumentError as error:
        return error


RecordSource = str | Path | BinaryIO | Iterable[DecisionRecord | Mapping[str, Any] | str | bytes]


def _record_bodies(records: RecordSource) -> Iterator[tuple[int, Any]]:
    """(line or position, parsed record or a DocumentError) for each record."""
    if isinstance(records, (str, Path)) or hasattr(records, "read"):
        name = str(records) if isinstance(records, (str, Path)) else "<records>"
        for number, raw in read_lines(records):  # type: ignore[arg-type]
            yield number, _parse(raw, f"{name}, line {number}")
        return
    for number, item in enumerate(records, start=1):
        if isinstance(item, DecisionRecord):
            yield number, item.to_dict()
        elif isinstance(item, (str, bytes)):
            raw = item.encode("utf-8") if isinstance(item, str) else item
            yield number, _parse(raw, f"record {number}")
        else:
            yield number, item


def _parse(raw: bytes, source: str) -> Any:
    """One record line: strict UTF-8 and JSON, no duplicate keys, no NaN; errors name no value.

    Records are parsed here rather than by `document.reader`, whose nesting pre-scan of the text
    costs more than the parse itself; a record nested too deeply fails as a RecursionError.
    """
    try:
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise DocumentError(source, [Problem((), "too-large", "the line is too long")])
        return json.loads(
            raw.decode("utf-8"), object_pairs_hook=_unique_members, parse_constant=_no_constant
        )
    except DocumentError as error:
        return error
    except UnicodeDecodeError:
        return DocumentError(source, [Problem((), "encoding", "not valid UTF-8")])
    except (ValueError, RecursionError):
        return DocumentError(source, [Problem((), "syntax", "not valid JSON")])


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate key")
    return members


def _no_constant(name: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def replay(
    records: RecordSource,
    registry: RulesetRegistry | str | Path | None = None,
    inputs: str | Path | BinaryIO | Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    *,
    key: bytes | None = None,
    chain_start: str | None = None,
    expect_head: str | None = None,
    digest_key: bytes | None = None,
) -> ReplayRun:
    """Re-evaluate every record against its exact ruleset version and report on each, lazily.

    `records`: a JSON Lines path or binary file, or an iterable of `DecisionRecord`s, dicts or
    lines. `registry`: where the rulesets are (default: the shipped ones). `inputs`, for
    records kept without their input: a JSON Lines path of `{"record_id", "input"}` entries in
    the records' order, an iterable of such entries, or a mapping record_id → input. `key`: the
    HMAC key; with it every record must carry a valid signature. `chain_start`: the
    `previous_hash` the first record must have (default: none, the log starts the chain).
    `expect_head`: the `record_hash` the last record must have, kept apart from the log; without
    it, records removed from the end of a log leave a whole chain. `digest_key`: the deployment's
    secret that v2 records were made with (`to_record(digest_key=...)`); without it a v2 record
    is `input-missing` (it cannot be proved). v1 records need no digest key.
    """
    if digest_key is not None:
        check_key(digest_key, "a digest key")
    if not isinstance(registry, RulesetRegistry):
        registry = RulesetRegistry(registry)
    source: _Inputs | _Lookup | None
    if inputs is None:
        source = None
    elif isinstance(inputs, Mapping):
        source = _Lookup(inputs)
    else:
        malformed: list[int] = []
        source = _Inputs(iter_input_entries(inputs, malformed=malformed), malformed=malformed)
    run = ReplayRun(_record_bodies(records), registry, source, key, chain_start, digest_key)
    run.summary.expected_head = expect_head
    if source is not None:
        run.summary.malformed_inputs = source.malformed
    return run


class ReplayRun(Iterator[RecordReport]):
    """The reports of a replay, produced one at a time; `summary` is complete once exhausted."""

    def __init__(
        self,
        bodies: Iterator[tuple[int, Any]],
        registry: RulesetRegistry,
        inputs: _Inputs | _Lookup | None,
        key: bytes | None,
        chain_start: str | None,
        digest_key: bytes | None = None,
    ) -> None:
        self.summary = ReplaySummary(signatures_checked=key is not None)
        self._digest_key = digest_key
        self._bodies = bodies
        self._registry = registry
        self._inputs = inputs
        self._key = key
        self._previous: str | None = chain_start
        self._previous_line: int | None = None
        self._previous_readable = True
        self._rulesets: dict[tuple[str, str], Ruleset | RecordFinding] = {}

    def __iter__(self) -> ReplayRun:
        return self

    def __next__(self) -> RecordReport:
        number, body = next(self._bodies)
        report = self._check(number, body)
        summary = self.summary
        summary.records += 1
        summary.counts[report.status] += 1
        summary.drafts += report.draft
        if summary.chain_whole and any(f.status == CHAIN_BROKEN for f in report.findings):
            summary.chain_whole = False
            summary.first_break = number
        return report

    def run(self) -> ReplaySummary:
        """Consume every report and return the summary."""
        for _ in self:
            continue
        return self.summary

    # --- one record -----------------------------------------------------------------------

    def _check(self, number: int, body: Any) -> RecordReport:
        findings: list[RecordFinding] = []
        record, unreadable = _validated(body)
        digest = None
        if record is not None:
            try:
                digest = record_hash(body)
            except NotCanonical:
                record, unreadable = (
                    None,
                    (
                        "a number in it cannot be hashed exactly (an integer beyond ±2**53, "
                        "or a number too large to be finite)"
                    ),
                )
        if record is None:
            findings.append(
                RecordFinding(CHAIN_BROKEN, f"not a readable decision record: {unreadable}")
            )
            self._link(number, body, findings, readable=False)
            return _report(number, body, findings)
        self._link(number, body, findings, readable=True, digest=digest)
        if self._key is not None and not signature_valid(body, self._key):
            detail = "the signature does not match" if "signature" in body else "no signature"
            findings.append(RecordFinding(SIGNATURE_INVALID, detail))
        ruleset = self._ruleset(record, findings)
        diff: tuple[DecisionDifference, ...] = ()
        if record.keyed and self._digest_key is None:
            findings.append(
                RecordFinding(
                    INPUT_MISSING,
                    "the record's digests are keyed (format v2): replay needs the deployment's "
                    "digest key to prove it",
                )
            )
            return _report(number, body, findings, draft=record.ruleset.published is False)
        answers = self._input(record, body, findings)
        if ruleset is not None and answers is not None:
            if record.keyed:
                diff = self._compare_keyed(ruleset, answers, record, body, findings)
            else:
                diff = self._compare(ruleset, answers, body, record.includes_input, findings)
        return _report(number, body, findings, diff, draft=record.ruleset.published is False)

    def _link(
        self,
        number: int,
        body: Any,
        findings: list[RecordFinding],
        *,
        readable: bool,
        digest: str | None = None,
    ) -> None:
        stored = body.get("record_hash") if isinstance(body, Mapping) else None
        if readable:
            if digest != stored:
                findings.append(
                    RecordFinding(
                        CHAIN_BROKEN,
                        "record_hash does not match the record's content: "
                        "the record was changed after it was written",
                    )
                )
            claimed = body["previous_hash"]
            if not self._previous_readable:
                findings.append(
                    RecordFinding(
                        CHAIN_BROKEN,
                        f"cannot be linked: the record before it (line {self._previous_line}) "
                        "is unreadable",
                    )
                )
            elif claimed != self._previous:
                where = (
                    f"the record_hash of the record before it (line {self._previous_line})"
                    if self._previous_line is not None
                    else "the start of the chain"
                )
                findings.append(
                    RecordFinding(
                        CHAIN_BROKEN,
                        f"previous_hash does not match {where}: "
                        "a record was removed, inserted or reordered here",
                    )
                )
        self._previous = stored if isinstance(stored, str) else None
        self._previous_readable = readable or isinstance(stored, str)
        self._previous_line = number
        self.summary.head_hash = self._previous

    def _ruleset(self, record: DecisionRecord, findings: list[RecordFinding]) -> Ruleset | None:
        reference = record.ruleset
        key = (reference.id, reference.version)
        found = self._rulesets.get(key)
        if found is None:
            found = self._load(*key)
            self._rulesets[key] = found
        if isinstance(found, RecordFinding):
            findings.append(found)
            return None
        if found.content_hash != reference.content_hash:
            findings.append(
                RecordFinding(
                    RULESET_ALTERED,
                    f"ruleset {reference.id} {reference.version} hashes to "
                    f"{found.content_hash}, the record names {reference.content_hash}",
                )
            )
            return None
        used = {
            (i.alias, i.id, i.version, i.content_hash)
            for i in found.compiled.instruments
            if i.alias
        }
        named = {(i.alias, i.id, i.version, i.content_hash) for i in reference.instruments}
        if used != named:
            changed = sorted(f"{entry[0]} ({entry[1]} {entry[2]})" for entry in named - used)
            findings.append(
                RecordFinding(
                    RULESET_ALTERED,
                    "the instruments differ from those the record names: "
                    + (", ".join(changed) or "an instrument was added"),
                )
            )
            return None
        return found

    def _load(self, ruleset_id: str, version: str) -> Ruleset | RecordFinding:
        try:
            return self._registry.load(f"{ruleset_id}@{version}")
        except RulesetNotFound:
            return RecordFinding(
                RULESET_MISSING,
                f"ruleset {ruleset_id} {version} is not in {self._registry.directory}",
            )
        except RulesetAltered as error:
            return RecordFinding(RULESET_ALTERED, str(error))
        except ScreeningError as error:
            return RecordFinding(
                RULESET_MISSING,
                f"ruleset {ruleset_id} {version} cannot be loaded: {str(error).splitlines()[0]}",
            )

    def _input(
        self, record: DecisionRecord, body: Mapping[str, Any], findings: list[RecordFinding]
    ) -> Any:
        if "input" in body:
            answers = body["input"]
        else:
            answers = self._inputs.take(record.record_id) if self._inputs is not None else None
            if answers is None:
                findings.append(RecordFinding(INPUT_MISSING, self._no_input()))
                return None
        name, expected = (
            ("input_digest", record.input_digest)
            if record.keyed
            else ("input_hash", record.input_hash)
        )
        try:
            if record.keyed:
                assert self._digest_key is not None  # checked by the caller
                digest: str | None = input_digest(self._digest_key, answers)
            else:
                digest = canonical_hash(answers)
        except NotCanonical:
            digest = None
        if digest != expected:
            findings.append(
                RecordFinding(
                    INPUT_ALTERED,
                    f"the input does not match the record's {name} ({expected}): it was "
                    "changed, belongs to another record"
                    + (
                        ", or the digest key is not the one the record was made with"
                        if record.keyed
                        else ""
                    ),
                )
            )
            return None
        return answers

    def _no_input(self) -> str:
        if self._inputs is None:
            return "the record keeps only the input's digest; no input given"
        if self._inputs.malformed:
            return (
                "the record keeps only the input's digest and no input entry was found for it; "
                f"{len(self._inputs.malformed)} input entries were unreadable "
                "(its entry may be one of them)"
            )
        return "the record keeps only the input's digest and no input entry was found for it"

    def _compare(
        self,
        ruleset: Ruleset,
        answers: Any,
        body: Mapping[str, Any],
        includes_input: bool,
        findings: list[RecordFinding],
    ) -> tuple[DecisionDifference, ...]:
        replayed = _evaluated(ruleset, answers, findings)
        if replayed is None:
            return ()
        if not includes_input:
            replayed = redact_evidence(replayed)
        recorded = body["decision"]
        if _same_decision(recorded, replayed):
            return ()
        changes = tuple(
            _diff(
                comparable_decision(recorded),
                comparable_decision(replayed),
                "$",
                redact=not includes_input,
            )
        )
        findings.append(
            RecordFinding(DIFFERENT, f"the replayed decision differs in {len(changes)} place(s)")
        )
        return changes

    def _compare_keyed(
        self,
        ruleset: Ruleset,
        answers: Any,
        record: DecisionRecord,
        body: Mapping[str, Any],
        findings: list[RecordFinding],
    ) -> tuple[DecisionDifference, ...]:
        """v2: the replayed decision must have the recorded outcome and decision digest (and,
        when the record keeps its decision, be that decision)."""
        assert self._digest_key is not None  # checked by the caller
        replayed = _evaluated(ruleset, answers, findings)
        if replayed is None:
            return ()
        changes: list[DecisionDifference] = []
        if record.includes_input:
            if not _same_decision(body["decision"], replayed):
                changes.extend(
                    _diff(
                        comparable_decision(body["decision"]),
                        comparable_decision(replayed),
                        "$",
                        redact=False,
                    )
                )
        elif replayed["outcome"] != record.outcome:
            changes.append(DecisionDifference("$.outcome", record.outcome, replayed["outcome"]))
        if decision_digest(self._digest_key, replayed) != record.decision_digest:
            findings.append(
                RecordFinding(
                    DIFFERENT,
                    "the replayed decision does not match the record's decision_digest"
                    + (f" (it differs in {len(changes)} place(s))" if changes else ""),
                )
            )
        elif changes:
            findings.append(
                RecordFinding(
                    DIFFERENT, f"the replayed decision differs in {len(changes)} place(s)"
                )
            )
        return tuple(changes)


def _evaluated(
    ruleset: Ruleset, answers: Any, findings: list[RecordFinding]
) -> dict[str, Any] | None:
    try:
        return ruleset.evaluate(answers).to_dict()
    except InvalidApplicant as error:
        fields = ", ".join(problem.path for problem in error.problems)
        findings.append(
            RecordFinding(DIFFERENT, f"the input no longer meets the ruleset's contract: {fields}")
        )
        return None


def _same_decision(recorded: Mapping[str, Any], replayed: Mapping[str, Any]) -> bool:
    """Equal canonical JSON, `engine` and `ruleset.published` left out; the C-speed encoder
    settles the usual case."""
    left = comparable_decision(recorded)
    right = comparable_decision(replayed)
    if _QUICK.encode(left) == _QUICK.encode(right):
        return True
    try:
        return canonical_json(left) == canonical_json(right)
    except NotCanonical:
        return False


def _validated(body: Any) -> tuple[DecisionRecord | None, str]:
    if isinstance(body, DocumentError):
        return None, "; ".join(f"{p.message} [{p.code}]" for p in body.problems)
    if not isinstance(body, Mapping):
        return None, "not a JSON object"
    try:
        return DecisionRecord.model_validate(body), ""
    except ValidationError as error:
        places = [
            "$"
            + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            + f" ({e['type']})"
            for e in error.errors(include_input=False, include_url=False)
        ]
        return None, "invalid " + ", ".join(places[:5]) + (" …" if len(places) > 5 else "")


def _report(
    number: int,
    body: Any,
    findings: list[RecordFinding],
    diff: tuple[DecisionDifference, ...] = (),
    *,
    draft: bool = False,
) -> RecordReport:
    record_id = subject_ref = None
    if isinstance(body, Mapping):
        record_id = _printable(body.get("record_id"), RECORD_ID_PATTERN)
        subject_ref = _printable(body.get("subject_ref"), SUBJECT_PATTERN)
    status = min((f.status for f in findings), key=_SEVERITY.__getitem__, default=IDENTICAL)
    return RecordReport(number, record_id, subject_ref, status, tuple(findings), diff, draft)


def _printable(value: object, pattern: str) -> str | None:
    """An id from a record, only if it is well formed (a broken record may hold anything)."""
    return value if isinstance(value, str) and re.match(pattern, value) else None


_ABSENT = "(absent)"


def _diff(recorded: Any, replayed: Any, path: str, *, redact: bool) -> Iterator[DecisionDifference]:
    if isinstance(recorded, Mapping) and isinstance(replayed, Mapping):
        for name in sorted(set(recorded) | set(replayed)):
            if name in NOT_COMPARED and path == "$":
                continue
            child = f"{path}.{name}" if name.isidentifier() else f"{path}[{name!r}]"
            yield from _diff(
                recorded.get(name, _ABSENT), replayed.get(name, _ABSENT), child, redact=redact
            )
        return
    if isinstance(recorded, list) and isinstance(replayed, list):
        for index, (old, new) in enumerate(
            itertools.zip_longest(recorded, replayed, fillvalue=_ABSENT)
        ):
            yield from _diff(old, new, f"{path}[{index}]", redact=redact)
        return
    if type(recorded) is type(replayed) and recorded == replayed:
        return
    if redact and ".evidence" in path:
        recorded, replayed = REDACTED, REDACTED
    yield DecisionDifference(path, recorded, replayed)


__all__ = [
    "STATUSES",
    "DecisionDifference",
    "RecordFinding",
    "RecordReport",
    "ReplayRun",
    "ReplaySummary",
    "iter_input_entries",
    "replay",
]
