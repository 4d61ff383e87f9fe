"""Replay: prove (or disprove) that each recorded decision is what its ruleset version gives.

`replay()` streams: it reads one record (and one input) at a time, keeps compiled rulesets in a
cache keyed by (id, version), and holds at most `INPUT_WINDOW` unmatched inputs, so memory does
not grow with the log. Each record gets a `RecordReport`; the run keeps a `ReplaySummary`.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import itertools
import json
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pydantic import ValidationError

from recovery_screening.document.canonical import (
    HASH_PREFIX,
    NotCanonical,
    canonical_hash,
    canonical_json,
)
from recovery_screening.document.reader import MAX_DOCUMENT_BYTES, parse_document_bytes
from recovery_screening.errors import (
    DocumentError,
    InvalidApplicant,
    MissingExtra,
    Problem,
    RulesetAltered,
    RulesetNotFound,
    ScreeningError,
)
from recovery_screening.models import EngineRef
from recovery_screening.publication import RulesetRegistry
from recovery_screening.records.record import (
    DECISION_PURPOSE,
    DIGEST_PREFIX,
    INPUT_PURPOSE,
    NOT_COMPARED,
    RECORD_ID_PATTERN,
    REDACTED,
    SIGNATURE_PREFIX,
    SUBJECT_PATTERN,
    UNHASHED,
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

if TYPE_CHECKING:
    from recovery_screening.columnar.replay_rows import LogRows

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


def _record_items(records: RecordSource) -> Iterator[tuple[int, Any]]:
    """(line or position, the line's bytes, or the record as given) for each record."""
    if isinstance(records, (str, Path)) or hasattr(records, "read"):
        yield from read_lines(records)  # type: ignore[arg-type]
        return
    for number, item in enumerate(records, start=1):
        if isinstance(item, DecisionRecord):
            yield number, item.to_dict()
        elif isinstance(item, str):
            yield number, item.encode("utf-8")
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


ENGINES = ("auto", "columnar", "scalar")
AUTO_MIN_BYTES = 8 * 1024 * 1024
"""`auto` takes the columnar engine for a log file from this size up (about 900 records that
keep their decision): below it, DuckDB's planning of the query costs more than it saves."""


def columnar_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("duckdb", "pyarrow"))


def chosen_engine(engine: str, records: object) -> str:
    """`columnar` or `scalar` for a replay of `records`: `auto` is columnar for a log file of
    AUTO_MIN_BYTES or more when the `columnar` extra is installed. `columnar` needs the extra
    (MissingExtra) and a log file (DocumentError otherwise)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}")
    if engine == "scalar":
        return "scalar"
    path = Path(records) if isinstance(records, (str, Path)) else None
    if engine == "columnar":
        if not columnar_available():
            raise MissingExtra("columnar", "duckdb")
        if path is None or not path.is_file():
            raise DocumentError(
                str(records) if path is not None else "<records>",
                [Problem((), "bad-format", "the columnar engine replays a log file")],
            )
        return "columnar"
    large = path is not None and path.is_file() and path.stat().st_size >= AUTO_MIN_BYTES
    return "columnar" if large and columnar_available() else "scalar"


def replay(
    records: RecordSource,
    registry: RulesetRegistry | str | Path | None = None,
    inputs: str | Path | BinaryIO | Iterable[Mapping[str, Any]] | Mapping[str, Any] | None = None,
    *,
    key: bytes | None = None,
    chain_start: str | None = None,
    expect_head: str | None = None,
    digest_key: bytes | None = None,
    engine: str = "auto",
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

    `engine`: `scalar` checks each record as it is (parse, validate, hash, re-evaluate with
    `Ruleset.evaluate`, compare); `columnar` (a log file, the `columnar` extra) proves the same
    verdicts faster: a line written in canonical form is checked with the C-speed JSON codec,
    and its input is decided by the columnar query streamed over the log (and over an `inputs`
    file); any record it cannot prove identical is checked by the scalar path, so the reports
    are the same. `auto` (the default) is columnar for a log file of 8 MiB or more.
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
    chosen = chosen_engine(engine, records)
    run = ReplayRun(_record_items(records), registry, source, key, chain_start, digest_key)
    if chosen == "columnar":
        input_file = str(inputs) if isinstance(inputs, (str, Path)) else None
        run.use_columnar(str(records), input_file)
    run.summary.expected_head = expect_head
    if source is not None:
        run.summary.malformed_inputs = source.malformed
    return run


class ReplayRun(Iterator[RecordReport]):
    """The reports of a replay, produced one at a time; `summary` is complete once exhausted."""

    def __init__(
        self,
        items: Iterator[tuple[int, Any]],
        registry: RulesetRegistry,
        inputs: _Inputs | _Lookup | None,
        key: bytes | None,
        chain_start: str | None,
        digest_key: bytes | None = None,
    ) -> None:
        self.summary = ReplaySummary(signatures_checked=key is not None)
        self.engine = "scalar"
        self._digest_key = digest_key
        self._items = items
        self._rows_ruleset: Ruleset | None = None
        self._log_rows: LogRows | None = None
        self._input_rows: LogRows | None = None
        self._taken: Any = _UNTAKEN
        self._numbers = _Numbers()
        self._taken_row: Mapping[str, Any] | None = None
        self._registry = registry
        self._inputs = inputs
        self._key = key
        self._previous: str | None = chain_start
        self._previous_line: int | None = None
        self._previous_readable = True
        self._rulesets: dict[tuple[str, str], Ruleset | RecordFinding] = {}

    def __iter__(self) -> ReplayRun:
        return self

    def use_columnar(self, log: str, inputs: str | None) -> None:
        """Prove records on the columnar engine: canonical lines checked with the C-speed JSON
        codec, and the inputs of the log file `log` (and of the `inputs` file) decided by the
        columnar query of the ruleset the log's first record names."""
        from recovery_screening.columnar.replay_rows import LogRows

        self.engine = "columnar"
        first = next((_parse(raw, log) for _, raw in read_lines(log)), None)
        ruleset = self._named_ruleset(first)
        if ruleset is None or not isinstance(first, dict):
            return
        # the inputs are read where the log's first record has its own: in the log, or in
        # the inputs file (a record of the other kind is decided by the scalar engine)
        self._rows_ruleset = ruleset
        if "input" in first:
            self._log_rows = LogRows(ruleset, log)
        elif inputs is not None and Path(inputs).is_file():
            self._input_rows = LogRows(ruleset, inputs, key="record_id")

    def _named_ruleset(self, body: Any) -> Ruleset | None:
        """The ruleset a record names, if it loads."""
        reference = body.get("ruleset") if isinstance(body, dict) else None
        if not isinstance(reference, dict):
            return None
        ruleset_id, version = reference.get("id"), reference.get("version")
        if not isinstance(ruleset_id, str) or not isinstance(version, str):
            return None
        found = self._rulesets.get((ruleset_id, version))
        if found is None:
            found = self._rulesets[(ruleset_id, version)] = self._load(ruleset_id, version)
        return found if isinstance(found, Ruleset) else None

    def close(self) -> None:
        """Stop the columnar engine's readers (a run left before its end)."""
        for rows in (self._log_rows, self._input_rows):
            if rows is not None:
                rows.close()

    def __next__(self) -> RecordReport:
        try:
            number, item = next(self._items)
        except StopIteration:
            self.close()
            raise
        self._taken, self._taken_row = _UNTAKEN, None
        report = None
        if self.engine == "columnar" and isinstance(item, bytes):
            report = self._proven(number, item)
        if report is None:
            body = _parse(item, f"line {number}") if isinstance(item, bytes) else item
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

    # --- one record, proven identical fast -------------------------------------------------

    def _proven(self, number: int, raw: bytes) -> RecordReport | None:
        """The report of a record proven identical without the scalar path's slow steps, or
        None: then the scalar path checks the record and reports whatever it finds.

        The line must be the record's canonical JSON (the standard codec's output, with no
        number or key the RFC 8785 writer would write otherwise): then the standard codec's
        bytes are the canonical bytes, the record's hash is over the line without its
        `record_hash` and `signature` members, and the recorded decision is identical exactly
        when the line begins with the replayed decision's bytes (its `engine` block aside)."""
        parsed = _plain_record(raw, self._numbers)
        if parsed is None:
            return None
        line, body = parsed
        log_row = self._log_rows.take(body.get("record_hash")) if self._log_rows else None
        try:
            record = _Envelope.model_validate(body)
        except ValueError:  # a ValidationError
            return None
        hashed = _unhashed(line, body)
        if hashed is None:
            return None
        digest = HASH_PREFIX + hashlib.sha256(hashed).hexdigest()
        if (
            digest != body["record_hash"]
            or not self._previous_readable
            or body["previous_hash"] != self._previous
            or (self._key is not None and not _signed(body, hashed, self._key))
            or (record.keyed and self._digest_key is None)
        ):
            return None
        scratch: list[RecordFinding] = []
        ruleset = self._ruleset(record, scratch)
        if ruleset is None or scratch:
            return None
        answers, row = (
            (body["input"], log_row)
            if "input" in body
            else (self._take_input(record.record_id), self._taken_row)
        )
        if answers is None or not self._input_proven(record, answers, "input" in body):
            return None
        replayed = self._replayed(ruleset, answers, row)
        if replayed is None:
            return None
        proven, decision_text = self._decision_proven(record, line, body, replayed)
        if not proven or not _canonical_line(line, body, decision_text):
            return None
        self._link(number, body, scratch, readable=True, digest=digest)
        return RecordReport(
            number,
            record.record_id,
            record.subject_ref,
            IDENTICAL,
            draft=record.ruleset.published is False,
        )

    def _input_proven(self, record: DecisionRecord, answers: Any, in_line: bool) -> bool:
        # the input of a line proven canonical is written as it is; an entry of `inputs` is
        # checked for what RFC 8785 writes otherwise
        canonical = _plain_bytes(answers) if in_line else _canonical_bytes(answers)
        if canonical is None:
            return False
        if record.keyed:
            assert self._digest_key is not None  # checked by the caller
            message = INPUT_PURPOSE + b"\x00" + canonical
            digest = hmac.new(self._digest_key, message, hashlib.sha256).hexdigest()
            return DIGEST_PREFIX + digest == record.input_digest
        return HASH_PREFIX + hashlib.sha256(canonical).hexdigest() == record.input_hash

    def _replayed(
        self, ruleset: Ruleset, answers: Any, row: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The replayed decision: built from the columnar row where it holds the whole trace,
        else decided by the scalar engine (None for an invalid input: the scalar path says)."""
        decision = None
        rows = self._log_rows or self._input_rows
        if row is not None and ruleset is self._rows_ruleset and rows is not None:
            decision = rows.built(answers, row)
        if decision is None:
            try:
                decision = ruleset.evaluate(answers)
            except InvalidApplicant:
                return None
        return decision.to_dict()

    def _decision_proven(
        self, record: DecisionRecord, line: str, body: dict[str, Any], replayed: dict[str, Any]
    ) -> tuple[bool, str | None]:
        """(whether the replayed decision is the recorded one, the text of the recorded
        decision in the line where it was compared)."""
        if not record.keyed:
            if not record.includes_input:
                replayed = redact_evidence(replayed)
            text = _recorded_decision(line, body, replayed)
            return text is not None, text
        assert self._digest_key is not None  # checked by the caller
        text = None
        if record.includes_input:
            text = _recorded_decision(line, body, replayed)
            if text is None:
                return False, None
        elif replayed["outcome"] != record.outcome:
            return False, None
        canonical = _canonical_bytes(comparable_decision(replayed))
        if canonical is None:
            return False, None
        message = DECISION_PURPOSE + b"\x00" + canonical
        digest = hmac.new(self._digest_key, message, hashlib.sha256).hexdigest()
        return DIGEST_PREFIX + digest == record.decision_digest, text

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
            answers = self._take_input(record.record_id)
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

    def _take_input(self, record_id: str) -> Any:
        """The record's entry of `inputs` (taken once per record: the fast path may have)."""
        if self._taken is not _UNTAKEN:
            return self._taken
        answers = self._inputs.take(record_id) if self._inputs is not None else None
        self._taken = answers
        if answers is not None and self._input_rows is not None:
            self._taken_row = self._input_rows.take(record_id)
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


_UNTAKEN = object()
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), check_circular=False
)
_UNUSUAL_NUMBER = re.compile(
    r"(?:^|[:,\[])-?(?:[0-9]+\.0|[0-9.]+[eE][-+]?[0-9]+|[0-9]{16,}(?:\.[0-9]+)?)(?:$|[,\]}])"
)
"""A number the standard codec may write otherwise than RFC 8785: an integral float (`4.0`), an
exponent, or 16 digits or more (beyond 2**53). In compact JSON a number stands between `:`, `,`
or `[` and `,`, `]` or `}`; text inside a string that looks so only sends the value to the exact
writer."""
_KEY = re.compile(r'[{,]"((?:[^"\\]|\\.)*)":')


_DIGITS = str.maketrans("123456789", "000000000")
_SIXTEEN_DIGITS = "0" * 16


class _Numbers:
    """A JSON decoder that notes any float the standard codec may write otherwise than
    RFC 8785 (an integral float, an exponent, 16 digits or more): it sees each float's text."""

    __slots__ = ("decoder", "unusual")

    def __init__(self) -> None:
        self.unusual = False
        self.decoder = json.JSONDecoder(parse_float=self._float)

    def _float(self, text: str) -> float:
        if "e" in text or "E" in text or text.endswith(".0") or text.find(".") >= 16:
            self.unusual = True
        return float(text)


_LONG_INTEGER = re.compile(r"[:,\[]-?[0-9]{16}")


def _plain_record(raw: bytes, numbers: _Numbers) -> tuple[str, dict[str, Any]] | None:
    """(line, record) of a line holding a JSON object with no number or key that RFC 8785
    writes otherwise, else None. Whether the line is the standard codec's text of that object
    is checked once the decision is known (`_canonical_line`)."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        return None
    numbers.unusual = False
    try:
        text = raw.decode("utf-8")
        body = numbers.decoder.decode(text)
    except (ValueError, RecursionError):
        return None
    line = text.rstrip("\r\n")
    if type(body) is not dict or numbers.unusual or _long_integer(line) or not _ascii_keys(line):
        return None
    return line, body


def _long_integer(text: str) -> bool:
    """Whether compact JSON `text` may hold an integer of 16 digits or more (beyond 2**53 for
    the writer): a run of 16 digits, then where a number can start (a string may look so)."""
    return _SIXTEEN_DIGITS in text.translate(_DIGITS) and _LONG_INTEGER.search(text) is not None


def _plain_bytes(value: Any) -> bytes:
    """The standard codec's bytes of a part of a line proven canonical."""
    return _ENCODER.encode(value).encode("utf-8")


def _ascii_keys(text: str) -> bool:
    """Whether every key of compact JSON `text` is ASCII (Python sorts keys by code point,
    RFC 8785 by UTF-16 unit: the same for ASCII)."""
    return text.isascii() or all(key.isascii() for key in _KEY.findall(text))


def _plain_canonical(text: str) -> bool:
    """Whether `text`, the standard codec's output for a parsed JSON value, is also its RFC 8785
    form: no unusual number and only ASCII keys — exactly when `canonical_json`'s fast path
    writes it. Cheap tests of the text rule most values out before the regular expression."""
    digits = text.translate(_DIGITS)
    suspect = (
        ".0," in text
        or ".0]" in text
        or ".0}" in text
        or "0e-" in digits
        or "0e+" in digits
        or _SIXTEEN_DIGITS in digits
    )
    if suspect and _UNUSUAL_NUMBER.search(text):
        return False
    return _ascii_keys(text)


def _canonical_bytes(value: Any) -> bytes | None:
    """`canonical_json(value)`, by the standard codec where that is proven the same; None where
    the value has no canonical form."""
    try:
        text = _ENCODER.encode(value)
        if _plain_canonical(text):
            return text.encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError):
        pass
    try:
        return canonical_json(value)
    except NotCanonical:
        return None


def _unhashed(line: str, body: dict[str, Any]) -> bytes | None:
    """The canonical bytes a record's hash covers, cut from its canonical line: the line without
    its `record_hash` and `signature` members. Both are the last of their name in the line (what
    follows them is the record's id, ruleset reference and subject: no such key in them)."""
    cut = line
    for name in UNHASHED:
        if name not in body:
            continue
        member = f',"{name}":"{body[name]}"'
        at = cut.rfind(member)
        if at < 0:
            return None
        cut = cut[:at] + cut[at + len(member) :]
    return cut.encode("utf-8")


def _signed(body: dict[str, Any], hashed: bytes, key: bytes) -> bool:
    signature = body.get("signature")
    expected = SIGNATURE_PREFIX + hmac.new(key, hashed, hashlib.sha256).hexdigest()
    return isinstance(signature, str) and hmac.compare_digest(signature, expected)


def _recorded_decision(line: str, body: dict[str, Any], replayed: dict[str, Any]) -> str | None:
    """The text of the recorded decision if the canonical record `line` holds the replayed
    decision with the recorded `engine` block, else None. Its first member (`decision` sorts
    first) is then exactly that decision: a valid decision, identical (the engine is not
    compared)."""
    recorded = body.get("decision")
    if type(recorded) is not dict:
        return None
    engine = recorded.get("engine")
    try:
        block = _ENCODER.encode(engine)
        if block not in _VALID_ENGINES:
            EngineRef.model_validate(engine)
            _VALID_ENGINES.add(block)
        expected = _ENCODER.encode({**replayed, "engine": engine})
    except (ValueError, TypeError):
        return None
    return expected if line.startswith('{"decision":' + expected + ",") else None


_VALID_ENGINES: set[str] = set()
"""The engine blocks found valid (`EngineRef`), as JSON text: a log names few engines."""


def _canonical_line(line: str, body: dict[str, Any], decision: str | None) -> bool:
    """Whether the line is the standard codec's text of the record. `decision`, the text the
    line's decision was found to be, is not encoded again: only the rest of the record is."""
    if decision is None:
        return _ENCODER.encode(body) == line
    rest = _ENCODER.encode({name: value for name, value in body.items() if name != "decision"})
    return line == '{"decision":' + decision + "," + rest[1:]


class _Envelope(DecisionRecord):
    """A record validated as `DecisionRecord` validates it, its decision only as an object: the
    fast path proves the decision by its equality with the replayed one."""

    decision: dict[str, Any] | None = None  # type: ignore[assignment]


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
