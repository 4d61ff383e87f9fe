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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.conftest import REPO

from recovery_screening import Ruleset, load_ruleset
from recovery_screening.interchange import to_questionnaire_response
from recovery_screening.interchange.server import create_app

SECRET = "SECRET-VALUE-42"
TIMEOUT = 20.0


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, str, Any]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method,
            headers={"Content-Type": "application/json"} if body is not None else {},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, response.headers["content-type"], json.load(response)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.headers["content-type"], json.load(error)

    def hook(self, service: str, body: Any) -> tuple[int, str, Any]:
        return self.request("POST", f"/cds-services/{service}", json.dumps(body).encode())


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(max_body_bytes=64 * 1024), log_config=None,
                            access_log=True, lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield Client(f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(TIMEOUT)
    sock.close()


def _applicant(name: str) -> dict[str, Any]:
    return json.loads((REPO / "examples" / "applicants" / name).read_text())


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
    assert template.startswith("QuestionnaireResponse?subject={{context.patientId}}")
    assert "Questionnaire/peer-support-intake" in template


@pytest.mark.parametrize(
    ("name", "indicator", "where"),
    [("admit.json", "info", "prefetch"), ("defer-does-not-want-group.json", "warning", "context"),
     ("refer-safety.json", "critical", "prefetch")],
)  # fmt: skip
def test_a_hook_call_per_outcome(client: Client, name: str, indicator: str, where: str) -> None:
    intake = load_ruleset("peer-support-intake")  # the newest version, which the service runs
    assert intake.version == "1.1.0"
    applicant = _applicant(f"intake-1.1/{name}")
    response = to_questionnaire_response(applicant, intake, subject="Patient/p1")
    status, _, body = client.hook("peer-support-intake", _hook_request(response, where=where))
    assert status == 200
    [card] = body["cards"]
    expected = intake.evaluate(applicant).to_cds_card(source=intake.title, subject="Patient/p1")
    assert card == expected
    assert card["indicator"] == indicator


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


@pytest.mark.parametrize(
    ("body", "field"),
    [({"hookInstance": "x", "context": {}}, "hook"),
     ({"hook": "patient-view", "hookInstance": "x"}, "context"),
     ({"hook": "patient-view", "hookInstance": "x", "context": {}},
      "prefetch.questionnaireResponse"),
     (["not", "an", "object"], "$")],
)  # fmt: skip
def test_incomplete_hook_requests_name_the_field(client: Client, body: Any, field: str) -> None:
    status, problem = _problem(client, "/cds-services/peer-support-intake",
                               json.dumps(body).encode())  # fmt: skip
    assert status == 400
    assert [p["path"] for p in problem["problems"]] == [field]


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
        headers = {"Content-Type": "application/json"}
        path = "/cds-services/peer-support-intake"
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


def test_the_serve_command_answers_over_http(tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "recovery_screening.cli", "serve", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, body = client.request("GET", "/cds-services")
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "recovery-screening serve did not start"
                time.sleep(0.1)
        assert status == 200
        assert "peer-support-intake" in {service["id"] for service in body["services"]}
    finally:
        process.terminate()
        process.wait(TIMEOUT)
        log.close()
    assert "127.0.0.1" in (tmp_path / "serve.log").read_text()


def test_serve_without_the_server_extra_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['starlette'] = None\n"
        "from recovery_screening.cli import main\n"
        "sys.exit(main(['serve']))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2
    assert 'pip install "recovery-screening[server]"' in result.stderr
    assert "Traceback" not in result.stderr
