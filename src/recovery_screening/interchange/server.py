"""A CDS Hooks service: one service per screening ruleset, answering with one card per call.

`GET /cds-services` lists the services (hook `patient-view`, with a prefetch template for the
person's latest QuestionnaireResponse to the ruleset's Questionnaire). `POST /cds-services/{id}`
takes a hook request whose QuestionnaireResponse is in `prefetch.questionnaireResponse` (the
resource, or a search Bundle) or `context.questionnaireResponse`, and returns `{"cards": [...]}`.

Bad requests get a JSON problem body (RFC 9457) naming the field, never its value; bodies over
the size limit get 413. Nothing here logs a request body: the access log is uvicorn's (request
line and status only), and an unexpected error is logged by its type alone.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recovery_screening.interchange._extras import MissingExtra, fhir_model

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route
except ImportError as missing:  # pragma: no cover - exercised only without the extra
    raise MissingExtra("server", (missing.name or "starlette").split(".")[0]) from None

from recovery_screening.document.reader import parse_document_bytes
from recovery_screening.document.versions import list_rulesets
from recovery_screening.errors import DocumentError, InvalidApplicant, Problem, ScreeningError
from recovery_screening.interchange.cds import to_cds_card
from recovery_screening.interchange.fhir_in import from_questionnaire_response
from recovery_screening.interchange.questionnaire import questionnaire_url
from recovery_screening.ruleset import Ruleset, load_ruleset, shipped_rulesets_directory

MAX_BODY_BYTES = 1024 * 1024
HOOK = "patient-view"
PREFETCH_KEY = "questionnaireResponse"
PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    500: "Internal Server Error",
}
log = logging.getLogger("recovery_screening.server")


class RequestProblem(Exception):
    """A request the service cannot answer: an HTTP status and the problems, without values."""

    def __init__(self, status: int, detail: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.problems = tuple(problems)


def problem_response(status: int, detail: str, problems: Sequence[Problem] = ()) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "problems": [{"path": p.path, "code": p.code, "message": p.message} for p in problems],
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


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
                PREFETCH_KEY: f"QuestionnaireResponse?subject={{{{context.patientId}}}}"
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
            [Problem(key, "required" if value is None else "type", "must be a JSON object")],
        )
    return value


def _questionnaire_response(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """Where the QuestionnaireResponse is and the resource (None: a search found none)."""
    prefetch = _object(body, "prefetch", required=False) or {}
    context = _object(body, "context", required=True) or {}
    if prefetch.get(PREFETCH_KEY) is not None:
        where, resource = f"prefetch.{PREFETCH_KEY}", prefetch[PREFETCH_KEY]
    elif context.get(PREFETCH_KEY) is not None:
        where, resource = f"context.{PREFETCH_KEY}", context[PREFETCH_KEY]
    else:
        raise RequestProblem(
            400,
            "the hook request carries no QuestionnaireResponse",
            [
                Problem(
                    f"prefetch.{PREFETCH_KEY}",
                    "required",
                    "a QuestionnaireResponse (or a search Bundle of one) is required here or "
                    f"in context.{PREFETCH_KEY}; this service does not query FHIR servers",
                )
            ],
        )
    if not isinstance(resource, Mapping):
        raise RequestProblem(
            400,
            "the hook request is invalid",
            [Problem(where, "type", "must be a FHIR resource (JSON object)")],
        )
    if resource.get("resourceType") == "Bundle":
        entries = resource.get("entry")
        found = [
            entry["resource"]
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, Mapping)
            and isinstance(entry.get("resource"), Mapping)
            and entry["resource"].get("resourceType") == "QuestionnaireResponse"
        ]
        if not found:
            return where, None
        return f"{where}.entry[0].resource", found[0]
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise RequestProblem(
            400,
            "the hook request carries the wrong resource type",
            [
                Problem(
                    f"{where}.resourceType",
                    "wrong-resource-type",
                    "must be QuestionnaireResponse (or a Bundle of them)",
                )
            ],
        )
    return where, resource


def answer_hook(service: Service, data: bytes) -> dict[str, Any]:
    """Parse and check a hook request, screen its QuestionnaireResponse, and build the card."""
    try:
        body = parse_document_bytes(data, "request body", yaml_syntax=False)
    except DocumentError as error:
        raise RequestProblem(400, "the request body is not valid JSON", error.problems) from None
    if not isinstance(body, Mapping):
        raise RequestProblem(
            400, "the hook request is invalid", [Problem("$", "type", "must be a JSON object")]
        )
    for key in ("hook", "hookInstance"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise RequestProblem(
                400,
                "the hook request is invalid",
                [Problem(key, "required", "must be a non-empty string")],
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
            Problem(where + p.path.removeprefix("QuestionnaireResponse"), p.code, p.message)
            for p in error.problems
        ]
        raise RequestProblem(400, str(error).splitlines()[0].rstrip(":"), problems) from None
    patient = context.get("patientId")
    subject = f"Patient/{patient}" if isinstance(patient, str) and patient else None
    card = to_cds_card(decision, source=service.ruleset.title, subject=subject)
    return {"cards": [card]}


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


def create_app(
    rulesets_dir: str | Path | None = None, *, max_body_bytes: int = MAX_BODY_BYTES
) -> Starlette:
    """The ASGI app serving every screening ruleset in `rulesets_dir` (default: shipped)."""
    fhir_model("QuestionnaireResponse")
    services = load_services(rulesets_dir)
    discovery = {"services": [service.discovery() for service in services.values()]}

    async def list_services(request: Request) -> Response:
        return JSONResponse(discovery)

    async def call_service(request: Request) -> Response:
        service = services.get(request.path_params["service_id"])
        try:
            if service is None:
                raise RequestProblem(
                    404,
                    "no CDS service has this id",
                    [Problem("id", "unknown-service", "see GET /cds-services")],
                )
            data = await _read_body(request, max_body_bytes)
            answer = await run_in_threadpool(answer_hook, service, data)
        except RequestProblem as problem:
            return problem_response(problem.status, problem.detail, problem.problems)
        except ScreeningError as error:
            return problem_response(400, str(error).splitlines()[0].rstrip(":"))
        except Exception as error:
            log.error("hook call failed with %s", type(error).__name__)
            return problem_response(500, "the service failed to screen this request")
        return JSONResponse(answer)

    async def http_error(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        return problem_response(status, _TITLES.get(status, "Error").lower())

    return Starlette(
        routes=[
            Route("/cds-services", list_services, methods=["GET"]),
            Route("/cds-services/{service_id}", call_service, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
            )
        ],
        exception_handlers={HTTPException: http_error},
    )


def serve(
    rulesets_dir: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8080
) -> None:
    """Run the service with uvicorn until interrupted."""
    app = create_app(rulesets_dir)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


__all__ = ["MAX_BODY_BYTES", "answer_hook", "create_app", "load_services", "serve"]
