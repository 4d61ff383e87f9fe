"""Authentication of CDS Clients (EHRs) per CDS Hooks 2.0, with PyJWT.

Every hook call carries `Authorization: Bearer <JWT>` signed by the EHR. A token is accepted
only when all of these hold:

- its issuer (`iss`) is one of the configured trusted issuers, each with its own keys: a JWKS
  file read at start, or a JWKS URL (https, or http on loopback only) fetched when needed;
- its header names a key (`kid`) of that issuer and an algorithm (`alg`) from the allow-list
  (asymmetric signatures only: never `none`, never an HMAC that a public key could forge), and
  the key's own `alg`, when it declares one, is the same; the signature verifies with that key;
- `aud` is the URL of the service endpoint being called;
- `exp` and `iat` are present and the token is neither expired nor issued in the future, with a
  small clock skew allowed (`leeway`), and lives no longer than `max_lifetime`;
- `sub` (the client id) is present, and `jti` is a string not seen before for this issuer while
  a token carrying it could still be valid: a bounded replay cache remembers each `jti` until
  its token expires, and refuses new tokens (503) rather than forget live ones when full.

Refusals say which check failed, never a claim's value or the token itself.
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery_screening.errors import ScreeningError
from recovery_screening.interchange._extras import MissingExtra

try:
    import jwt
except ImportError:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("server", "PyJWT") from None

DEFAULT_ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)
"""Asymmetric signature algorithms accepted unless the allow-list is narrowed. CDS Hooks 2.0
asks services to support at least ES384 and RS384."""

LEEWAY_SECONDS = 30.0
MAX_LIFETIME_SECONDS = 300.0
REPLAY_CAPACITY = 100_000
MAX_JWKS_BYTES = 256 * 1024
JWKS_URL_TIMEOUT = 5.0
JWKS_REFRESH_SECONDS = 300.0
JWKS_MIN_REFETCH_SECONDS = 30.0
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti")


class ServiceConfigurationError(ScreeningError):
    """The CDS Hooks service cannot start with this configuration (names the setting)."""


class AuthenticationFailed(Exception):
    """A request's credentials were refused: an HTTP status (401, or 503 when the replay cache
    is full) and which check failed, without any value from the token."""

    def __init__(self, detail: str, status: int = 401) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def _is_loopback(hostname: str | None) -> bool:
    if hostname is None:
        return False
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _parse_jwks(data: bytes, where: str) -> list[dict[str, Any]]:
    if len(data) > MAX_JWKS_BYTES:
        raise ServiceConfigurationError(f"{where}: a JWKS larger than {MAX_JWKS_BYTES} bytes")
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ServiceConfigurationError(f"{where}: not a JSON Web Key Set (JSON)") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise ServiceConfigurationError(f"{where}: a JWKS needs a 'keys' list of objects")
    usable = [
        key
        for key in keys
        if isinstance(key.get("kid"), str)
        and key.get("use", "sig") == "sig"
        and key.get("kty") in ("RSA", "EC", "OKP")
        and "d" not in key  # a private key has no place in a trust store
    ]
    if not usable:
        raise ServiceConfigurationError(
            f"{where}: no usable public signing key (each needs a kid, kty RSA, EC or OKP, "
            "and use 'sig' if a use is given)"
        )
    return usable


class _KeySource:
    """One trusted issuer's keys: a JWKS file read once, or a JWKS URL fetched when needed."""

    def __init__(self, location: str, clock: Callable[[], float]) -> None:
        self.location = location
        self._clock = clock
        self._lock = threading.Lock()
        parsed = urllib.parse.urlsplit(location)
        self.url = location if parsed.scheme in ("http", "https") else None
        self._fetched_at = -float("inf")
        self._keys: list[dict[str, Any]] = []
        if self.url is None:
            path = Path(location)
            try:
                with path.open("rb") as handle:
                    data = handle.read(MAX_JWKS_BYTES + 1)
            except OSError as error:
                raise ServiceConfigurationError(
                    f"cannot read the JWKS file {location} ({error.strerror or 'unreadable'})"
                ) from None
            self._keys = _parse_jwks(data, location)
        elif parsed.scheme != "https" and not _is_loopback(parsed.hostname):
            raise ServiceConfigurationError(
                f"JWKS URL {location}: keys must be fetched over https (http only on loopback)"
            )

    def _fetch(self) -> None:
        assert self.url is not None
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=JWKS_URL_TIMEOUT) as response:
                data = response.read(MAX_JWKS_BYTES + 1)
            self._keys = _parse_jwks(data, self.url)
        except (OSError, ServiceConfigurationError):
            # keep the keys fetched before, if any; a key not among them is refused
            pass
        self._fetched_at = self._clock()

    def keys(self, kid: str) -> list[dict[str, Any]]:
        """The JWKs with this key id (refetching a URL when stale, or when the id is unknown
        and the last fetch is not too recent)."""
        if self.url is not None:
            with self._lock:
                age = self._clock() - self._fetched_at
                known = any(key["kid"] == kid for key in self._keys)
                if age > JWKS_REFRESH_SECONDS or (not known and age > JWKS_MIN_REFETCH_SECONDS):
                    self._fetch()
        return [key for key in self._keys if key["kid"] == kid]


class _ReplayCache:
    """(issuer, jti) pairs of tokens that could still be valid, each kept until its expiry."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def remember(self, key: tuple[str, str], expires: float, now: float) -> None:
        with self._lock:
            while self._heap and self._heap[0][0] < now:
                _, old = heapq.heappop(self._heap)
                self._expiry.pop(old, None)
            if key in self._expiry:
                raise AuthenticationFailed("the token was used before (jti)")
            if len(self._expiry) >= self.capacity:
                raise AuthenticationFailed(
                    "too many live tokens to remember; retry shortly", status=503
                )
            self._expiry[key] = expires
            heapq.heappush(self._heap, (expires, key))

    def __len__(self) -> int:
        return len(self._expiry)


@dataclass(frozen=True)
class TrustedIssuer:
    """An EHR whose tokens the service accepts: its `iss` and its JWKS (a file or a URL)."""

    issuer: str
    jwks: str


@dataclass
class Authenticator:
    """Verifies CDS Hooks 2.0 bearer tokens against the trusted issuers (module docstring)."""

    issuers: Sequence[TrustedIssuer]
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS
    leeway: float = LEEWAY_SECONDS
    max_lifetime: float = MAX_LIFETIME_SECONDS
    replay_capacity: int = REPLAY_CAPACITY
    clock: Callable[[], float] = time.time
    _sources: dict[str, _KeySource] = field(init=False, repr=False)
    _replays: _ReplayCache = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.issuers:
            raise ServiceConfigurationError("no trusted issuer is configured")
        unknown = [a for a in self.algorithms if a not in DEFAULT_ALGORITHMS]
        if unknown or not self.algorithms:
            raise ServiceConfigurationError(
                "the algorithm allow-list may name only asymmetric signature algorithms: "
                + ", ".join(DEFAULT_ALGORITHMS)
            )
        if not 0 <= self.leeway <= 300 or not 0 < self.max_lifetime <= 3600:
            raise ServiceConfigurationError(
                "leeway must be 0-300 seconds and max_lifetime 1-3600 seconds"
            )
        self._sources = {}
        for trusted in self.issuers:
            if not trusted.issuer or trusted.issuer in self._sources:
                raise ServiceConfigurationError(
                    "each trusted issuer needs a distinct, non-empty iss"
                )
            self._sources[trusted.issuer] = _KeySource(trusted.jwks, self.clock)
        self._replays = _ReplayCache(self.replay_capacity)

    def verify(self, authorization: str | None, audience: str) -> Mapping[str, Any]:
        """The verified claims of the request's bearer token for the endpoint `audience`, or
        AuthenticationFailed saying which check failed."""
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationFailed("a bearer token is required (Authorization: Bearer)")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthenticationFailed("the bearer token is not a well-formed JWT") from None
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ", "JWT")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthenticationFailed("the token's algorithm (alg) is not allowed")
        if not isinstance(typ, str) or typ.upper() != "JWT":
            raise AuthenticationFailed("the token's type (typ) must be JWT")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("the token's header needs a key id (kid)")
        issuer = unverified.get("iss")
        source = self._sources.get(issuer) if isinstance(issuer, str) else None
        if source is None or not isinstance(issuer, str):
            raise AuthenticationFailed("the token's issuer (iss) is not trusted")
        keys = [key for key in source.keys(kid) if key.get("alg", alg) == alg]
        if not keys:
            raise AuthenticationFailed("the issuer has no key with this kid for this alg")
        claims = self._decode(token, keys, alg, issuer, audience)
        issued, expires = claims["iat"], claims["exp"]
        if not all(type(value) in (int, float) for value in (issued, expires)):
            raise AuthenticationFailed("the token's exp and iat must be numbers")
        if expires - issued > self.max_lifetime:
            raise AuthenticationFailed(
                f"the token lives longer than {int(self.max_lifetime)} seconds (exp - iat)"
            )
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti or not isinstance(claims["sub"], str):
            raise AuthenticationFailed("the token's jti and sub must be non-empty strings")
        self._replays.remember((issuer, jti), expires + self.leeway, self.clock())
        return claims

    def _decode(
        self, token: str, keys: Sequence[dict[str, Any]], alg: str, issuer: str, audience: str
    ) -> dict[str, Any]:
        failure = "the token's signature does not verify with the issuer's key"
        for key in keys:
            try:
                verifier = jwt.PyJWK(key, algorithm=alg)
            except jwt.PyJWTError:
                continue
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key=verifier,
                    algorithms=[alg],
                    audience=audience,
                    issuer=issuer,
                    leeway=self.leeway,
                    options={
                        "require": list(REQUIRED_CLAIMS),
                        "enforce_minimum_key_length": True,
                    },
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.ExpiredSignatureError:
                raise AuthenticationFailed("the token has expired (exp)") from None
            except jwt.ImmatureSignatureError:
                raise AuthenticationFailed("the token is not valid yet (iat or nbf)") from None
            except jwt.InvalidAudienceError:
                raise AuthenticationFailed(
                    "the token's audience (aud) is not this service's URL"
                ) from None
            except jwt.MissingRequiredClaimError as error:
                raise AuthenticationFailed(
                    f"the token lacks a required claim ({error.claim})"
                ) from None
            except jwt.PyJWTError:
                raise AuthenticationFailed("the token's claims are invalid") from None
            return claims
        raise AuthenticationFailed(failure)


__all__ = [
    "DEFAULT_ALGORITHMS",
    "AuthenticationFailed",
    "Authenticator",
    "ServiceConfigurationError",
    "TrustedIssuer",
]
