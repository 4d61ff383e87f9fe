"""The CDS Hooks service over real HTTP on loopback: discovery, hook calls, and refusals."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.errors import MAX_PROBLEMS, Problem
from recovery_screening.interchange import to_cds_card, to_questionnaire_response
from recovery_screening.interchange.auth import Authenticator, TrustedIssuer
from recovery_screening.interchange.server import _in_request, create_app, server_config

SECRET = "SECRET-VALUE-42"
TIMEOUT = 20.0
ISSUER = "https://ehr.example.org"
KID = "ehr-key-1"
PRIVATE_KEY = ec.generate_private_key(ec.SECP256R1())


def public_jwk(private: Any, kid: str, **extra: Any) -> dict[str, Any]:
    key = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return {**key, "kid": kid, "use": "sig", **extra}


def write_jwks(directory: Path, *keys: dict[str, Any]) -> Path:
    path = directory / "ehr-jwks.json"
    path.write_text(json.dumps({"keys": list(keys)}), encoding="utf-8")
    return path


def make_token(audience: str | list[str], *, key: Any = PRIVATE_KEY, alg: str = "ES256",
               headers: dict[str, Any] | None = None, **claims: Any) -> str:  # fmt: skip
    now = int(time.time())
    payload = {"iss": ISSUER, "sub": "ehr-client", "aud": audience, "iat": now,
               "exp": now + 120, "jti": uuid.uuid4().hex, **claims}  # fmt: skip
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": KID, **(headers or {})})


class Client:
    def __init__(self, base: str, *, authenticate: bool = True) -> None:
        self.base = base
        self.authenticate = authenticate

    def request(
        self, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, Any]:  # fmt: skip
        sent = {"Content-Type": "application/json"} if body is not None else {}
        if self.authenticate and method == "POST":
            sent["Authorization"] = f"Bearer {make_token(self.base + path)}"
        sent.update(headers or {})
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, response.headers["content-type"], json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers["content-type"], json.load(error)

    def hook(self, service: str, body: Any, headers: dict[str, str] | None = None,
             ) -> tuple[int, str, Any]:  # fmt: skip
        data = json.dumps(body).encode()
        return self.request("POST", f"/cds-services/{service}", data, headers)


@contextmanager
def running(make_app: Callable[[str], Any], **config: Any) -> Iterator[str]:
    """A real server on a free loopback port, for the app `make_app(base_url)`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = {"log_config": None, "access_log": True, "lifespan": "off", **config}
    server = uvicorn.Server(server_config(make_app(base), **settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


@pytest.fixture(scope="module")
def jwks_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jwks(tmp_path_factory.mktemp("jwks"), public_jwk(PRIVATE_KEY, KID))


@pytest.fixture(scope="module")
def client(jwks_file: Path) -> Iterator[Client]:
    authenticator = Authenticator([TrustedIssuer(ISSUER, str(jwks_file))])

    def app(base: str) -> Any:
        return create_app(max_body_bytes=64 * 1024, authenticator=authenticator,
                          public_url=base, body_timeout=2.0)  # fmt: skip

    with running(app) as base:
        yield Client(base)


def _applicant(name: str) -> dict[str, Any]:
    applicant: dict[str, Any] = json.loads((REPO / "examples" / "applicants" / name).read_text())
    return applicant


def _hook_request(response: Any, *, where: str = "prefetch") -> dict[str, Any]:
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/u1", "patientId": "p1"},
    }
    if where == "prefetch":
        body["prefetch"] = {"questionnaireResponse": response}
    else:
        body["context"]["questionnaireResponse"] = response
    return body


def test_discovery_lists_each_screening_ruleset(client: Client) -> None:
    status, content_type, body = client.request("GET", "/cds-services")
    assert (status, content_type) == (200, "application/json")
    services = {service["id"]: service for service in body["services"]}
    assert {"peer-support-intake", "group-leader-readiness", "continuing-support"} <= set(services)
    assert "phq-9" not in services  # instruments are not screening services
    intake = services["peer-support-intake"]
    assert intake["hook"] == "patient-view"
    template = intake["prefetch"]["questionnaireResponse"]
    assert template.startswith("QuestionnaireResponse?patient={{context.patientId}}")
    assert "Questionnaire/peer-support-intake" in template


@pytest.mark.parametrize(
    ("name", "indicator", "where"),
    [("admit.json", "info", "prefetch"), ("defer-does-not-want-group.json", "warning", "context"),
     ("refer-safety.json", "critical", "prefetch")],
)  # fmt: skip
def test_a_hook_call_per_outcome(client: Client, name: str, indicator: str, where: str) -> None:
    intake = load_ruleset("peer-support-intake")  # the newest version, which the service runs
    assert intake.version == "1.2.0"
    applicant = _applicant(f"intake-1.1/{name}")
    response = to_questionnaire_response(applicant, intake, subject="Patient/p1")
    status, _, body = client.hook("peer-support-intake", _hook_request(response, where=where))
    assert status == 200
    [card] = body["cards"]
    expected = to_cds_card(intake.evaluate(applicant), source=intake.title, subject="Patient/p1")
    assert without_uuids(card) == without_uuids(expected)
    assert card["indicator"] == indicator


def without_uuids(card: dict[str, Any]) -> dict[str, Any]:
    suggestions = [{**s, "uuid": None} for s in card.get("suggestions", [])]
    return {**card, "uuid": None, **({"suggestions": suggestions} if suggestions else {})}


def test_card_uuids_differ_between_hook_instances_and_repeat_within_one(
    client: Client, intake: Ruleset
) -> None:
    response = to_questionnaire_response(_applicant("refer-safety.json"), intake)
    cards = []
    for instance in ("instance-a", "instance-a", "instance-b"):
        request = {**_hook_request(response), "hookInstance": instance}
        status, _, body = client.hook("peer-support-intake", request)
        assert status == 200
        cards.append(body["cards"][0])
    assert cards[0] == cards[1]
    assert cards[0]["uuid"] != cards[2]["uuid"]
    assert without_uuids(cards[0]) == without_uuids(cards[2])
    first = {s["uuid"] for s in cards[0]["suggestions"]}
    assert first and first.isdisjoint(s["uuid"] for s in cards[2]["suggestions"])


def test_a_prefetched_search_bundle(client: Client, intake: Ruleset) -> None:
    response = to_questionnaire_response(_applicant("refer-withdrawal.json"), intake)
    bundle = {"resourceType": "Bundle", "type": "searchset",
              "entry": [{"resource": response}]}  # fmt: skip
    status, _, body = client.hook("peer-support-intake", _hook_request(bundle))
    assert status == 200
    assert body["cards"][0]["indicator"] == "critical"
    empty = {"resourceType": "Bundle", "type": "searchset", "total": 0}
    assert client.hook("peer-support-intake", _hook_request(empty))[::2] == (200, {"cards": []})


def _problem(client: Client, path: str, data: bytes) -> tuple[int, dict[str, Any]]:
    status, content_type, body = client.request("POST", path, data)
    assert content_type == "application/problem+json"
    assert SECRET not in json.dumps(body)
    assert body["status"] == status
    return status, body


def test_malformed_json(client: Client) -> None:
    data = b'{"hook": "patient-view", "note": "' + SECRET.encode() + b'",'
    status, body = _problem(client, "/cds-services/peer-support-intake", data)
    assert status == 400
    assert body["problems"]


def test_wrong_resource_type(client: Client) -> None:
    patient = {"resourceType": "Patient", "name": [{"text": SECRET}]}
    status, body = _problem(client, "/cds-services/peer-support-intake",
                            json.dumps(_hook_request(patient)).encode())  # fmt: skip
    assert status == 400
    assert [(p["path"], p["code"]) for p in body["problems"]] == [
        ("prefetch.questionnaireResponse.resourceType", "wrong-resource-type")
    ]


def test_a_contained_resource_of_an_unknown_type_is_a_bad_request(
    client: Client, intake: Ruleset
) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    response["contained"] = [{"resourceType": "X"}]
    status, body = _problem(client, "/cds-services/peer-support-intake",
                            json.dumps(_hook_request(response)).encode())  # fmt: skip
    assert status == 400
    assert [(p["path"], p["code"]) for p in body["problems"]] == [
        ("prefetch.questionnaireResponse.contained[0].resourceType", "unknown-resource-type")
    ]


def test_invalid_answers_name_the_link_id(client: Client, intake: Ruleset) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    response["item"].append({"linkId": "phq9", "item": [
        {"linkId": "phq9.q9", "answer": [{"valueString": SECRET}]}]})  # fmt: skip
    status, body = _problem(client, "/cds-services/peer-support-intake",
                            json.dumps(_hook_request(response)).encode())  # fmt: skip
    assert status == 400
    messages = [problem["message"] for problem in body["problems"]]
    assert any("linkId 'phq9.q9'" in message for message in messages)
    assert all(
        p["path"].startswith("prefetch.questionnaireResponse.item[") for p in body["problems"]
    )


def test_problems_past_the_limit_are_counted_at_the_resource(
    client: Client, intake: Ruleset
) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    response["item"] += [{"linkId": f"extra-{n}", "answer": [{"valueString": SECRET}]}
                         for n in range(MAX_PROBLEMS + 20)]  # fmt: skip
    status, body = _problem(client, "/cds-services/peer-support-intake",
                            json.dumps(_hook_request(response)).encode())  # fmt: skip
    assert status == 400
    paths = [p["path"] for p in body["problems"]]
    assert len(paths) == MAX_PROBLEMS + 1
    assert body["problems"][-1]["code"] == "more-problems"
    assert paths[-1] == "prefetch.questionnaireResponse"  # was "prefetch.questionnaireResponse$"
    assert all(path.startswith("prefetch.questionnaireResponse") for path in paths)
    assert not any("$" in path for path in paths)


def test_an_answer_refused_by_the_applicant_check_is_placed_at_its_item(intake: Ruleset) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    where = ("prefetch", "questionnaireResponse")
    index = next(i for i, item in enumerate(response["item"]) if item["linkId"] == "housing")
    answer = Problem(("housing",), "allowed-values", "allowed values are stable, unstable")
    assert _in_request(answer, where, response, intake).path == (
        f"prefetch.questionnaireResponse.item[{index}]"
    )
    item = Problem(("phq9", "q9"), "range", "must be between 0 and 3")
    placed = _in_request(item, where, response, intake).path
    assert placed.startswith("prefetch.questionnaireResponse.item[") and "$" not in placed
    unread = Problem(("not_an_item",), "unknown-field", "not an input")
    found = _in_request(unread, where, response, intake)
    assert (found.path, found.message) == (
        "prefetch.questionnaireResponse",
        "not_an_item: not an input",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [({"hookInstance": "x", "context": {}}, "hook"),
     ({"hook": "patient-view", "hookInstance": "x"}, "context"),
     (["not", "an", "object"], "$")],
)  # fmt: skip
def test_incomplete_hook_requests_name_the_field(client: Client, body: Any, field: str) -> None:
    status, problem = _problem(client, "/cds-services/peer-support-intake",
                               json.dumps(body).encode())  # fmt: skip
    assert status == 400
    assert [p["path"] for p in problem["problems"]] == [field]


BARE = {"hook": "patient-view", "hookInstance": "x", "context": {"patientId": "p1"}}


@pytest.mark.parametrize(
    "body",
    [BARE, {**BARE, "prefetch": {}}, {**BARE, "fhirServer": "https://ehr.example.org/fhir"}],
)
def test_a_missing_prefetch_is_a_failed_precondition(client: Client, body: Any) -> None:
    status, problem = _problem(client, "/cds-services/peer-support-intake",
                               json.dumps(body).encode())  # fmt: skip
    assert status == 412
    assert [(p["path"], p["code"]) for p in problem["problems"]] == [
        ("prefetch.questionnaireResponse", "prefetch-missing")
    ]


def test_a_null_prefetch_gets_no_card(client: Client) -> None:
    body = {**BARE, "prefetch": {"questionnaireResponse": None}}
    assert client.hook("peer-support-intake", body)[::2] == (200, {"cards": []})


OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "processing", "diagnostics": SECRET}],
}


@pytest.mark.parametrize(
    ("prefetched", "path"),
    [(OUTCOME, "prefetch.questionnaireResponse"),
     ({"resourceType": "Bundle", "type": "searchset",
       "entry": [{"resource": OUTCOME, "search": {"mode": "outcome"}}]},
      "prefetch.questionnaireResponse.entry")],
)  # fmt: skip
def test_an_operation_outcome_in_the_prefetch_is_a_failed_precondition(
    client: Client, prefetched: Any, path: str
) -> None:
    body = {**BARE, "prefetch": {"questionnaireResponse": prefetched}}
    status, problem = _problem(client, "/cds-services/peer-support-intake",
                               json.dumps(body).encode())  # fmt: skip
    assert status == 412
    assert [(p["path"], p["code"]) for p in problem["problems"]] == [(path, "prefetch-failed")]


def test_a_search_with_only_warnings_and_no_response_gets_no_card(client: Client) -> None:
    warning = {"resourceType": "OperationOutcome",
               "issue": [{"severity": "warning", "code": "informational"}]}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": warning}]}
    body = {**BARE, "prefetch": {"questionnaireResponse": bundle}}
    assert client.hook("peer-support-intake", body)[::2] == (200, {"cards": []})


def test_unknown_service_id(client: Client) -> None:
    status, body = _problem(client, "/cds-services/no-such-service", b"{}")
    assert status == 404
    assert body["problems"][0]["code"] == "unknown-service"


def test_oversized_body(client: Client) -> None:
    status, _ = _problem(client, "/cds-services/peer-support-intake", b" " * (64 * 1024 + 1))
    assert status == 413


def test_oversized_chunked_body_without_a_length(client: Client) -> None:
    host, port = client.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        chunks = iter([b" " * 32 * 1024] * 3)
        path = "/cds-services/peer-support-intake"
        headers = {"Content-Type": "application/json",
                   "Authorization": f"Bearer {make_token(client.base + path)}"}  # fmt: skip
        connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["status"] == 413
    finally:
        connection.close()


def test_wrong_method_gets_a_json_problem(client: Client) -> None:
    status, content_type, body = client.request("GET", "/cds-services/peer-support-intake")
    assert (status, content_type, body["status"]) == (405, "application/problem+json", 405)


def test_logs_carry_no_request_bodies(
    client: Client, intake: Ruleset, caplog: pytest.LogCaptureFixture
) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    response["item"].append({"linkId": "note", "answer": [{"valueString": SECRET}]})
    with caplog.at_level(logging.INFO):
        client.hook("peer-support-intake", _hook_request(response))
        client.request("POST", "/cds-services/peer-support-intake", SECRET.encode())
        deadline = time.monotonic() + TIMEOUT
        while len([r for r in caplog.records if r.name == "uvicorn.access"]) < 2:
            assert time.monotonic() < deadline, "no access log lines"
            time.sleep(0.02)
    access = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert any("POST /cds-services/peer-support-intake" in line for line in access)
    assert all(SECRET not in record.getMessage() for record in caplog.records)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve_command(tmp_path: Path, *options: str) -> Iterator[tuple[Client, Path]]:
    """`recovery-screening serve` in a subprocess on a free port, until the block ends."""
    port = _free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    command = [sys.executable, "-m", "recovery_screening.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, *(option.replace("{port}", str(port)) for option in options)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = client.request("GET", "/cds-services")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "recovery-screening serve did not start"
                time.sleep(0.1)
        assert status == 200
        yield client, log_path
    finally:
        process.terminate()
        process.wait(TIMEOUT)
        log.close()


def test_the_serve_command_answers_authenticated_calls_over_http(
    tmp_path: Path, jwks_file: Path, intake: Ruleset
) -> None:
    options = ["--trust", ISSUER, str(jwks_file), "--public-url", "http://127.0.0.1:{port}"]
    with serve_command(tmp_path, *options) as (client, log_path):
        status, _, body = client.request("GET", "/cds-services")
        assert "peer-support-intake" in {service["id"] for service in body["services"]}
        newest = load_ruleset("peer-support-intake")  # the version the service runs
        response = to_questionnaire_response(_applicant("intake-1.1/admit.json"), newest)
        status, _, body = client.hook("peer-support-intake", _hook_request(response))
        assert (status, body["cards"][0]["indicator"]) == (200, "info")
        anonymous = Client(client.base, authenticate=False)
        assert anonymous.hook("peer-support-intake", _hook_request(response))[0] == 401
    text = log_path.read_text()
    assert "127.0.0.1" in text
    assert "authentication is off" not in text


def test_the_serve_command_without_a_trusted_issuer_refuses_to_start() -> None:
    command = [sys.executable, "-m", "recovery_screening.cli", "serve", "--port", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "no trusted issuer is configured" in result.stderr
    assert "--insecure-no-auth" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_serve_command_without_auth_warns_on_start(tmp_path: Path, intake: Ruleset) -> None:
    with serve_command(tmp_path, "--insecure-no-auth") as (client, log_path):
        anonymous = Client(client.base, authenticate=False)
        response = to_questionnaire_response(_applicant("admit.json"), intake)
        assert anonymous.hook("peer-support-intake", _hook_request(response))[0] == 200
    assert "authentication is off (--insecure-no-auth)" in log_path.read_text()


def test_serve_without_the_server_extra_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from recovery_screening.cli import main\n"
        "sys.exit(main(['serve']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert 'pip install ".[server]"' in result.stderr
    assert "Traceback" not in result.stderr


# -- authentication (CDS Hooks 2.0 JWT) ------------------------------------------------------

SERVICE_PATH = "/cds-services/peer-support-intake"


def _call_with(client: Client, token: str | None, intake: Ruleset) -> tuple[int, Any, str | None]:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    request = urllib.request.Request(
        client.base + SERVICE_PATH, data=json.dumps(_hook_request(response)).encode(),
        method="POST", headers={"Content-Type": "application/json",
                                **({"Authorization": f"Bearer {token}"} if token else {})},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, json.load(answer), None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error), error.headers.get("www-authenticate")


def _unsigned(claims: dict[str, Any]) -> str:
    """A token with alg none (PyJWT refuses to verify these, and so must the service)."""
    unsigned_key: Any = None
    return jwt.encode(claims, unsigned_key, algorithm="none", headers={"kid": KID})


OTHER_KEY = ec.generate_private_key(ec.SECP256R1())


def _hs256(claims: dict[str, Any], secret: bytes) -> str:
    """A token MACed with the issuer's public key as an HMAC secret (the classic confusion)."""
    import base64
    import hashlib
    import hmac

    def part(value: Any) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part({"alg": "HS256", "typ": "JWT", "kid": KID}) + b"." + part(claims)
    mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def _forged_tokens(audience: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "ehr-client", "aud": audience, "iat": now,
              "exp": now + 120, "jti": uuid.uuid4().hex}  # fmt: skip
    public_pem = json.dumps(public_jwk(PRIVATE_KEY, KID))
    return {
        "no token": "",
        "not a JWT": "not-a-token",
        "alg none": _unsigned(claims),
        "HS256 with the public key as secret": _hs256(claims, public_pem.encode()),
        "another key under the trusted kid": make_token(audience, key=OTHER_KEY),
        "an unknown kid": make_token(audience, headers={"kid": "no-such-key"}),
        "no kid": jwt.encode(claims, PRIVATE_KEY, algorithm="ES256"),
        "an untrusted issuer": make_token(audience, iss="https://evil.example"),
        "another service's audience": make_token(audience.rsplit("/", 1)[0] + "/other"),
        "the discovery URL as audience": make_token(audience.rsplit("/", 1)[0]),
        "expired": make_token(audience, iat=now - 400, exp=now - 200),
        "issued in the future": make_token(audience, iat=now + 600, exp=now + 700),
        "living too long": make_token(audience, exp=now + 3600),
        "no jti": make_token(audience, jti=None),
        "no exp": make_token(audience, exp=None),
        "no sub": make_token(audience, sub=None),
        "a type other than JWT": make_token(audience, headers={"typ": "at+jwt"}),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_forged_tokens("https://x/cds-services/y")))
def test_every_unacceptable_token_is_refused(client: Client, intake: Ruleset, case: str) -> None:
    token = _forged_tokens(client.base + SERVICE_PATH)[case]
    status, body, challenge = _call_with(client, token or None, intake)
    assert (status, body["status"]) == (401, 401), case
    assert challenge is not None and challenge.startswith("Bearer")
    assert token[:20] not in json.dumps(body) or not token


def test_a_token_is_accepted_once(client: Client, intake: Ruleset) -> None:
    token = make_token(client.base + SERVICE_PATH)
    assert _call_with(client, token, intake)[0] == 200
    status, body, _ = _call_with(client, token, intake)
    assert status == 401
    assert "used before" in body["detail"]


def test_an_audience_list_naming_this_service_is_accepted(client: Client, intake: Ruleset) -> None:
    token = make_token(["https://elsewhere.example", client.base + SERVICE_PATH])
    assert _call_with(client, token, intake)[0] == 200


def test_the_replay_cache_is_bounded_and_never_forgets_a_live_token(jwks_file: Path) -> None:
    from recovery_screening.interchange.auth import AuthenticationFailed

    authenticator = Authenticator([TrustedIssuer(ISSUER, str(jwks_file))], replay_capacity=2)
    audience = "https://cds.example.org/cds-services/peer-support-intake"
    for _ in range(2):
        authenticator.verify(f"Bearer {make_token(audience)}", audience)
    with pytest.raises(AuthenticationFailed) as full:
        authenticator.verify(f"Bearer {make_token(audience)}", audience)
    assert full.value.status == 503
    # a token leaves the cache once it has expired (beyond the leeway), and not before
    now = [time.time()]
    spent = Authenticator([TrustedIssuer(ISSUER, str(jwks_file))], replay_capacity=1,
                          clock=lambda: now[0])  # fmt: skip
    first, second = make_token(audience), make_token(audience)
    spent.verify(f"Bearer {first}", audience)
    with pytest.raises(AuthenticationFailed):
        spent.verify(f"Bearer {second}", audience)
    now[0] += 1000
    spent.verify(f"Bearer {second}", audience)


@pytest.mark.parametrize(
    ("keys", "message"),
    [([], "no usable public signing key"),
     ([{**public_jwk(PRIVATE_KEY, KID), "d": "private"}], "no usable public signing key"),
     ([{**public_jwk(PRIVATE_KEY, KID), "use": "enc"}], "no usable public signing key")],
)  # fmt: skip
def test_unusable_jwks_files_are_refused_at_start(
    tmp_path: Path, keys: list[Any], message: str
) -> None:
    from recovery_screening.interchange.auth import ServiceConfigurationError

    with pytest.raises(ServiceConfigurationError, match=message):
        Authenticator([TrustedIssuer(ISSUER, str(write_jwks(tmp_path, *keys)))])


def test_bad_authentication_settings_are_refused(jwks_file: Path, tmp_path: Path) -> None:
    from recovery_screening.interchange.auth import ServiceConfigurationError

    trusted = [TrustedIssuer(ISSUER, str(jwks_file))]
    for algorithms in (["none"], ["HS256"], ["ES256", "none"], []):
        with pytest.raises(ServiceConfigurationError, match="algorithm"):
            Authenticator(trusted, algorithms=algorithms)
    with pytest.raises(ServiceConfigurationError, match="cannot read the JWKS file"):
        Authenticator([TrustedIssuer(ISSUER, str(tmp_path / "missing.json"))])
    with pytest.raises(ServiceConfigurationError, match="https"):
        Authenticator([TrustedIssuer(ISSUER, "http://keys.example.org/jwks.json")])
    with pytest.raises(ServiceConfigurationError, match="no trusted issuer"):
        Authenticator([])
    with pytest.raises(ServiceConfigurationError, match="no trusted issuer is configured"):
        create_app()
    with pytest.raises(ServiceConfigurationError, match="public URL is required"):
        create_app(authenticator=Authenticator(trusted))
    with pytest.raises(ServiceConfigurationError, match="one by one"):
        create_app(insecure_no_auth=True, allowed_origins=["*"])


def test_without_auth_every_app_start_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="recovery_screening.server"):
        create_app(insecure_no_auth=True)
        create_app(insecure_no_auth=True)
    warnings = [r for r in caplog.records if "authentication is off" in r.getMessage()]
    assert len(warnings) == 2


def test_keys_from_a_jwks_url(tmp_path: Path, intake: Ruleset) -> None:
    import http.server

    document = json.dumps({"keys": [public_jwk(PRIVATE_KEY, KID)]}).encode()
    fetched: list[str] = []

    class Keys(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args: Any) -> None:
            return None

    keys = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=keys.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{keys.server_address[1]}/jwks.json"
        authenticator = Authenticator([TrustedIssuer(ISSUER, url)])

        def app(base: str) -> Any:
            return create_app(authenticator=authenticator, public_url=base)

        with running(app) as base:
            client = Client(base)
            for _ in range(2):
                assert _call_with(client, make_token(base + SERVICE_PATH), intake)[0] == 200
            unknown = make_token(base + SERVICE_PATH, headers={"kid": "rotated-away"})
            assert _call_with(client, unknown, intake)[0] == 401
        assert fetched == ["/jwks.json"]  # cached: one fetch, and no refetch storm
    finally:
        keys.shutdown()
        keys.server_close()


# -- browsers, hosts and content types -------------------------------------------------------


def test_no_cross_origin_reads_by_default(client: Client) -> None:
    headers = {"Origin": "https://evil.example"}
    request = urllib.request.Request(client.base + "/cds-services", headers=headers)
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.headers.get("access-control-allow-origin") is None
    preflight = urllib.request.Request(client.base + SERVICE_PATH, method="OPTIONS", headers={
        **headers, "Access-Control-Request-Method": "POST"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(preflight, timeout=TIMEOUT)
    with refused.value as error:
        assert error.headers.get("access-control-allow-origin") is None


def test_configured_origins_alone_may_read(jwks_file: Path) -> None:
    allowed = "https://app.example.org"

    def app(base: str) -> Any:
        return create_app(insecure_no_auth=True, allowed_origins=[allowed])

    with running(app) as base:
        for origin, expected in ((allowed, allowed), ("https://evil.example", None)):
            request = urllib.request.Request(base + "/cds-services", headers={"Origin": origin})
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                assert response.headers.get("access-control-allow-origin") == expected


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
     "multipart/form-data; boundary=x", "application/jsonp", "text/json"],
)  # fmt: skip
def test_hook_calls_that_are_not_json_are_refused(
    client: Client, intake: Ruleset, content_type: str | None
) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    headers = {"Authorization": f"Bearer {make_token(client.base + SERVICE_PATH)}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    host, port = client.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        connection.request("POST", SERVICE_PATH, json.dumps(_hook_request(response)), headers)
        answer = connection.getresponse()
        body = json.loads(answer.read())
        assert (answer.status, body["status"]) == (415, 415)
    finally:
        connection.close()


def test_json_with_a_charset_is_accepted(client: Client, intake: Ruleset) -> None:
    response = to_questionnaire_response(_applicant("admit.json"), intake)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert client.hook("peer-support-intake", _hook_request(response), headers)[0] == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example"])
def test_requests_naming_another_host_are_refused(client: Client, host: str) -> None:
    for method, path in (("GET", "/cds-services"), ("POST", SERVICE_PATH)):
        status, content_type, body = client.request(method, path, b"{}", {"Host": host})
        assert (status, content_type) == (400, "application/problem+json")
        assert body["problems"][0]["code"] == "untrusted-host"


def test_a_public_url_sets_the_accepted_host(jwks_file: Path) -> None:
    authenticator = Authenticator([TrustedIssuer(ISSUER, str(jwks_file))])

    def app(base: str) -> Any:
        return create_app(authenticator=authenticator, public_url="https://cds.example.org")

    with running(app) as base:
        client = Client(base)
        assert client.request("GET", "/cds-services")[0] == 400
        assert client.request("GET", "/cds-services", headers={"Host": "cds.example.org"})[0] == 200


# -- slow clients ----------------------------------------------------------------------------


def test_slow_clients_are_cut_off_and_others_still_served(intake: Ruleset) -> None:
    """A few clients trickle their request head or body a byte at a time: each is dropped (head)
    or answered 408 (body) within its deadline, and a normal call meanwhile gets its answer."""

    def app(base: str) -> Any:
        return create_app(insecure_no_auth=True, body_timeout=1.0)

    with running(app, head_timeout=1.0) as base:
        host, port = base.removeprefix("http://").split(":")
        heads = [socket.create_connection((host, int(port)), timeout=TIMEOUT) for _ in range(4)]
        bodies = [socket.create_connection((host, int(port)), timeout=TIMEOUT) for _ in range(2)]
        for sock in bodies:
            sock.sendall(
                f"POST {SERVICE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                "application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
            )
        started = time.monotonic()
        outcome: dict[int, bytes] = {}
        head = b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for sock in heads + bodies:
            sock.setblocking(False)
        index = 0
        while len(outcome) < len(heads) + len(bodies) and time.monotonic() - started < 15:
            for number, sock in enumerate(heads + bodies):
                if number in outcome:
                    continue
                try:
                    sock.send(head[index % len(head) : index % len(head) + 1] if number < len(
                        heads) else b" ")  # fmt: skip
                    received = sock.recv(65536)
                except BlockingIOError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    received = b""
                outcome[number] = received
            index += 1
            status, _, _ = Client(base, authenticate=False).request("GET", "/cds-services")
            assert status == 200
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        for sock in heads + bodies:
            sock.close()
    assert len(outcome) == len(heads) + len(bodies), "some slow clients were still held"
    assert elapsed < 10  # each deadline is 1 s; a loaded machine gets some slack
    assert all(outcome[number] == b"" for number in range(len(heads)))
    assert all(outcome[len(heads) + k].startswith(b"HTTP/1.1 408") for k in range(len(bodies)))
