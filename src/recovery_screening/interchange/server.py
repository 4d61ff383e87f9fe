"""A CDS Hooks service: one service per screening ruleset, answering with one card per call.

`GET /cds-services` lists the services (hook `patient-view`, with a prefetch template for the
person's latest QuestionnaireResponse to the ruleset's Questionnaire). `POST /cds-services/{id}`
takes a hook request whose QuestionnaireResponse is in `prefetch.questionnaireResponse` (the
resource, or a search Bundle) or `context.questionnaireResponse`, and returns `{"cards": [...]}`.

What the service refuses (docs/security.md has the threat model, docs/interchange.md the
settings):
- a hook call without a valid CDS Hooks 2.0 bearer token from a trusted issuer (401; see
  `auth.py`); without any trusted issuer the app is not created unless `insecure_no_auth`, and
  then every start logs a warning;
- a `Host` header naming none of the configured names (400; DNS rebinding);
- a cross-origin browser read, unless its origin is configured (no `*`);
- a hook call whose content type is not JSON (415), so no page can send a "simple" request;
- a body over the size limit (413), or not received within the body deadline (408); a request
  head not received within the head deadline closes the connection;
- a request without the QuestionnaireResponse (412: this service does not query FHIR servers),
  or with an OperationOutcome instead (412); a `null` prefetch (the EHR has none) gets no card.

Bad requests get a JSON problem body (RFC 9457) naming the field, never its value. Nothing here
logs a request body: the access log is uvicorn's (request line and status only), and an
unexpected error is logged by its type alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_screening.errors import MissingExtra
from recovery_screening.interchange._extras import fhir_model

try:
    import h11
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
    from uvicorn.protocols.http.h11_impl import H11Protocol
except ImportError as missing:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("server", (missing.name or "starlette").split(".")[0]) from None

from recovery_screening.compiler import SCREENING_DATE
from recovery_screening.document.reader import parse_document_bytes
from recovery_screening.document.versions import list_rulesets
from recovery_screening.errors import (
    DocumentError,
    InvalidApplicant,
    Location,
    Problem,
    ScreeningError,
    json_path,
)
from recovery_screening.interchange.auth import (
    AuthenticationFailed,
    Authenticator,
    ServiceConfigurationError,
)
from recovery_screening.interchange.cds import to_cds_card
from recovery_screening.interchange.fhir_in import RESOURCE, from_questionnaire_response
from recovery_screening.interchange.questionnaire import form_spec, questionnaire_url
from recovery_screening.ruleset import Ruleset, load_ruleset, shipped_rulesets_directory

MAX_BODY_BYTES = 1024 * 1024
BODY_TIMEOUT_SECONDS = 10.0
"""A hook call's body must arrive within this many seconds of its head (else 408)."""
HEAD_TIMEOUT_SECONDS = 10.0
"""A request's line and headers must arrive within this many seconds (else the connection is
closed): uvicorn itself waits for them forever, so slow clients could hold every connection."""
CONCURRENCY_LIMIT = 64
"""Connections (and requests in flight) beyond which uvicorn answers 503."""
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
"""The Host names accepted when neither a public URL nor host names are configured."""
HOOK = "patient-view"
PREFETCH_KEY = "questionnaireResponse"
PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_HOOK_INSTANCE_NAMESPACE = uuid.UUID("0f6f1c52-3a43-4e0c-9d2c-7c8e51f1a8d4")
log = logging.getLogger("recovery_screening.server")


class RequestProblem(Exception):
    """A request the service cannot answer: an HTTP status and the problems, without values."""

    def __init__(self, status: int, detail: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = tuple(problems)


def problem_response(
    status: int,
    detail: str,
    problems: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in problems],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


@dataclass(frozen=True)
class Service:
    ruleset: Ruleset

    def discovery(self) -> dict[str, Any]:
        canonical = urllib.parse.quote(questionnaire_url(self.ruleset.id), safe=":/")
        return {
            "hook": HOOK,
            "id": self.ruleset.id,
            "title": self.ruleset.title,
            "description": (
                f"Screens with {self.ruleset.id} {self.ruleset.version} from the patient's latest "
                "QuestionnaireResponse to its Questionnaire and returns an explained "
                "admit / defer / refer card."
            ),
            "prefetch": {
                PREFETCH_KEY: f"QuestionnaireResponse?patient={{{{context.patientId}}}}"
                f"&questionnaire={canonical}&_sort=-authored&_count=1"
            },
        }


def load_services(rulesets_dir: str | Path | None = None) -> dict[str, Service]:
    """The newest version of every screening ruleset in the directory (default: shipped)."""
    directory = Path(rulesets_dir) if rulesets_dir is not None else shipped_rulesets_directory()
    services: dict[str, Service] = {}
    for ruleset_id in list_rulesets(directory):
        ruleset = load_ruleset(ruleset_id, rulesets_dir=directory)
        if ruleset.kind == "screening":
            services[ruleset.id] = Service(ruleset)
    return services


def _object(body: Mapping[str, Any], key: str, *, required: bool) -> Mapping[str, Any] | None:
    value = body.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, Mapping):
        raise RequestProblem(
            400,
            "the hook request is invalid",
            [
                Problem(
                    (key,),
                    "required" if value is None else "type",
                    "must be a JSON object",
                    REQUEST,
                )
            ],
        )
    return value


def _outcome_problem(where: Location) -> RequestProblem:
    return RequestProblem(
        412,
        "the EHR could not prefetch the QuestionnaireResponse",
        [
            Problem(
                where,
                "prefetch-failed",
                "an OperationOutcome came instead of a QuestionnaireResponse; "
                "this service does not query FHIR servers",
                REQUEST,
            )
        ],
    )


REQUEST = ""
"""The root of a location in a hook request: CDS Hooks names its members without a `$`
(`prefetch.questionnaireResponse`). Problems about the HTTP request itself are rooted at the
header or parameter they name (`Host`, `Content-Type`, `id`)."""


def _in_request(
    problem: Problem, where: Location, resource: Mapping[str, Any], ruleset: Ruleset
) -> Problem:
    """A problem of the QuestionnaireResponse found at `where`, placed in the hook request: a
    problem of the resource (or the count of those not listed) at its place in the resource, a
    problem of an answer read from it at the item that gave that answer."""
    if problem.root == RESOURCE or not problem.location:
        return Problem((*where, *problem.location), problem.code, problem.message, REQUEST)
    place = _answer_place(problem.location, resource, ruleset)
    if place is None:  # not found as an item: name the answer, at the resource
        message = f"{json_path(problem.location, '')}: {problem.message}"
        return Problem(where, problem.code, message, REQUEST)
    return Problem((*where, *place), problem.code, problem.message, REQUEST)


def _answer_place(
    location: Location, resource: Mapping[str, Any], ruleset: Ruleset
) -> Location | None:
    """Where in the QuestionnaireResponse the applicant's answer at `location` (`name`, or
    `alias.item`) was read from: the item with its linkId (`authored` for the screening date);
    None when no item gives it."""
    inputs = ruleset.compiled.inputs
    if len(location) == 1:
        field = inputs.top.get(str(location[0]))
        if field is not None and field.reserved:
            return ("authored",) if field.name == SCREENING_DATE else None
    elif len(location) == 2:
        field = inputs.groups.get(str(location[0]), {}).get(str(location[1]))
    else:
        field = None
    if field is None:
        return None
    link_ids = {link_id for link_id, spec in form_spec(ruleset).by_link_id.items()
                if spec.field.name == field.name}  # fmt: skip
    return _item_with(resource.get("item"), ("item",), link_ids)


def _item_with(items: Any, path: Location, link_ids: set[str]) -> Location | None:
    """The place of the first item (at any depth, also under answers) with one of `link_ids`."""
    if not isinstance(items, list):
        return None
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            continue
        if item.get("linkId") in link_ids:
            return (*path, index)
        found = _item_with(item.get("item"), (*path, index, "item"), link_ids)
        answers = item.get("answer")
        for answer_index, answer in enumerate(answers if isinstance(answers, list) else []):
            if found is None and isinstance(answer, Mapping):
                nested = (*path, index, "answer", answer_index, "item")
                found = _item_with(answer.get("item"), nested, link_ids)
        if found is not None:
            return found
    return None


def _failed(outcome: Mapping[str, Any]) -> bool:
    """Whether an OperationOutcome reports an error (a search's warnings do not count)."""
    issues = outcome.get("issue")
    return not isinstance(issues, list) or any(
        not isinstance(issue, Mapping) or issue.get("severity") in ("error", "fatal", None)
        for issue in issues
    )


def _questionnaire_response(
    body: Mapping[str, Any],
) -> tuple[Location, Mapping[str, Any] | None]:
    """Where the QuestionnaireResponse is and the resource (None: the EHR has none to send)."""
    prefetch = _object(body, "prefetch", required=False) or {}
    context = _object(body, "context", required=True) or {}
    if prefetch.get(PREFETCH_KEY) is not None:
        where: Location = ("prefetch", PREFETCH_KEY)
        resource = prefetch[PREFETCH_KEY]
    elif context.get(PREFETCH_KEY) is not None:
        where, resource = ("context", PREFETCH_KEY), context[PREFETCH_KEY]
    elif PREFETCH_KEY in prefetch:
        # CDS Hooks: a prefetch key whose value is null means the EHR has no such data
        return ("prefetch", PREFETCH_KEY), None
    else:
        fhir_server = body.get("fhirServer")
        raise RequestProblem(
            412,
            "the hook request carries no QuestionnaireResponse",
            [
                Problem(
                    ("prefetch", PREFETCH_KEY),
                    "prefetch-missing",
                    "a QuestionnaireResponse (or a search Bundle of one) is required here or "
                    f"in context.{PREFETCH_KEY}; this service does not query FHIR servers"
                    + (", so fhirServer is not used" if fhir_server is not None else ""),
                    REQUEST,
                )
            ],
        )
    if not isinstance(resource, Mapping):
        raise RequestProblem(
            400,
            "the hook request is invalid",
            [Problem(where, "type", "must be a FHIR resource (JSON object)", REQUEST)],
        )
    if resource.get("resourceType") == "OperationOutcome":
        raise _outcome_problem(where)
    if resource.get("resourceType") == "Bundle":
        return _from_bundle(resource, where)
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise RequestProblem(
            400,
            "the hook request carries the wrong resource type",
            [
                Problem(
                    (*where, "resourceType"),
                    "wrong-resource-type",
                    "must be QuestionnaireResponse (or a Bundle of them)",
                    REQUEST,
                )
            ],
        )
    return where, resource


def _from_bundle(
    bundle: Mapping[str, Any], where: Location
) -> tuple[Location, Mapping[str, Any] | None]:
    """The first QuestionnaireResponse of a search Bundle (None: the search found none)."""
    entries = bundle.get("entry")
    found: list[Mapping[str, Any]] = []
    failed = False
    for entry in entries if isinstance(entries, list) else []:
        inner = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(inner, Mapping):
            continue
        if inner.get("resourceType") == "QuestionnaireResponse":
            found.append(inner)
        elif inner.get("resourceType") == "OperationOutcome" and _failed(inner):
            failed = True
    if found:
        return (*where, "entry", 0, "resource"), found[0]
    if failed:
        raise _outcome_problem((*where, "entry"))
    return where, None


def _per_hook_instance(card: dict[str, Any], hook_instance: str) -> dict[str, Any]:
    """The card with its uuid, and its suggestions' uuids, derived from the hook instance too:
    the same decision shown in two hook calls is two cards (CDS Hooks: a card's uuid identifies
    it for feedback), while one call answered twice gives the same uuids (no randomness)."""

    def derive(identity: object) -> str:
        return str(uuid.uuid5(_HOOK_INSTANCE_NAMESPACE, json.dumps([hook_instance, identity])))

    card = {**card, "uuid": derive(card["uuid"])}
    if "suggestions" in card:
        card["suggestions"] = [
            {**suggestion, "uuid": derive(suggestion["uuid"])} for suggestion in card["suggestions"]
        ]
    return card


def answer_hook(service: Service, data: bytes) -> dict[str, Any]:
    """Parse and check a hook request, screen its QuestionnaireResponse, and build the card."""
    try:
        body = parse_document_bytes(data, "request body", yaml_syntax=False)
    except DocumentError as error:
        raise RequestProblem(400, "the request body is not valid JSON", error.problems) from None
    if not isinstance(body, Mapping):
        raise RequestProblem(
            400, "the hook request is invalid", [Problem((), "type", "must be a JSON object")]
        )
    for key in ("hook", "hookInstance"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise RequestProblem(
                400,
                "the hook request is invalid",
                [Problem((key,), "required", "must be a non-empty string", REQUEST)],
            )
    where, resource = _questionnaire_response(body)
    if resource is None:
        return {"cards": []}
    context = body["context"]
    try:
        applicant = from_questionnaire_response(resource, service.ruleset)
        decision = service.ruleset.evaluate(applicant)
    except InvalidApplicant as error:
        problems = [
            _in_request(problem, where, resource, service.ruleset) for problem in error.problems
        ]
        raise RequestProblem(400, str(error).splitlines()[0].rstrip(":"), problems) from None
    patient = context.get("patientId")
    subject = f"Patient/{patient}" if isinstance(patient, str) and patient else None
    card = to_cds_card(decision, source=service.ruleset.title, subject=subject)
    return {"cards": [_per_hook_instance(card, body["hookInstance"])]}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestProblem(413, f"the request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestProblem(413, f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_body_in_time(request: Request, limit: int, seconds: float) -> bytes:
    try:
        return await asyncio.wait_for(_read_body(request, limit), seconds)
    except asyncio.TimeoutError:
        raise RequestProblem(
            408, f"the request body did not arrive within {seconds:g} seconds"
        ) from None


def _is_json(content_type: str | None) -> bool:
    """application/json or application/<something>+json, with or without parameters."""
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _host_name(host: str) -> str:
    """The name in a Host header, without its port ("[::1]:80" -> "::1")."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class _TrustedHosts:
    """Refuses (400, a JSON problem) every request whose Host header names none of the
    configured names: a page on a rebound DNS name reaches the service only by its own name."""

    def __init__(self, app: ASGIApp, names: Iterable[str]) -> None:
        self.app = app
        self.names = frozenset(_host_name(name) for name in names)

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            hosts = [value for key, value in scope["headers"] if key == b"host"]
            name = _host_name(hosts[0].decode("latin-1")) if len(hosts) == 1 else None
            if name not in self.names:
                response = problem_response(
                    400,
                    "the Host header does not name this service",
                    [Problem((), "untrusted-host", "use one of the configured host names", "Host")],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _checked_configuration(
    authenticator: Authenticator | None,
    public_url: str | None,
    insecure_no_auth: bool,
    allowed_origins: Sequence[str],
    allowed_hosts: Sequence[str],
) -> tuple[str | None, list[str]]:
    """The public base URL and the Host names to accept; ServiceConfigurationError when the
    configuration would be unsafe."""
    if authenticator is None and not insecure_no_auth:
        raise ServiceConfigurationError(
            "no trusted issuer is configured: the service would answer anyone; configure "
            "the EHR's issuer and keys (serve --trust ISSUER JWKS --public-url URL), or pass "
            "--insecure-no-auth for a closed test network"
        )
    base = None
    if public_url is not None:
        parsed = urllib.parse.urlsplit(public_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ServiceConfigurationError("the public URL must be an http(s) URL with a host")
        if parsed.query or parsed.fragment:
            raise ServiceConfigurationError("the public URL takes no query or fragment")
        base = public_url.rstrip("/")
    elif authenticator is not None:
        raise ServiceConfigurationError(
            "the public URL is required with trusted issuers: each token's aud must be it "
            "(serve --public-url URL)"
        )
    if "*" in allowed_origins or "null" in allowed_origins:
        raise ServiceConfigurationError(
            "allowed origins must be named one by one (no '*' and no 'null')"
        )
    hosts = list(allowed_hosts)
    if base is not None:
        hosts.append(urllib.parse.urlsplit(base).hostname or "")
    return base, hosts or list(LOOPBACK_NAMES)


def _failure_response(error: Exception) -> Response:
    """The problem response for a failed hook call (500, logged by type only, if unexpected)."""
    if isinstance(error, AuthenticationFailed):
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if error.status == 503:
            headers = {"Retry-After": "5"}
        return problem_response(error.status, error.detail, headers=headers)
    if isinstance(error, RequestProblem):
        return problem_response(error.status, error.detail, error.problems)
    if isinstance(error, ScreeningError):
        return problem_response(400, str(error).splitlines()[0].rstrip(":"))
    log.error("hook call failed with %s", type(error).__name__)
    return problem_response(500, "the service failed to screen this request")


def create_app(
    rulesets_dir: str | Path | None = None,
    *,
    authenticator: Authenticator | None = None,
    public_url: str | None = None,
    insecure_no_auth: bool = False,
    allowed_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    body_timeout: float = BODY_TIMEOUT_SECONDS,
) -> Starlette:
    """The ASGI app serving every screening ruleset in `rulesets_dir` (default: shipped).

    `authenticator` verifies each hook call's bearer token, whose `aud` must be `public_url`
    (the base URL the EHR calls) + `/cds-services/<id>`. Without an authenticator the app is
    refused (ServiceConfigurationError) unless `insecure_no_auth`, and then a warning is logged.
    `allowed_origins`: the web origins a browser may read answers from (CORS; none by default,
    never `*`). `allowed_hosts`: the Host names accepted (default: the public URL's host, or
    loopback names when there is no public URL)."""
    base, hosts = _checked_configuration(
        authenticator, public_url, insecure_no_auth, allowed_origins, allowed_hosts
    )
    if authenticator is None:
        log.warning(
            "authentication is off (--insecure-no-auth): any client that reaches this "
            "service can submit answers and read decisions; use only on a closed test network"
        )
    fhir_model("QuestionnaireResponse")
    services = load_services(rulesets_dir)
    discovery = {"services": [service.discovery() for service in services.values()]}

    async def list_services(request: Request) -> Response:
        return JSONResponse(discovery)

    async def call_service(request: Request) -> Response:
        service_id = request.path_params["service_id"]
        service = services.get(service_id)
        try:
            if service is None:
                raise RequestProblem(
                    404,
                    "no CDS service has this id",
                    [Problem((), "unknown-service", "see GET /cds-services", "id")],
                )
            if authenticator is not None:
                audience = f"{base}/cds-services/{service_id}"
                authorization = request.headers.get("authorization")
                await run_in_threadpool(authenticator.verify, authorization, audience)
            if not _is_json(request.headers.get("content-type")):
                raise RequestProblem(
                    415,
                    "a hook call must be sent as application/json",
                    [Problem((), "unsupported-media-type", "use application/json", "Content-Type")],
                )
            data = await _read_body_in_time(request, max_body_bytes, body_timeout)
            answer = await run_in_threadpool(answer_hook, service, data)
        except Exception as error:
            return _failure_response(error)
        return JSONResponse(answer)

    async def http_error(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        return problem_response(status, _TITLES.get(status, "Error").lower())

    middleware = [Middleware(_TrustedHosts, names=hosts)]
    if allowed_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(allowed_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    return Starlette(
        routes=[
            Route("/cds-services", list_services, methods=["GET"]),
            Route("/cds-services/{service_id}", call_service, methods=["POST"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: http_error},
    )


class _DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head (request line and
    headers) has not fully arrived within `head_timeout` seconds of the connection, or of the
    previous response on a kept-alive connection. uvicorn alone waits for it forever, and
    every byte received restarts its keep-alive timer."""

    head_timeout = HEAD_TIMEOUT_SECONDS
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._cancel_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_overdue)

    def _cancel_head_deadline(self) -> None:
        deadline = self._head_deadline
        if deadline is not None:
            deadline.cancel()
            self._head_deadline = None

    def _head_overdue(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._cancel_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_deadline()
        super().connection_lost(exc)


def server_config(
    app: Starlette,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    head_timeout: float = HEAD_TIMEOUT_SECONDS,
    limit_concurrency: int = CONCURRENCY_LIMIT,
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for the app: the h11 protocol with a request-head deadline, a
    bound on concurrent connections, a short keep-alive, and no Server header."""
    protocol = type("DeadlineH11Protocol", (_DeadlineH11Protocol,), {"head_timeout": head_timeout})
    settings: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": protocol,
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive": 5,
        "server_header": False,
        "log_level": "info",
        **options,
    }
    return uvicorn.Config(app, **settings)


def serve(
    rulesets_dir: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    authenticator: Authenticator | None = None,
    public_url: str | None = None,
    insecure_no_auth: bool = False,
    allowed_origins: Sequence[str] = (),
    allowed_hosts: Sequence[str] = (),
) -> None:
    """Run the service with uvicorn until interrupted (see `create_app` for the settings)."""
    if not allowed_hosts and public_url is None:
        allowed_hosts = (*LOOPBACK_NAMES, host)
    app = create_app(
        rulesets_dir,
        authenticator=authenticator,
        public_url=public_url,
        insecure_no_auth=insecure_no_auth,
        allowed_origins=allowed_origins,
        allowed_hosts=allowed_hosts,
    )
    uvicorn.Server(server_config(app, host=host, port=port)).run()


__all__ = [
    "BODY_TIMEOUT_SECONDS",
    "HEAD_TIMEOUT_SECONDS",
    "MAX_BODY_BYTES",
    "answer_hook",
    "create_app",
    "load_services",
    "serve",
    "server_config",
]
