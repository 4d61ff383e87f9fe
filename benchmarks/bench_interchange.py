"""Median time per applicant of the FHIR and CDS Hooks steps, for the shipped intake ruleset.

    python benchmarks/bench_interchange.py [--cohort examples/cohort-1000.jsonl] [--count 200]

Needs the `server` extra. Prints medians in milliseconds per applicant for: QuestionnaireResponse
→ applicant (R4B validation included), the RiskAssessment, the CDS Hooks card, and a whole hook
call over HTTP on loopback (ES256 bearer token verified, JSON parsing, screening, card, response).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from recovery_screening import load_ruleset
from recovery_screening.interchange import (
    from_questionnaire_response,
    to_cds_card,
    to_fhir_risk_assessment,
    to_questionnaire_response,
)
from recovery_screening.interchange.auth import Authenticator, TrustedIssuer
from recovery_screening.interchange.server import create_app, server_config

ROOT = Path(__file__).resolve().parent.parent


def median_ms(step: Callable[[Any], object], items: list[Any]) -> float:
    step(items[0])
    samples = []
    for item in items:
        start = time.perf_counter()
        step(item)
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, default=ROOT / "examples" / "cohort-1000.jsonl")
    parser.add_argument("--count", type=int, default=200)
    arguments = parser.parse_args()
    ruleset = load_ruleset("peer-support-intake@1.0.0")
    with arguments.cohort.open() as lines:
        applicants = [json.loads(line) for line in islice(lines, arguments.count)]
    responses = [to_questionnaire_response(applicant, ruleset) for applicant in applicants]
    decisions = [ruleset.evaluate(applicant) for applicant in applicants]

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    issuer, key = "https://ehr.example.org", ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    keys = Path(tempfile.mkdtemp()) / "jwks.json"
    keys.write_text(json.dumps({"keys": [{**public, "kid": "k1"}]}))
    authenticator = Authenticator([TrustedIssuer(issuer, str(keys))])
    app = create_app(authenticator=authenticator, public_url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(server_config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}/cds-services/peer-support-intake"
    bodies = [
        json.dumps({"hook": "patient-view", "hookInstance": "bench", "context": {"patientId": "p"},
                    "prefetch": {"questionnaireResponse": response}}).encode()
        for response in responses
    ]  # fmt: skip

    def token() -> str:
        now = int(time.time())
        claims = {"iss": issuer, "sub": "bench", "aud": url, "iat": now, "exp": now + 300,
                  "jti": uuid.uuid4().hex}  # fmt: skip
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})

    def hook_call(body: bytes) -> object:
        request = urllib.request.Request(url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {token()}")  # signing takes ~0.1 ms
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read()

    results = {
        "QuestionnaireResponse -> applicant": median_ms(
            lambda response: from_questionnaire_response(response, ruleset), responses
        ),
        "RiskAssessment": median_ms(
            lambda decision: to_fhir_risk_assessment(decision, subject="Patient/p"), decisions
        ),
        "CDS Hooks card": median_ms(
            lambda decision: to_cds_card(decision, subject="Patient/p"), decisions
        ),
        "hook call over HTTP": median_ms(hook_call, bodies),
    }
    server.should_exit = True
    thread.join(10)
    print(f"{len(applicants)} applicants of {arguments.cohort.name}, median ms per applicant:")
    for name, value in results.items():
        print(f"  {name:<36} {value:8.2f}")


if __name__ == "__main__":
    main()
