"""Per-call CPU cost of the catalog II pieces that run before any byte goes out: params unions,
Mustache templates, SigV4 signing and the ServiceNow JWT assertion. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/catalog2_overhead.py
"""

import os
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectors_project.settings")

import django

django.setup()

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from connectors import registry  # noqa: E402
from connectors.schemas import validate_object  # noqa: E402
from connectors.types.cases_webhook import CasesWebhookConnector, render  # noqa: E402
from connectors.types.servicenow.core import jwt_assertion  # noqa: E402


def measure(label: str, fn, runs: int = 2000) -> None:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    print(
        f"{label:<48} median {statistics.median(samples):8.1f} µs   "
        f"p95 {samples[int(len(samples) * 0.95)]:8.1f} µs   ({runs} runs)"
    )


def main() -> None:
    jira = registry.get(".jira")
    push = {
        "subAction": "pushToService",
        "subActionParams": {
            "incident": {"summary": "Disk full", "labels": ["disk", "prod"], "priority": "High"},
            "comments": [{"comment": "seen", "commentId": "1"}],
        },
    }
    measure("Jira pushToService params (8-way union)", lambda: validate_object(jira.params_schema, push))

    servicenow = registry.get(".servicenow")
    close = {"subAction": "closeIncident", "subActionParams": {"incident": {"correlation_id": "r:a"}}}
    measure(
        "ServiceNow closeIncident params (last of 6)",
        lambda: validate_object(servicenow.params_schema, close),
    )

    view = CasesWebhookConnector._case_view({"title": 'Disk "full"', "description": "d", "tags": ["a", "b"]})
    template = '{"fields": {"summary": {{{case.title}}}, "description": {{{case.description}}}, "labels": {{{case.tags}}}}}'
    measure("cases webhook JSON template render", lambda: render(template, view))

    credentials = Credentials("AKIDEXAMPLE", "secret")
    body = b'{"messages": [{"role": "user", "content": "Hello"}]}'

    def sign():
        request = AWSRequest(
            method="POST",
            url="https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude%3A0/invoke",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "*/*"},
        )
        SigV4Auth(credentials, "bedrock", "us-east-1").add_auth(request)

    measure("Bedrock SigV4 signature (botocore)", sign)

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    config = {"clientId": "c", "userIdentifierValue": "u", "jwtKeyId": "k"}
    measure(
        "ServiceNow RS256 JWT assertion (2048-bit key)",
        lambda: jwt_assertion(config, {"privateKey": pem}),
        300,
    )


if __name__ == "__main__":
    main()
