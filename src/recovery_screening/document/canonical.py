"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme) and the SHA-256 hashes taken over it.

`canonical_json` gives exactly the bytes of `rfc8785.dumps`; values made only of ASCII keys,
strings, booleans, null, integers within ±2**53 and floats that Python and ECMAScript print alike
take a fast path through the standard `json` encoder, everything else goes to `rfc8785`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from recovery_screening.errors import ScreeningError

HASH_PREFIX = "sha256:"
_MAX_SAFE_INTEGER = 2**53 - 1
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), check_circular=False
)


class NotCanonical(ScreeningError):
    """A value cannot be written as canonical JSON (a non-finite or too large number, a lone
    surrogate, a key that is not a string). The message names the problem, not the value."""


class _Unusual(Exception):
    """The fast path cannot vouch for this value: use the reference implementation."""


def _prepared(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            return value
        raise _Unusual
    if kind is dict:
        prepared = {}
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                raise _Unusual
            prepared[key] = _prepared(item)
        return prepared
    if kind is list or kind is tuple:
        return [_prepared(item) for item in value]
    if kind is float:
        if value.is_integer():
            if abs(value) <= _MAX_SAFE_INTEGER:
                return int(value)
            # ECMAScript writes 2.0**53 as 9007199254740992, Python's repr with a ".0"
            raise _Unusual
        if 1e-4 <= abs(value) < 1e16:
            return value
    raise _Unusual


def integral_as_int(value: Any) -> Any:
    """`value` with every float that RFC 8785 writes as an integer (4.0, -0.0, within ±2**53)
    made that integer, so that a ruleset compiles exactly as it hashes: `4` and `4.0` have one
    canonical form, and so one meaning. Containers are copied only where something changes."""
    kind = type(value)
    if kind is float:
        if value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
            return int(value)
        return value
    if kind is dict:
        changed = {key: integral_as_int(item) for key, item in value.items()}
        same = all(changed[key] is item for key, item in value.items())
        return value if same else changed
    if kind is list:
        items = [integral_as_int(item) for item in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 canonical JSON of `value`, as UTF-8 bytes."""
    try:
        return _ENCODER.encode(_prepared(value)).encode("utf-8")
    except (_Unusual, UnicodeEncodeError):
        pass
    import rfc8785  # only values off the fast path need it

    try:
        return rfc8785.dumps(value)
    except rfc8785.IntegerDomainError:
        raise NotCanonical("an integer is outside ±2**53 and cannot be hashed exactly") from None
    except rfc8785.FloatDomainError:
        raise NotCanonical("a number is not finite and cannot be hashed") from None
    except (rfc8785.CanonicalizationError, ValueError, TypeError, UnicodeError):
        raise NotCanonical("a value cannot be written as canonical JSON") from None


def canonical_hash(value: Any) -> str:
    """`sha256:<hex>` of the canonical JSON of `value`."""
    return HASH_PREFIX + hashlib.sha256(canonical_json(value)).hexdigest()
