"""Decision records: a self-describing, hash-chained, optionally signed account of one decision.

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
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from recovery_screening.document.canonical import HASH_PREFIX, canonical_hash, canonical_json
from recovery_screening.errors import ScreeningError
from recovery_screening.models import DecisionModel, EngineRef, RulesetRef

if TYPE_CHECKING:
    from recovery_screening.decision import Decision

RECORD_FORMAT = "recovery-screening/record/v1"
SIGNATURE_PREFIX = "hmac-sha256:"
REDACTED = "[redacted]"
MIN_KEY_BYTES = 16
UNHASHED = ("record_hash", "signature")

_HASH_PATTERN = r"^sha256:[0-9a-f]{64}$"
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}$"
RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{3}|\.\d{6})?)?(Z|[+-]\d{2}:\d{2})$"
)


class RecordError(ScreeningError):
    """A decision record cannot be made: names the argument at fault, never its value."""


class DecisionRecord(BaseModel):
    """One decision, the exact ruleset and engine that made it, its input (or only its hash),
    and its place in a hash chain. Its JSON is `to_json()`: canonical, one line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_format: Literal["recovery-screening/record/v1"]
    record_id: str = Field(pattern=RECORD_ID_PATTERN)
    subject_ref: str = Field(pattern=SUBJECT_PATTERN)
    evaluated_at: str = Field(pattern=_TIMESTAMP.pattern)
    ruleset: RulesetRef
    engine: EngineRef
    input_hash: str = Field(pattern=_HASH_PATTERN)
    input: dict[str, Any] | None = Field(
        default=None, description="The canonical applicant; absent when shared without input."
    )
    decision: DecisionModel
    previous_hash: str | None = Field(pattern=_HASH_PATTERN)
    record_hash: str = Field(pattern=_HASH_PATTERN)
    signature: str | None = Field(default=None, pattern=r"^hmac-sha256:[0-9a-f]{64}$")

    @field_validator("evaluated_at")
    @classmethod
    def _timestamp(cls, value: str) -> str:
        if not valid_timestamp(value):
            raise ValueError("must be an ISO 8601 date and time with an offset")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready dicts; `input` and `signature` are left out when absent."""
        body = self.model_dump(mode="json")
        for name in ("input", "signature"):
            if body[name] is None:
                del body[name]
        return body

    def to_json(self) -> str:
        """The record's canonical JSON (RFC 8785): one line, the same bytes everywhere."""
        return canonical_json(self.to_dict()).decode("utf-8")

    @property
    def includes_input(self) -> bool:
        return self.input is not None

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


def _redacted(model: DecisionModel) -> DecisionModel:
    """`model` with every evidence value replaced as `redact_evidence` replaces it in dicts."""
    return model.model_copy(
        update={
            "reasons": [
                reason.model_copy(update={"evidence": dict.fromkeys(reason.evidence, REDACTED)})
                for reason in model.reasons
            ],
            "domains": [
                domain.model_copy(
                    update={
                        "contributions": [
                            item.model_copy(
                                update={"evidence": dict.fromkeys(item.evidence, REDACTED)}
                            )
                            for item in domain.contributions
                        ]
                    }
                )
                for domain in model.domains
            ],
        }
    )


def check_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise RecordError(f"a signing key must be at least {MIN_KEY_BYTES} bytes")
    return key


def make_record(
    decision: Decision,
    *,
    subject_ref: str,
    evaluated_at: str | datetime.datetime,
    previous: DecisionRecord | str | None = None,
    include_input: bool = True,
    key: bytes | None = None,
    record_id: str | None = None,
) -> DecisionRecord:
    """Record `decision`, chained after `previous` (a record, its `record_hash`, or None).

    Without `record_id`, the id is derived from the record's content: `r-` and the first 32 hex
    digits of the SHA-256 of its canonical JSON without id, hash and signature — the same
    decision, subject, time and predecessor always give the same id; no randomness is used.
    With `include_input=False` the input is left out and every evidence value in the decision is
    replaced by "[redacted]", so the record carries no answer at all (only the input's hash).
    """
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
    applicant = decision.applicant()
    decision_body = decision.to_dict()
    body: dict[str, Any] = {
        "record_format": RECORD_FORMAT,
        "subject_ref": subject_ref,
        "evaluated_at": evaluated_at,
        "ruleset": decision_body["ruleset"],
        "engine": decision_body["engine"],
        "input_hash": canonical_hash(applicant),
        "decision": decision_body if include_input else redact_evidence(decision_body),
        "previous_hash": previous_hash,
    }
    if include_input:
        body["input"] = applicant
    body["record_id"] = record_id or "r-" + hashlib.sha256(canonical_json(body)).hexdigest()[:32]
    body["record_hash"] = record_hash(body)
    if key is not None:
        body["signature"] = sign(body, check_key(key))
    model = decision.model
    return DecisionRecord.model_construct(
        **{
            **body,
            "ruleset": model.ruleset,
            "engine": model.engine,
            "decision": model if include_input else _redacted(model),
        }
    )


def record_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a record: schemas/decision-record.schema.json."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **DecisionRecord.model_json_schema(),
    }


__all__ = [
    "RECORD_FORMAT",
    "REDACTED",
    "DecisionRecord",
    "RecordError",
    "make_record",
    "record_hash",
    "record_json_schema",
    "redact_evidence",
]
