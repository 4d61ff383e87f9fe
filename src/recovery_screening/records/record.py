"""Decision records: a self-describing, hash-chained, optionally signed account of one decision.

Two formats. v1 (`recovery-screening/record/v1`, made without a digest key) names the input by
its unkeyed SHA-256 and always carries the whole decision. v2 (`.../record/v2`, made with the
deployment's `digest_key`) names the input and the decision by keyed digests (HMAC-SHA256), so
nobody without the key can test a guess of the answers against them; made without its input, a
v2 record keeps only the outcome, the ruleset and engine, the two digests, the chain, the time
and the subject reference — no score, band, flag, evidence or rule id.

A record's `record_hash` is the SHA-256 of the canonical JSON (RFC 8785) of the record without
`record_hash` and `signature`; its `previous_hash` is the `record_hash` of the record before it,
so altering, removing or reordering a record breaks the chain from that point. `signature` is an
HMAC-SHA256 over the same bytes with a key the host holds.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from recovery_screening.document.canonical import HASH_PREFIX, canonical_hash, canonical_json
from recovery_screening.errors import ScreeningError
from recovery_screening.models import DecisionModel, EngineRef, RulesetRef

if TYPE_CHECKING:
    from recovery_screening.decision import Decision

RECORD_FORMAT = "recovery-screening/record/v1"
RECORD_FORMAT_V2 = "recovery-screening/record/v2"
SIGNATURE_PREFIX = "hmac-sha256:"
DIGEST_PREFIX = "hmac-sha256:"
INPUT_PURPOSE = b"recovery-screening/record/v2/input"
DECISION_PURPOSE = b"recovery-screening/record/v2/decision"
#: Left out of the decision digest and of replay's comparison: the engine that made the decision
#: (a newer engine that decides the same is identical) and whether the ruleset was published.
NOT_COMPARED = ("engine",)
REDACTED = "[redacted]"
MIN_KEY_BYTES = 16
UNHASHED = ("record_hash", "signature")

_HASH_PATTERN = r"^sha256:[0-9a-f]{64}$"
_DIGEST_PATTERN = r"^hmac-sha256:[0-9a-f]{64}$"
_OPTIONAL = ("input", "signature", "input_hash", "input_digest", "outcome", "decision_digest")
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$"
RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{3}|\.\d{6})?)?(Z|[+-]\d{2}:\d{2})$"
)


class RecordError(ScreeningError):
    """A decision record cannot be made: names the argument at fault, never its value."""


class DecisionRecord(BaseModel):
    """One decision, the exact ruleset and engine that made it, its input (or only a digest of
    it), and its place in a hash chain. Its JSON is `to_json()`: canonical, one line.

    v1 carries `input_hash` and `decision`; v2 carries `input_digest`, `outcome` and
    `decision_digest`, and `input` with `decision` only when it keeps its input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_format: Literal["recovery-screening/record/v1", "recovery-screening/record/v2"]
    record_id: str = Field(pattern=RECORD_ID_PATTERN)
    subject_ref: str = Field(pattern=SUBJECT_PATTERN)
    evaluated_at: str = Field(pattern=_TIMESTAMP.pattern)
    ruleset: RulesetRef
    engine: EngineRef
    input_hash: str | None = Field(
        default=None, pattern=_HASH_PATTERN, description="v1: SHA-256 of the canonical input."
    )
    input_digest: str | None = Field(
        default=None,
        pattern=_DIGEST_PATTERN,
        description="v2: HMAC-SHA256 of the canonical input under the deployment's digest key.",
    )
    input: dict[str, Any] | None = Field(
        default=None, description="The canonical applicant; absent when shared without input."
    )
    outcome: Literal["admit", "defer", "refer"] | None = Field(
        default=None, description="v2: the decision's outcome."
    )
    decision_digest: str | None = Field(
        default=None,
        pattern=_DIGEST_PATTERN,
        description="v2: HMAC-SHA256 of the canonical decision (without `engine`) under the key.",
    )
    decision: DecisionModel | None = Field(
        default=None, description="The whole decision: always in v1, in v2 only with the input."
    )
    previous_hash: str | None = Field(pattern=_HASH_PATTERN)
    record_hash: str = Field(pattern=_HASH_PATTERN)
    signature: str | None = Field(default=None, pattern=r"^hmac-sha256:[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _fields_of_the_format(self) -> DecisionRecord:
        if self.record_format == RECORD_FORMAT:
            if self.input_hash is None or self.decision is None:
                raise ValueError("a v1 record has input_hash and decision")
            if (self.input_digest, self.outcome, self.decision_digest) != (None, None, None):
                raise ValueError("input_digest, outcome and decision_digest are v2 fields")
        else:
            if self.input_digest is None or self.outcome is None or self.decision_digest is None:
                raise ValueError("a v2 record has input_digest, outcome and decision_digest")
            if self.input_hash is not None:
                raise ValueError("a v2 record has no unkeyed input_hash")
            if (self.input is None) != (self.decision is None):
                raise ValueError("a v2 record keeps its decision exactly when it keeps its input")
        return self

    @field_validator("evaluated_at")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        if not valid_timestamp(value):
            raise ValueError("must be an ISO 8601 date and time with an offset")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready dicts; optional fields are left out when absent."""
        body = self.model_dump(mode="json")
        for name in (*_OPTIONAL, "decision"):
            if body[name] is None:
                del body[name]
        return body

    def to_json(self) -> str:
        """The record's canonical JSON (RFC 8785): one line, the same bytes everywhere."""
        return canonical_json(self.to_dict()).decode("utf-8")

    @property
    def includes_input(self) -> bool:
        return self.input is not None

    @property
    def keyed(self) -> bool:
        """Whether the record's digests are keyed (format v2): replay needs the digest key."""
        return self.record_format == RECORD_FORMAT_V2

    def verify_hash(self) -> bool:
        """Whether `record_hash` matches the record's content."""
        return record_hash(self.to_dict()) == self.record_hash

    def verify_signature(self, key: bytes) -> bool:
        """Whether `signature` is the HMAC-SHA256 of the record's content under `key`."""
        return signature_valid(self.to_dict(), key)


def valid_timestamp(value: object) -> bool:
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def hashed_bytes(body: dict[str, Any]) -> bytes:
    """The bytes a record's hash and signature cover: its canonical JSON without them."""
    return canonical_json({name: value for name, value in body.items() if name not in UNHASHED})


def record_hash(body: dict[str, Any]) -> str:
    return HASH_PREFIX + hashlib.sha256(hashed_bytes(body)).hexdigest()


def sign(body: dict[str, Any], key: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(key, hashed_bytes(body), hashlib.sha256).hexdigest()


def signature_valid(body: dict[str, Any], key: bytes) -> bool:
    signature = body.get("signature")
    if not isinstance(signature, str):
        return False
    return hmac.compare_digest(signature, sign(body, key))


def redact_evidence(decision: dict[str, Any]) -> dict[str, Any]:
    """A copy of a decision dict with every evidence value (an applicant's answer) redacted."""
    redacted = dict(decision)
    redacted["reasons"] = [
        {**reason, "evidence": dict.fromkeys(reason["evidence"], REDACTED)}
        for reason in decision["reasons"]
    ]
    redacted["domains"] = [
        {
            **domain,
            "contributions": [
                {**item, "evidence": dict.fromkeys(item["evidence"], REDACTED)}
                for item in domain["contributions"]
            ],
        }
        for domain in decision["domains"]
    ]
    return redacted


def check_key(key: bytes, what: str = "a signing key") -> bytes:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise RecordError(f"{what} must be at least {MIN_KEY_BYTES} bytes")
    return key


def comparable_decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A decision dict without what is not compared: the engine, and `ruleset.published` (a draft
    published since, with the same hash, still gives the same decision)."""
    body = {name: value for name, value in decision.items() if name not in NOT_COMPARED}
    ruleset = body.get("ruleset")
    if isinstance(ruleset, Mapping) and "published" in ruleset:
        body["ruleset"] = {name: value for name, value in ruleset.items() if name != "published"}
    return body


def keyed_digest(key: bytes, purpose: bytes, value: Any) -> str:
    """HMAC-SHA256 under `key` of `purpose`, a zero byte and the canonical JSON of `value`."""
    message = purpose + b"\x00" + canonical_json(value)
    return DIGEST_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def input_digest(key: bytes, applicant: Any) -> str:
    return keyed_digest(key, INPUT_PURPOSE, applicant)


def decision_digest(key: bytes, decision: Mapping[str, Any]) -> str:
    return keyed_digest(key, DECISION_PURPOSE, comparable_decision(decision))


def _checked_arguments(
    subject_ref: str,
    evaluated_at: str | datetime.datetime,
    previous: DecisionRecord | str | None,
    record_id: str | None,
    *,
    include_input: bool,
    digest_key: bytes | None,
) -> tuple[str, str | None]:
    """`make_record`'s arguments checked: the timestamp as text and the previous record's hash."""
    if not isinstance(subject_ref, str) or not re.match(SUBJECT_PATTERN, subject_ref):
        raise RecordError(
            "subject_ref must be an opaque reference (1-128 letters, digits and ._:/#-, "
            "no spaces), never a person's name"
        )
    if isinstance(evaluated_at, datetime.datetime):
        if evaluated_at.utcoffset() is None:
            raise RecordError("evaluated_at must carry a time zone offset")
        evaluated_at = evaluated_at.isoformat()
    if not valid_timestamp(evaluated_at):
        raise RecordError(
            "evaluated_at must be an ISO 8601 date and time with an offset "
            "(e.g. 2026-03-01T09:30:00Z)"
        )
    if isinstance(previous, DecisionRecord):
        previous_hash: str | None = previous.record_hash
    elif previous is None or (
        isinstance(previous, str) and re.match(_HASH_PATTERN, previous) is not None
    ):
        previous_hash = previous
    else:
        raise RecordError("previous must be a DecisionRecord, a 'sha256:<hex>' hash or None")
    if record_id is not None and not re.match(RECORD_ID_PATTERN, record_id):
        raise RecordError("record_id must be 1-128 letters, digits and ._:-")
    if digest_key is None and not include_input:
        raise RecordError(
            "a record without its input needs a digest_key (format v2): an unkeyed input hash "
            "can be reversed by trying every possible answer"
        )
    return evaluated_at, previous_hash


def make_record(
    decision: Decision,
    *,
    subject_ref: str,
    evaluated_at: str | datetime.datetime,
    previous: DecisionRecord | str | None = None,
    include_input: bool = True,
    key: bytes | None = None,
    record_id: str | None = None,
    digest_key: bytes | None = None,
) -> DecisionRecord:
    """Record `decision`, chained after `previous` (a record, its `record_hash`, or None).

    With `digest_key` (the deployment's secret, at least 16 bytes, kept apart from the records)
    the record is format v2: the input and the decision are named by keyed digests. Without
    it, format v1 (an unkeyed input hash), which must keep its input: an unkeyed hash of a
    small answer space is reversed by trying every answer, so `include_input=False` needs a
    `digest_key`. `key` signs the record (HMAC-SHA256 over its content).

    Without `record_id`, the id is derived from the record's content: `r-` and the first 32 hex
    digits of the SHA-256 of its canonical JSON without id, hash and signature — the same
    decision, subject, time and predecessor always give the same id; no randomness is used.
    With `include_input=False` (v2 only) the input and the decision are left out: the record
    keeps the outcome, the ruleset and engine, the keyed digests, the chain, the time and the
    subject reference. Replay proves it given the input and the same `digest_key`.
    """
    evaluated_at, previous_hash = _checked_arguments(
        subject_ref,
        evaluated_at,
        previous,
        record_id,
        include_input=include_input,
        digest_key=digest_key,
    )
    applicant = decision.applicant()
    decision_body = decision.to_dict()
    body: dict[str, Any] = {
        "subject_ref": subject_ref,
        "evaluated_at": evaluated_at,
        "ruleset": decision_body["ruleset"],
        "engine": decision_body["engine"],
        "previous_hash": previous_hash,
    }
    if digest_key is None:
        body["record_format"] = RECORD_FORMAT
        body["input_hash"] = canonical_hash(applicant)
        body["decision"] = decision_body
    else:
        check_key(digest_key, "a digest key")
        body["record_format"] = RECORD_FORMAT_V2
        body["input_digest"] = input_digest(digest_key, applicant)
        body["outcome"] = decision_body["outcome"]
        body["decision_digest"] = decision_digest(digest_key, decision_body)
        if include_input:
            body["decision"] = decision_body
    if include_input:
        body["input"] = applicant
    body["record_id"] = record_id or "r-" + hashlib.sha256(canonical_json(body)).hexdigest()[:32]
    body["record_hash"] = record_hash(body)
    if key is not None:
        body["signature"] = sign(body, check_key(key))
    model = decision.model
    fields = {**body, "ruleset": model.ruleset, "engine": model.engine}
    if "decision" in body:
        fields["decision"] = model
    return DecisionRecord.model_construct(**fields)


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a record: schemas/decision-record.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **DecisionRecord.model_json_schema(),
    }


__all__ = [
    "RECORD_FORMAT",
    "RECORD_FORMAT_V2",
    "REDACTED",
    "DecisionRecord",
    "RecordError",
    "decision_digest",
    "input_digest",
    "make_record",
    "record_hash",
    "record_json_schema",
    "redact_evidence",
]
